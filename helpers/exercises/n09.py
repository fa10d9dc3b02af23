"""Check yourself, notebook 09 · Choosing a pattern."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    UNANSWERED,
    Verdict,
    check_lettered,
    hands_on,
    lacking,
    show_lettered,
    unanswered,
    verdict,
)

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = [
    "PATTERN_CHOICES",
    "PATTERN_SCENARIOS",
    "ROTATION_SECRET",
    "check_pattern_choices",
    "check_rotation_delivered",
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


# -- a rotation, delivered by pattern 3 to the running agent ------------------------------

ROTATION_SECRET = "fitness/weather-api-key-rotated"  # the exercise's key in Secrets Manager


def _store_values(lab: Lab) -> tuple[str, list[str]]:
    """The key in the lab's Secrets Manager now, and every key it held before, as the
    store itself says."""
    from .. import aws

    sm = aws.client("secretsmanager", lab.agentcore.moto.url, aws.OPERATOR)
    current = sm.get_secret_value(SecretId=ROTATION_SECRET)  # first: it may not exist
    versions = sm.list_secret_version_ids(SecretId=ROTATION_SECRET, IncludeDeprecated=True)
    earlier = [
        sm.get_secret_value(SecretId=ROTATION_SECRET, VersionId=v["VersionId"])["SecretString"]
        for v in versions["Versions"]
        if v["VersionId"] != current["VersionId"]
    ]
    return current["SecretString"], earlier


@hands_on
def check_rotation_delivered(lab: Lab, delivered: object) -> Verdict:
    """09: rotate the key in the store and let pattern 3 deliver it to the running agent."""
    if unanswered(delivered):
        return UNANSWERED
    if not isinstance(delivered, str):
        return verdict(False, "", "pass the key as a string: what agent_key() returned.")
    if (missing := lacking(lab, "agentcore")) is not None:
        return missing
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        current, earlier = _store_values(lab)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return verdict(
                False,
                "",
                f"the lab's Secrets Manager holds no secret {ROTATION_SECRET}: run the setup"
                " cell above first, it puts the agent's first key there.",
            )
        code = exc.response["Error"]["Code"]
        return verdict(False, "", f"Secrets Manager did not answer the check ({code}).")
    except BotoCoreError as exc:
        return verdict(
            False, "", f"Secrets Manager did not answer the check ({type(exc).__name__})."
        )
    if delivered == current and not [key for key in earlier if key != current]:
        return verdict(
            False,
            "",
            "that is the key the agent started with: nothing has been rotated yet. Put a new"
            f" key in the store (sm.put_secret_value on {ROTATION_SECRET}, with a new_key()),"
            " then read through the agent again.",
        )
    if delivered != current and delivered in earlier:
        return verdict(
            False,
            "",
            "that key was rotated out of the store: the agent's cache served it still. Read"
            " through agent_key() again past the cache's TTL (0.25 s) — and remember that the"
            " first read past it serves the old key while one refresh runs (notebook 08).",
        )
    if delivered != current and "…" in delivered:
        return verdict(
            False,
            "",
            "that is a mask (a key's first and last characters), which no agent can use: pass"
            " the whole string that agent_key() returned after your rotation.",
        )
    return verdict(
        delivered == current,
        "The running agent uses the rotated key: pattern 3 delivered it within a TTL of the"
        " cache, with no redeploy and no operator.",
        f"that is no key the store has held under {ROTATION_SECRET}: pass the string that"
        " agent_key() returned after your rotation.",
    )
