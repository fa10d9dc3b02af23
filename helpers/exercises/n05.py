"""Check yourself, notebook 05 · The request chain."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..jwt_check import decode_unverified
from .base import UNANSWERED, Verdict, check_lettered, hands_on, show_lettered, unanswered, verdict
from .n04 import fitness_api_refusal, judged_token

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = [
    "AUDIT_CLAIMS",
    "CHAIN_CHOICES",
    "CHAIN_SCENARIOS",
    "check_act_chain",
    "check_chain_outcomes",
    "check_exchanged_token",
    "show_audit_claims",
    "show_chain_scenarios",
]


# Where a token meets its end along the request chain (notebook 05).
CHAIN_CHOICES = {
    "A": "accepted: the call goes through",
    "B": "refused by the MCP runtime's front door: wrong audience",
    "C": "refused by the fitness API: wrong audience",
    "D": "refused by the identity provider: no such exchange",
    "E": "refused at the web app's return page: another user's consent, nothing stored",
}
CHAIN_SCENARIOS = {
    "1": "The coach sends Alice's own access token (aud fitness-agent) to the MCP runtime.",
    "2": "The MCP server sends the token it received (aud fitness-mcp) on to the fitness API.",
    "3": "The MCP server has AgentCore Identity exchange its token for aud fitness-api, scope"
    " activities:read, and calls the fitness API with the result.",
    "4": "The coach asks AgentCore Identity to exchange Alice's token for scope"
    " activities:write, which she never granted.",
    "5": "The coach asks AgentCore Identity for a token for payroll-api, an audience the"
    " identity provider does not know.",
    "6": "To read Stride, the MCP server asks AgentCore Identity to exchange its token for"
    " aud stride-api.",
    "7": "Bob opens the Stride consent URL the coach got for Alice, signs in at Stride as"
    " himself and allows.",
    "8": "Alice opens a Stride consent URL of her own in the browser where she is signed in"
    " at the frontend, allows, and asks the coach again.",
}
_CHAIN_KEY = {"1": "B", "2": "C", "3": "A", "4": "D", "5": "D", "6": "D", "7": "E", "8": "A"}


def show_chain_scenarios() -> None:
    show_lettered(CHAIN_CHOICES, CHAIN_SCENARIOS)


def check_chain_outcomes(answers: object) -> Verdict:
    """05: match each hop's token to where it is accepted or refused (a letter each)."""
    return check_lettered(
        answers,
        _CHAIN_KEY,
        "Each hop gets its own token, for one audience and no more scope than the user gave;"
        " a third party's token takes the user's own consent, bound to the user.",
        "whose audience is in the token, who is asked to widen it, and who signed in where?",
    )


# -- exercise 2: an on-behalf-of exchange, as the coach, for the fitness API ----------------
ALICE = "user-1-alice"
COACH = "fitness-agent"
FITNESS_API = "fitness-api"
_EXCHANGE_FORM = "the string in the accessToken field of the exchange's answer"


@hands_on
def check_exchanged_token(lab: Lab, token: object) -> Verdict:
    """05: exchange Alice's token, as the coach, for one the fitness API takes."""
    return judged_token(lab, token, _EXCHANGE_FORM, _judge_exchanged_token)


def _judge_exchanged_token(lab: Lab, token: str) -> Verdict:
    claims = decode_unverified(token)[1]
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if FITNESS_API not in audiences:
        return verdict(
            False,
            "",
            f"the token's aud is {aud!r}: the fitness API takes only tokens whose audience is"
            f" {FITNESS_API}. Name it as the exchange's audience.",
        )
    if len(audiences) > 1:
        return verdict(
            False,
            "",
            f"the token's aud is {aud!r}: more than the fitness API. One token per hop, one"
            " audience per token: an exchange names exactly one.",
        )
    refused = fitness_api_refusal(lab, token)
    if refused:
        return verdict(False, "", refused)
    if claims.get("sub") != ALICE:
        return verdict(
            False,
            "",
            f"this token acts for {claims.get('sub')!r}, not for Alice ({ALICE}): exchange a"
            " token of hers, with the coach's WAT for her (coach_wat).",
        )
    act = claims.get("act")
    if not isinstance(act, dict):
        return verdict(
            False,
            "",
            "the token has no act claim: it names nobody acting for Alice, as if the caller"
            " were Alice herself. Get it by an on-behalf-of exchange, as the coach.",
        )
    if act.get("sub") != COACH:
        return verdict(
            False,
            "",
            f"act names {act.get('sub')!r} as the actor, not the coach ({COACH}): exchange as"
            " the coach, with its WAT and its credential provider fitness-agent-obo.",
        )
    if "act" in act:
        return verdict(
            False,
            "",
            f"act nests an earlier actor ({act['act']!r}): this token went through more than one"
            " exchange. The coach exchanges Alice's own token, once, straight for the fitness API.",
        )
    scope = claims.get("scope")
    return verdict(
        scope == "activities:read",
        "One audience (the fitness API), Alice as sub, the coach in act: the API knows who"
        " asked, and through whom.",
        f"the token's scope is {scope!r}: ask for activities:read, what the fitness API needs,"
        " and nothing more.",
    )


# -- exercise 3: reading the act chain -------------------------------------------------------
# What the fitness API's audit log kept of one token it accepted, once the coach had a
# second agent (planner-agent) do the planning through the MCP server.
AUDIT_CLAIMS = {
    "sub": "user-2-bob",
    "aud": ["fitness-api"],
    "scope": "activities:read",
    "client_id": "fitness-mcp",
    "act": {"sub": "fitness-mcp", "act": {"sub": "planner-agent", "act": {"sub": COACH}}},
}
_CALL_ORDER = ["fitness-agent", "planner-agent", "fitness-mcp"]  # first caller first


def show_audit_claims() -> None:
    print(json.dumps(AUDIT_CLAIMS, indent=2))


def check_act_chain(actors: object) -> Verdict:
    """05: list the services a token passed through, first caller first, from its act claim."""
    if unanswered(actors):
        return UNANSWERED
    if not isinstance(actors, list | tuple) or not all(isinstance(a, str) for a in actors):
        return verdict(
            False, "", 'answer with a list of service names, e.g. ["first-caller", "next", ...].'
        )
    given = [a.strip().lower() for a in actors]
    if given == _CALL_ORDER:
        return verdict(
            True,
            "The outermost act is the last caller; each earlier one sits inside it. The API"
            " can log the whole chain, and a policy can refuse an agent it does not know.",
            "",
        )
    if AUDIT_CLAIMS["sub"] in given:
        return verdict(
            False,
            "",
            f"{AUDIT_CLAIMS['sub']} is the token's sub: the user the whole chain acts for, not"
            " a service that acted. List only the actors.",
        )
    if FITNESS_API in given:
        return verdict(
            False,
            "",
            f"{FITNESS_API} is the token's aud: the service that received it, not one that"
            " passed it on. List only the actors.",
        )
    strangers = [a for a in given if a not in _CALL_ORDER]
    if strangers:
        return verdict(
            False, "", f"{strangers[0]!r} is not an actor of this token: read the sub of each act."
        )
    if sorted(given) == sorted(_CALL_ORDER):
        return verdict(
            False,
            "",
            "the right services, in the wrong order: the outermost act is the current actor,"
            " the one that called the fitness API; earlier actors are nested inside it.",
        )
    return verdict(
        False,
        "",
        "some actors are missing or listed twice: an act can hold an act of its own; unwrap"
        " them all, one sub each.",
    )
