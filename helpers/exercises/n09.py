"""Check yourself, notebook 09 · Choosing a pattern."""

from __future__ import annotations

from .base import Verdict, check_lettered, show_lettered

__all__ = [
    "PATTERN_CHOICES",
    "PATTERN_SCENARIOS",
    "check_pattern_choices",
    "show_pattern_scenarios",
]


# Which way a secret should reach the agent (notebook 09).
PATTERN_CHOICES = {
    "A": "1 · deploy time: an environment variable, sealed with KMS",
    "B": "2 · a mounted volume that an operator keeps in sync",
    "C": "3 · a direct API call to the store, through a cache",
    "D": "none of the three: AgentCore Identity's token vault",
}
PATTERN_SCENARIOS = {
    "1": "An agent on AgentCore Runtime calls a weather API whose key is rotated every 30"
    " days; a rotation must reach the running agents without a redeploy.",
    "2": "A service on EKS reads a database password rotated every day; the team wants"
    " neither an AWS SDK nor a credential for the store in the app.",
    "3": "A Lambda function uses a partner's API key that changes once a year, always with a"
    " new release of the function.",
    "4": "The coach reads Alice's Strava activities with the OAuth token she granted it.",
    "5": "A nightly batch job is deployed afresh for every run and exits after five minutes.",
}
_PATTERN_KEY = {"1": "C", "2": "B", "3": "A", "4": "D", "5": "A"}


def show_pattern_scenarios() -> None:
    show_lettered(PATTERN_CHOICES, PATTERN_SCENARIOS)


def check_pattern_choices(answers: object) -> Verdict:
    """09: match each scenario to the way its secret should reach the agent (a letter each)."""
    return check_lettered(
        answers,
        _PATTERN_KEY,
        "You pick a pattern from whose secret it is, how it rotates and where the agent runs.",
        "whose secret is it, must a rotation reach a running agent, does the platform mount"
        " volumes?",
    )
