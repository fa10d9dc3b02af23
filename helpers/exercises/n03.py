"""Check yourself, notebook 03 · Workload identities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..agentcore.errors import AwsError
from .base import (
    UNANSWERED,
    Verdict,
    hands_on,
    lacking,
    numbered_answers,
    unanswered,
    verdict,
)

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = [
    "WAT_SCENARIOS",
    "check_bob_wat",
    "check_wat_scenarios",
    "check_workload_identity",
    "show_wat_scenarios",
]


# Who may get a workload access token, and how (notebook 03).
WAT_SCENARIOS = {
    "1": "The runtime's execution role trades Alice's access token for a WAT of fitness-agent.",
    "2": "The runtime's execution role trades Alice's ID token for a WAT of fitness-agent.",
    "3": "The runtime's execution role asks for a WAT of another workload, billing-agent.",
    "4": "A partner app whose role may only InvokeAgentRuntime sends a runtime user id.",
    "5": "A backend whose role may InvokeAgentRuntimeForUser copies the user id from the"
    " request body into the runtime user id.",
    "6": "That backend does the same once the runtime has a JWT inbound authorizer.",
}
_WAT_KEY = {
    "1": "allowed",
    "2": "refused",
    "3": "refused",
    "4": "refused",
    "5": "allowed",
    "6": "refused",
}

# Exercise 2: the workload identity the learner creates, and the one return URL it allows
# (a path on the lab's frontend).
_NEW_WORKLOAD = "nutrition-agent"
_NEW_RETURN_PATH = "/nutrition/return"
# Exercise 3: the agent and the user the WAT must bind.
_AGENT, _BOB = "fitness-agent", "bob"


def show_wat_scenarios() -> None:
    for number, scenario in WAT_SCENARIOS.items():
        print(f"{number}. {scenario}")


def check_wat_scenarios(answers: object) -> Verdict:
    """03: for each scenario, does AgentCore Identity answer "allowed" or "refused"?"""
    if unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return verdict(False, "", 'Answer with a dict: scenario number → "allowed" or "refused".')
    given = numbered_answers(answers)
    wrong = sorted(n for n, outcome in _WAT_KEY.items() if given.get(n) != outcome)
    return verdict(
        not wrong,
        "Right. And 5 is the dangerous one: AgentCore allows it, because a signed call from a"
        " trusted backend is all it sees — the user id must come from that backend's own login;"
        " or, as in 6, from the user's own token, checked by the runtime's JWT authorizer.",
        f"look again at scenario{'s' if len(wrong) > 1 else ''} {', '.join(wrong)}"
        " (who signs the call, which token, which workload?)",
    )


def _not_a_string_answer(
    lab: Lab, answer: object, what: str, where: str, needs: tuple[str, ...] = ("agentcore",)
) -> Verdict | None:
    """The verdict for an answer that cannot be judged yet (or not in a lab without the
    parts it ``needs``); None when it can be."""
    if unanswered(answer):
        return UNANSWERED
    if (missing := lacking(lab, *needs)) is not None:
        return missing
    if not isinstance(answer, str):
        return verdict(False, "", f"give {what} as a string: the {where}.")
    return None


@hands_on
def check_workload_identity(lab: Lab, arn: object) -> Verdict:
    """03: create the workload identity nutrition-agent with one allowed return URL."""
    not_yet = _not_a_string_answer(lab, arn, "the ARN", "'workloadIdentityArn' of the response")
    if not_yet is not None:
        return not_yet
    directory = lab.agentcore.identity.directory
    try:
        created = directory.get("workload", _NEW_WORKLOAD)
    except AwsError:  # ResourceNotFoundException
        return verdict(
            False,
            "",
            f"the directory has no workload identity named {_NEW_WORKLOAD!r} yet: create it with"
            " control.create_workload_identity(...).",
        )
    urls = created.body.get("allowedResourceOauth2ReturnUrls", [])
    wanted = [lab.urls.frontend + _NEW_RETURN_PATH]
    if urls != wanted:
        found = f"its allowed return URLs are {urls}" if urls else "it allows no return URL"
        return verdict(
            False,
            "",
            f"{_NEW_WORKLOAD} exists, but {found}. It must allow exactly one, the frontend's"
            f" {_NEW_RETURN_PATH} page: AgentCore compares them as exact strings. Fix it with"
            " control.update_workload_identity(...).",
        )
    return verdict(
        arn == created.arn,
        f"{_NEW_WORKLOAD} is in the directory: a name, an ARN and one return URL — and no"
        " secret. IAM policies decide who may act as it.",
        f"{_NEW_WORKLOAD} is set up right, but that string is not its ARN: pass the"
        " 'workloadIdentityArn' of the create (or get) response.",
    )


@hands_on
def check_bob_wat(lab: Lab, wat: object) -> Verdict:
    """03: get a WAT that binds fitness-agent to Bob, from Bob's access token (6a)."""
    not_yet = _not_a_string_answer(
        lab, wat, "the WAT", "'workloadAccessToken' of the answer", ("agentcore", "idp")
    )
    if not_yet is not None:
        return not_yet
    try:
        workload = lab.agentcore.identity.data.tokens.verify(wat)
    except Exception:  # AwsError for a bad signature or an expired WAT; junk of any shape
        return verdict(
            False,
            "",
            "AgentCore Identity does not recognise this as a live WAT it issued (WATs live 15"
            " min): pass answer['workloadAccessToken'] from get_workload_access_token_for_jwt.",
        )
    if workload.name != _AGENT:
        return verdict(
            False,
            "",
            f"this WAT is for the workload {workload.name!r}: the coach is {_AGENT!r}"
            " (workloadName).",
        )
    if workload.user is None:
        return verdict(
            False,
            "",
            "this WAT is bound to no user (a machine-only WAT): give userToken, Bob's access"
            " token, to get_workload_access_token_for_jwt.",
        )
    if workload.user.startswith("id:"):
        return verdict(
            False,
            "",
            f"this WAT binds {workload.user!r}, a user id a caller vouched for (6b). Get it from"
            " Bob's access token instead (6a): get_workload_access_token_for_jwt.",
        )
    bob = lab.idp.store.user_by_name(_BOB)
    expected = f"jwt:{lab.urls.issuer}#{bob.user_id}" if bob else None
    return verdict(
        workload.user == expected,
        "fitness-agent acting for Bob, as AgentCore verified from his token at the lab IdP:"
        " issuer and subject, not just a name.",
        f"this WAT binds {workload.user!r}, not Bob: sign in as bob (bob-lab-password) at the"
        " frontend and use his access token as userToken.",
    )
