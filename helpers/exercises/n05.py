"""Check yourself, notebook 05 · The request chain."""

from __future__ import annotations

from .base import Verdict, check_lettered, show_lettered

__all__ = ["CHAIN_CHOICES", "CHAIN_SCENARIOS", "check_chain_outcomes", "show_chain_scenarios"]


# Where a token meets its end along the request chain (notebook 05).
CHAIN_CHOICES = {
    "A": "accepted: the call goes through",
    "B": "refused by the MCP runtime's front door: wrong audience",
    "C": "refused by the fitness API: wrong audience",
    "D": "refused by the identity provider: no such exchange",
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
}
_CHAIN_KEY = {"1": "B", "2": "C", "3": "A", "4": "D", "5": "D"}


def show_chain_scenarios() -> None:
    show_lettered(CHAIN_CHOICES, CHAIN_SCENARIOS)


def check_chain_outcomes(answers: object) -> Verdict:
    """05: match each hop's token to where it is accepted or refused (a letter each)."""
    return check_lettered(
        answers,
        _CHAIN_KEY,
        "Each hop gets its own token, for one audience and no more scope than the user gave.",
        "whose audience is in the token, and who is asked to widen it?",
    )
