"""Check yourself, notebook 06 · Secrets at deploy time."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from .. import aws
from ..secrets.deploy_time import APP, WEATHER_PARAM, encryption_context
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
    from botocore.client import BaseClient

    from ..lab import Lab

__all__ = [
    "DEPLOY_TIME_CHOICES",
    "DEPLOY_TIME_SCENARIOS",
    "STRAVA_PARAM",
    "check_deploy_time_exposure",
    "check_sealed_strava_secret",
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


# -- Exercise 2: seal a second parameter for the agent, under its own context -----------

STRAVA_PARAM = "StravaClientSecret"  # the template parameter the Strava secret is passed as

# Contexts a ciphertext is often sealed under by mistake, each with what is wrong with it.
_WRONG_CONTEXTS: list[tuple[dict[str, str], str]] = [
    (
        encryption_context(WEATHER_PARAM),
        f"it was sealed for the {WEATHER_PARAM} parameter. The agent opens each parameter"
        " under that parameter's own context, so it refuses this one, as it refused the"
        " swapped ciphertext: which parameter is the secret passed as?",
    ),
    (
        {},
        "it was sealed with no encryption context, and the agent always gives one: look at"
        " how section 2 sealed weather_key.",
    ),
    (
        {"app": APP},
        "its encryption context names the app but not the parameter, and the agent gives"
        " KMS both pairs.",
    ),
    (
        {"param": STRAVA_PARAM},
        "its encryption context names the parameter but not the app, and the agent gives"
        " KMS both pairs.",
    ),
    *[
        (
            encryption_context(name),
            f"its context names {name!r}, an environment variable. The context names the"
            " template parameter the value is passed as.",
        )
        for name in ("STRAVA_CLIENT_SECRET", "STRAVA_CLIENT_SECRET_KMS")
    ],
]
_FORM = "the base64 text of the KMS CiphertextBlob, as seal() returns it"


def _kms_of(lab: Lab) -> BaseClient:
    return aws.client("kms", lab.agentcore.moto.url, aws.OPERATOR, loader=lab.botocore_loader)


def _decrypt(kms: BaseClient, blob: bytes, context: dict[str, str]) -> bytes | None:
    """The plaintext, or None when KMS refuses (wrong context, altered or foreign blob)."""
    from botocore.exceptions import ClientError

    try:
        return kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]
    except ClientError:
        return None


def _why_refused(kms: BaseClient, blob: bytes) -> str:
    refused = f"KMS will not decrypt it under the agent's context for {STRAVA_PARAM}:"
    for context, what in _WRONG_CONTEXTS:
        if _decrypt(kms, blob, context) is not None:
            return f"{refused} {what}"
    return (
        f"{refused} check the app and the parameter you sealed it for (or it was altered,"
        " or sealed in another lab)."
    )


@hands_on
def check_sealed_strava_secret(lab: Lab, sealed: object, strava_secret: object) -> Verdict:
    """06: seal the Strava client secret with KMS for the StravaClientSecret parameter."""
    if unanswered(sealed):
        return UNANSWERED
    if not isinstance(strava_secret, str) or not strava_secret:
        return verdict(False, "", "pass strava_secret, made by the cell, as the third argument.")
    if (missing := lacking(lab, "agentcore")) is not None:
        return missing
    if isinstance(sealed, bytes | bytearray):
        return verdict(False, "", f"that is bytes; an environment variable holds text: {_FORM}.")
    if not isinstance(sealed, str) or not sealed.strip():
        return verdict(False, "", f"hand over a str: {_FORM}.")
    if sealed.strip() == strava_secret:
        return verdict(False, "", "that is the plaintext secret itself: encrypt it with KMS first.")
    try:
        blob = base64.b64decode(sealed.strip(), validate=True)
    except (binascii.Error, ValueError):
        return verdict(False, "", f"that is not base64 text: hand over {_FORM}.")
    try:
        kms = _kms_of(lab)
        plaintext = _decrypt(kms, blob, encryption_context(STRAVA_PARAM))
        if plaintext is None:
            return verdict(False, "", _why_refused(kms, blob))
    except Exception as exc:  # the lab's KMS unreachable (a stopped lab), or anything else
        why = f"the lab's KMS could not be asked ({type(exc).__name__}): is the lab running?"
        return verdict(False, "", why)
    return verdict(
        plaintext == strava_secret.encode(),
        f"The agent opens it under its context for {STRAVA_PARAM}, and only there: passed as"
        f" {WEATHER_PARAM} it would fail to deploy.",
        f"it opens under the agent's context for {STRAVA_PARAM}, but holds another value than"
        " strava_secret: seal the secret the cell made.",
    )
