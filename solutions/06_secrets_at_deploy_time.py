"""Notebook 06 · Secrets at deploy time: worked solutions."""

import base64
import secrets

import boto3

from helpers.exercises import (
    STRAVA_PARAM,
    Verdict,
    check_deploy_time_exposure,
    check_sealed_strava_secret,
)
from helpers.lab import Lab
from helpers.secrets.deploy_time import encryption_context


def deploy_time_exposure(lab: Lab) -> Verdict:
    """Sealed: a ciphertext; redacted log: masked; no redeploy: the old key; the start-up
    environment keeps the plaintext; a swapped ciphertext does not decrypt; an allow-list
    keeps the key from a child; no allow-list gives it away."""
    return check_deploy_time_exposure({1: "C", 2: "B", 3: "E", 4: "A", 5: "D", 6: "B", 7: "A"})


def sealed_strava_secret(lab: Lab) -> Verdict:
    """The agent decrypts each parameter under a context naming its app and that parameter,
    so the Strava secret is sealed under {"app": "fitness-agent", "param":
    "StravaClientSecret"}: sealed for WeatherApiKey it would be a swapped ciphertext, and
    KMS would refuse it. An environment variable holds text: base64 of the CiphertextBlob
    (what ``seal(kms, key_arn, "StravaClientSecret", strava_secret)`` does in one call)."""
    strava_secret = "strava-" + secrets.token_hex(16)
    kms = boto3.client("kms")  # the lab's KMS: start_lab exported its endpoint
    key = kms.create_key(Description="fitness-agent deploy-time parameters")
    key_arn = key["KeyMetadata"]["Arn"]
    blob = kms.encrypt(
        KeyId=key_arn,
        Plaintext=strava_secret.encode(),
        EncryptionContext=encryption_context(STRAVA_PARAM),
    )["CiphertextBlob"]
    return check_sealed_strava_secret(lab, base64.b64encode(blob).decode(), strava_secret)
