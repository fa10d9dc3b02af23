"""Check yourself, notebook 04 · Outbound tokens and the vault."""

from __future__ import annotations

from .base import Verdict, check_lettered, show_lettered

__all__ = ["VAULT_CHOICES", "VAULT_SCENARIOS", "check_vault_outcomes", "show_vault_scenarios"]


# What GetResourceOauth2Token (or the return page) answers (notebook 04).
VAULT_CHOICES = {
    "A": "an access token, straight away",
    "B": "an authorization URL: a user must consent first",
    "C": "AccessDeniedException: nothing is handed out or stored",
}
VAULT_SCENARIOS = {
    "1": "M2M flow, with the agent's own WAT (no user).",
    "2": "USER_FEDERATION with Alice's WAT, before she ever consented.",
    "3": "USER_FEDERATION with Alice's WAT, after she consented.",
    "4": "USER_FEDERATION with Bob's WAT, after Alice (not Bob) consented.",
    "5": "Bob, signed in as himself, finishes the authorization URL of Alice's session.",
    "6": "USER_FEDERATION with Alice's WAT while the vault's KMS key is disabled.",
}
_VAULT_KEY = {"1": "A", "2": "B", "3": "A", "4": "B", "5": "C", "6": "C"}


def show_vault_scenarios() -> None:
    show_lettered(VAULT_CHOICES, VAULT_SCENARIOS)


def check_vault_outcomes(answers: object) -> Verdict:
    """04: match each scenario to what AgentCore Identity answers (a letter each)."""
    return check_lettered(
        answers,
        _VAULT_KEY,
        "You know what the vault hands out, to whom, and when it fails closed.",
        "a record belongs to one workload, one user and one provider",
    )
