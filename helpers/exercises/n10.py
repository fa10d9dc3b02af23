"""Check yourself, notebook 10 · MCP authorization."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..jwt_check import decode_unverified
from .base import UNANSWERED, Verdict, check_lettered, hands_on, show_lettered, unanswered, verdict

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = [
    "MCP_DEFENCES",
    "MCP_SCENARIOS",
    "check_bob_through_mcp",
    "check_mcp_defences",
    "show_mcp_scenarios",
]


# Which check stops each attempt (notebook 10).
MCP_DEFENCES = {
    "A": "the server it reaches checks the token's audience (the resource it was made for)",
    "B": "the MCP client compares iss in the authorization response with the IdP it asked",
    "C": "the MCP server trusts only the issuer of its own authorizer's discovery URL",
    "D": "PKCE: the code is worthless without the verifier only the client holds",
    "E": "the MCP server exchanges the token for the next hop; it never forwards it",
}
MCP_SCENARIOS = {
    "1": "A malicious MCP server that Alice also uses replays the token she sent it to the"
    " fitness MCP server.",
    "2": "A proxy rewrites the protected resource metadata so that it names the attacker's"
    " authorization server; Alice signs in there.",
    "3": "Malware on Alice's machine reads the authorization code off the redirect to the"
    " client's loopback address and redeems it first.",
    "4": "The attacker's own authorization server sends its code to the client's redirect"
    " URI while the client is waiting for the real IdP's.",
    "5": "The fitness API is called with the token Alice's MCP client holds.",
}
_DEFENCE_KEY = {"1": "A", "2": "C", "3": "D", "4": "B", "5": "A"}


def show_mcp_scenarios() -> None:
    show_lettered(MCP_DEFENCES, MCP_SCENARIOS)


def check_mcp_defences(answers: object) -> Verdict:
    """10: match each attempt to the check that stops it (a letter each)."""
    return check_lettered(
        answers,
        _DEFENCE_KEY,
        "Each check stops what it was made for: audience, issuer, iss, PKCE.",
        "who holds the token, who minted it, who answered, who holds the verifier?",
    )


# -- Bob's turn: the SDK's client, by discovery alone --------------------------------------

BOB = "user-2-bob"


@hands_on
def check_bob_through_mcp(lab: Lab, answer: object) -> Verdict:
    """10: log Bob in with the SDK's client and call list_activities as him."""
    if unanswered(answer):
        return UNANSWERED
    if not isinstance(answer, dict) or not isinstance(answer.get("tokens"), dict):
        return verdict(False, "", "pass called.structured_content, the tool's whole answer.")
    received = answer["tokens"].get("received") or {}
    if answer.get("body", {}).get("athlete") != BOB:
        return verdict(False, "", "these are not Bob's activities: sign in as bob.")
    if received.get("aud") != ["fitness-mcp"]:
        return verdict(False, "", "the MCP server got a token that is not bound to it.")
    issued = _issued_by_the_lab(lab, received.get("jti"))
    if issued is False:
        return verdict(False, "", "the lab's IdP never issued that token for Bob's login.")
    return verdict(
        True,
        "Bob's client registered itself, asked for the MCP server by URL, and got a token for it"
        " alone; the MCP server exchanged it for the fitness API.",
        "",
    )


def _issued_by_the_lab(lab: Lab, jti: object) -> bool | None:
    """Whether the lab IdP issued Bob an access token with ``jti`` for a resource (None in
    AWS mode: the provider's records are not the lab's to read)."""
    if lab.idp is None:
        return None
    bobs = [
        record.value
        for record in list(lab.idp.store.tokens.values())
        if record.kind == "access_token" and record.resource and record.user_id == BOB
    ]
    return any(decode_unverified(token)[1].get("jti") == jti for token in bobs)
