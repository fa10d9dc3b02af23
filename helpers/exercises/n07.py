"""Check yourself, notebook 07 · Secrets in a mounted volume."""

from __future__ import annotations

from .base import Verdict, check_lettered, show_lettered

__all__ = ["VOLUME_CHOICES", "VOLUME_SCENARIOS", "check_volume_reads", "show_volume_scenarios"]


# What an app reads from a secret volume the operator keeps in sync (notebook 07).
VOLUME_CHOICES = {
    "A": "the new value, on its next read, without a restart",
    "B": "the old value, until the pod is restarted",
    "C": "values from two versions at once (a torn read)",
    "D": "every key from one complete version",
    "E": "nothing: the platform mounts no secret volume",
}
VOLUME_SCENARIOS = {
    "1": "The app reads two keys through their top-level links, and the operator's swap"
    " lands between the two reads.",
    "2": "The app reads weather_api_key through its top-level link, once the operator has"
    " synced a rotation from the store.",
    "3": "The app reads a key mounted on its own, with subPath, after a rotation.",
    "4": "The app resolves ..data once, reads both keys from that directory and starts over"
    " on FileNotFoundError, while a swap lands.",
    "5": "An agent deployed on AgentCore Runtime looks for its key in a mounted volume.",
    "6": "The app read the file once at start-up into a global variable, and a rotation followed.",
}
_VOLUME_KEY = {"1": "C", "2": "A", "3": "B", "4": "D", "5": "E", "6": "B"}


def show_volume_scenarios() -> None:
    show_lettered(VOLUME_CHOICES, VOLUME_SCENARIOS)


def check_volume_reads(answers: object) -> Verdict:
    """07: match each scenario to what the app reads (a letter each)."""
    return check_lettered(
        answers,
        _VOLUME_KEY,
        "You know when a volume rotates for free, and the two ways to lose that.",
        "which path does each read go through, and when is it resolved?",
    )
