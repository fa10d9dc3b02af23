"""Notebook 06's checkers: the lettered exposure scenarios, and the hands-on sealing of a
second parameter, checked against the lab's own KMS."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from botocore.client import BaseClient

from helpers import aws, exercises
from helpers.exercises import STRAVA_PARAM, check_sealed_strava_secret
from helpers.lab import Lab
from helpers.secrets.deploy_time import APP, WEATHER_PARAM, encryption_context, seal

# -- exercise 1, lettered: in tests/test_exercises_lettered.py ----------------------


# -- Exercise 2: seal the Strava secret for its own parameter ----------------------------


@pytest.fixture(scope="module")
def kms_lab() -> Iterator[Lab]:
    lab = Lab(agentcore=True)
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def kms(kms_lab: Lab) -> BaseClient:
    return aws.client("kms", kms_lab.agentcore.moto.url, aws.OPERATOR)


@pytest.fixture(scope="module")
def key_arn(kms: BaseClient) -> str:
    return kms.create_key(Description="exercise 06 tests")["KeyMetadata"]["Arn"]


@pytest.fixture
def strava_secret() -> str:
    return "strava-" + secrets.token_hex(16)


def sealed_under(kms: BaseClient, key_arn: str, value: str, context: dict[str, str]) -> str:
    blob = kms.encrypt(KeyId=key_arn, Plaintext=value.encode(), EncryptionContext=context)
    return base64.b64encode(blob["CiphertextBlob"]).decode()


def test_sealing_is_a_hands_on_exercise() -> None:
    assert check_sealed_strava_secret.hands_on is True


def test_sealed_for_its_own_parameter_passes(
    kms_lab: Lab, kms: BaseClient, key_arn: str, strava_secret: str
) -> None:
    verdict = check_sealed_strava_secret(
        kms_lab, seal(kms, key_arn, STRAVA_PARAM, strava_secret), strava_secret
    )
    assert verdict and STRAVA_PARAM in repr(verdict)
    by_hand = sealed_under(kms, key_arn, strava_secret, {"param": STRAVA_PARAM, "app": APP})
    assert check_sealed_strava_secret(kms_lab, f" {by_hand}\n", strava_secret)


@pytest.mark.parametrize(
    ("context", "named"),
    [
        (encryption_context(WEATHER_PARAM), f"sealed for the {WEATHER_PARAM} parameter"),
        ({}, "no encryption context"),
        ({"app": APP}, "names the app but not the parameter"),
        ({"param": STRAVA_PARAM}, "names the parameter but not the app"),
        (encryption_context("STRAVA_CLIENT_SECRET"), "'STRAVA_CLIENT_SECRET', an environment"),
        (encryption_context(STRAVA_PARAM, app="billing-agent"), "check the app and the parameter"),
    ],
)
def test_a_wrong_context_is_named(
    kms_lab: Lab,
    kms: BaseClient,
    key_arn: str,
    strava_secret: str,
    context: dict[str, str],
    named: str,
) -> None:
    verdict = check_sealed_strava_secret(
        kms_lab, sealed_under(kms, key_arn, strava_secret, context), strava_secret
    )
    assert not verdict and named in repr(verdict), verdict
    assert strava_secret not in repr(verdict)


def test_the_right_context_with_another_value_fails(
    kms_lab: Lab, kms: BaseClient, key_arn: str, strava_secret: str
) -> None:
    other = seal(kms, key_arn, STRAVA_PARAM, "strava-" + secrets.token_hex(16))
    verdict = check_sealed_strava_secret(kms_lab, other, strava_secret)
    assert not verdict and "another value than strava_secret" in repr(verdict)


def test_the_plaintext_or_the_raw_blob_is_not_the_answer(
    kms_lab: Lab, kms: BaseClient, key_arn: str, strava_secret: str
) -> None:
    plain = check_sealed_strava_secret(kms_lab, strava_secret, strava_secret)
    assert not plain and "plaintext" in repr(plain) and strava_secret not in repr(plain)
    blob = kms.encrypt(
        KeyId=key_arn,
        Plaintext=strava_secret.encode(),
        EncryptionContext=encryption_context(STRAVA_PARAM),
    )["CiphertextBlob"]
    raw = check_sealed_strava_secret(kms_lab, blob, strava_secret)
    assert not raw and "that is bytes" in repr(raw)


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ("not base64 at all!", "not base64"),
        ("", "hand over a str"),
        (42, "hand over a str"),
        ({"sealed": [1, {2: None}]}, "hand over a str"),
        (["a", "b"], "hand over a str"),
        (base64.b64encode(b"garbage, no ciphertext").decode(), "will not decrypt it"),
    ],
    ids=repr,
)
def test_malformed_answers_fail_without_raising(
    kms_lab: Lab, strava_secret: str, answer: object, named: str
) -> None:
    verdict = check_sealed_strava_secret(kms_lab, answer, strava_secret)
    assert isinstance(verdict, exercises.Verdict) and not verdict
    assert named in repr(verdict), verdict


@pytest.mark.parametrize("answer", [None, ...])
def test_sealing_placeholder_is_unanswered(kms_lab: Lab, answer: object) -> None:
    assert check_sealed_strava_secret(kms_lab, answer, "strava-x") is exercises.UNANSWERED


@pytest.mark.parametrize("secret", [None, 42, ""])
def test_a_missing_secret_argument_is_explained(kms_lab: Lab, secret: object) -> None:
    verdict = check_sealed_strava_secret(kms_lab, "c2VhbGVk", secret)
    assert not verdict and "third argument" in repr(verdict)


def test_a_lab_without_kms_is_explained() -> None:
    verdict = check_sealed_strava_secret(SimpleNamespace(agentcore=None), "c2VhbGVk", "s")
    assert not verdict and "agentcore=True" in repr(verdict)


def test_a_stopped_lab_is_explained_not_raised() -> None:
    lab = Lab(agentcore=True)
    kms = aws.client("kms", lab.agentcore.moto.url, aws.OPERATOR)
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    sealed = seal(kms, key_arn, STRAVA_PARAM, "strava-secret")
    lab.stop()
    verdict = check_sealed_strava_secret(lab, sealed, "strava-secret")
    assert not verdict and "is the lab running?" in repr(verdict)
