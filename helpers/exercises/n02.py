"""Check yourself, notebook 02 · What a leak costs."""

from __future__ import annotations

from .base import UNANSWERED, Verdict, unanswered, verdict

__all__ = ["LEAK_CHOICES", "check_leak_costs", "show_leak_choices"]


# What a thief can do with each stolen credential (notebook 02), offered as lettered
# choices in an order that does not give the pairing away.
LEAK_CHOICES = {
    "A": "mint new access tokens until the family is revoked",
    "B": "learn who the user is, but call no API",
    "C": "act as the app until the secret is rotated by a redeploy",
    "D": "nothing without the client secret and the PKCE verifier",
    "E": "call the APIs in its audience until it expires",
}
_LEAK_KEY = {
    "authorization code": "D",
    "id token": "B",
    "access token": "E",
    "refresh token": "A",
    "client secret": "C",
}


def show_leak_choices() -> None:
    for letter, outcome in LEAK_CHOICES.items():
        print(f"{letter}. {outcome}")


def check_leak_costs(answers: object) -> Verdict:
    """02: match each credential to what its theft allows (a letter each)."""
    if unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return verdict(False, "", "Answer with a dict: credential name → letter.")
    given = {str(k).lower(): str(v).strip().upper() for k, v in answers.items()}
    wrong = sorted(k for k, letter in _LEAK_KEY.items() if given.get(k) != letter)
    return verdict(
        not wrong,
        "You know what each credential is worth to an attacker.",
        f"look again at: {', '.join(wrong)}",
    )
