"""Check yourself, notebook 06 · Secrets at deploy time."""

from __future__ import annotations

from .base import Verdict, check_lettered, show_lettered

__all__ = [
    "DEPLOY_TIME_CHOICES",
    "DEPLOY_TIME_SCENARIOS",
    "check_deploy_time_exposure",
    "show_deploy_time_scenarios",
]


# What ends up where when the weather API key is deployed as a variable (notebook 06).
DEPLOY_TIME_CHOICES = {
    "A": "the plaintext key",
    "B": "nothing usable: the key is absent, or masked",
    "C": "a KMS ciphertext: useless without kms:Decrypt under its encryption context",
    "D": "no key at all: the agent does not start, KMS refuses to decrypt",
    "E": "the old key, until the agent is redeployed",
}
DEPLOY_TIME_SCENARIOS = {
    "1": "Another process reads the start-up environment (/proc/<pid>/environ, ps eww) of"
    " the agent deployed with the sealed template (WEATHER_API_KEY_KMS).",
    "2": "Someone reads the log of the agent deployed with LogRedaction=1.",
    "3": "The running agent is asked for its key after a new key was set as the template's"
    " WeatherApiKey parameter.",
    "4": "Another process of the same user reads the start-up environment of the plaintext"
    ' agent, after it ran del os.environ["WEATHER_API_KEY"].',
    "5": "The sealed template is deployed with the ciphertext of StravaClientSecret as its"
    " WeatherApiKey parameter.",
    "6": 'A tool the plaintext agent runs with subprocess.run(cmd, env={"PATH": ...}).',
    "7": "A tool the plaintext agent runs with subprocess.run(cmd).",
}
_DEPLOY_TIME_KEY = {"1": "C", "2": "B", "3": "E", "4": "A", "5": "D", "6": "B", "7": "A"}


def show_deploy_time_scenarios() -> None:
    show_lettered(DEPLOY_TIME_CHOICES, DEPLOY_TIME_SCENARIOS)


def check_deploy_time_exposure(answers: object) -> Verdict:
    """06: match each scenario to what it yields of the key (a letter each)."""
    return check_lettered(
        answers,
        _DEPLOY_TIME_KEY,
        "You know where an environment variable goes, and what sealing and redeploying change.",
        "what does a process start with, who inherits it, and what is a ciphertext bound to?",
    )
