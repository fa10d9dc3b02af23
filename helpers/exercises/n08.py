"""Check yourself, notebook 08 · Secrets by direct API call."""

from __future__ import annotations

from .base import Verdict, check_lettered, show_lettered

__all__ = [
    "API_SECRET_CHOICES",
    "API_SECRET_SCENARIOS",
    "check_api_secret_handling",
    "show_api_secret_scenarios",
]


# What the agent's code should do, or gets, when it reads secrets by API call (notebook 08).
API_SECRET_CHOICES = {
    "A": "give up at once and say why: asking again changes nothing",
    "B": "the cached value, at once; a refresh is tried in the background",
    "C": "retry after a random sleep in [0, min(cap, base · 2ⁿ)]",
    "D": "the store's error: nothing is served past the hard TTL",
    "E": "the new key, with no change to the provider",
    "F": "HTTP 402 ServiceQuotaExceededException",
}
API_SECRET_SCENARIOS = {
    "1": "GetSecretValue answers ThrottlingException.",
    "2": "The agent reads secret/data/billing/stripe-key from OpenBao; its policy covers"
    " secret/data/fitness/*.",
    "3": "A cached key is past its TTL (60 s) and the store is up.",
    "4": "The store went down right after the cache fetched the key, four minutes ago;"
    " TTL 60 s, hard TTL 5 minutes.",
    "5": "The store is still down, six minutes after that fetch.",
    "6": "The MCP server's role calls GetResourceApiKey with the coach's WAT.",
    "7": "The Secrets Manager secret behind an EXTERNAL provider is rotated; then the agent"
    " calls GetResourceApiKey.",
    "8": "The account creates its 51st API-key credential provider in the Region.",
}
_API_SECRET_KEY = {"1": "C", "2": "A", "3": "B", "4": "B", "5": "D", "6": "A", "7": "E", "8": "F"}


def show_api_secret_scenarios() -> None:
    show_lettered(API_SECRET_CHOICES, API_SECRET_SCENARIOS)


def check_api_secret_handling(answers: object) -> Verdict:
    """08: match each scenario to what the agent should do or gets (a letter each)."""
    return check_lettered(
        answers,
        _API_SECRET_KEY,
        "You know which errors to retry, what a cache may still serve, and what the platform"
        " does for you.",
        "is the error permanent or transient, and how old is the cached value?",
    )
