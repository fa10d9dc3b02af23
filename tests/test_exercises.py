"""The "check yourself" checkers accept right answers, refuse wrong ones, never raise."""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from conftest import rs256
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import exercises
from helpers.aws_mode import AwsMode
from helpers.lab import Lab

VERIFIER = "v" * 43
CHECKERS = [getattr(exercises, name) for name in dir(exercises) if name.startswith("check_")]


def test_issuer_checker(lab: Lab) -> None:
    assert exercises.check_issuer(lab, lab.urls.issuer)
    assert not exercises.check_issuer(lab, lab.urls.frontend)
    assert "Replace the placeholder" in repr(exercises.check_issuer(lab, None))


@pytest.mark.parametrize(
    ("verifier", "challenge", "ok"),
    [
        (VERIFIER, create_s256_code_challenge(VERIFIER), True),
        (VERIFIER, VERIFIER, False),  # "plain" is not S256
        ("short", create_s256_code_challenge("short"), False),  # RFC 7636: 43..128 chars
        (VERIFIER, create_s256_code_challenge(VERIFIER) + "=", False),  # no padding
        (42, "x", False),
    ],
)
def test_pkce_checker(verifier: object, challenge: object, ok: bool) -> None:
    assert bool(exercises.check_pkce_pair(verifier, challenge)) is ok


def test_leak_checker_needs_every_pairing_right() -> None:
    right = {
        "authorization code": "D",
        "id token": "B",
        "access token": "E",
        "refresh token": "A",
        "client secret": "c",
    }
    assert exercises.check_leak_costs(right)
    wrong = exercises.check_leak_costs({**right, "id token": "E"})
    assert not wrong and "id token" in repr(wrong)
    assert not exercises.check_leak_costs(["D", "B"])
    # each letter names a distinct outcome
    assert len(set(exercises.LEAK_CHOICES.values())) == len(exercises.LEAK_CHOICES)


# -- in AWS mode: no lab IdP, AgentCore or OpenBao in the kernel ----------------------------


def an_answer(kind: str, lab: Lab, key: rsa.RSAPrivateKey) -> object:
    """A non-placeholder answer: text, a dict, or an access token for Bob that looks real."""
    if kind == "jwt":
        now = int(time.time())
        claims = {"iss": lab.urls.issuer, "sub": "user-2-bob", "aud": "fitness-agent"}
        claims |= {"iat": now, "exp": now + 300, "jti": "j", "client_id": "fitness-frontend"}
        return rs256({"alg": "RS256", "typ": "at+jwt", "kid": "k"}, claims, key)
    return {"1": "A"} if kind == "dict" else "an answer"


@pytest.mark.parametrize("kind", ["text", "dict", "jwt"])
@pytest.mark.parametrize("checker", CHECKERS, ids=lambda checker: checker.__name__)
def test_in_aws_mode_every_checker_answers_one_line(
    lab: Lab, attacker_key: rsa.RSAPrivateKey, checker: Callable, kind: str
) -> None:
    in_aws_mode = copy.copy(lab)  # the kernel's lab in AWS mode: the app, nothing else
    in_aws_mode.idp = in_aws_mode.agentcore = in_aws_mode.openbao = None
    in_aws_mode.aws_mode = AwsMode(Path("aws-mode.toml"), None, 8400, {}, {})
    params = list(inspect.signature(checker).parameters)
    answers = [an_answer(kind, lab, attacker_key)] * (len(params) - (params[0] == "lab"))
    verdict = checker(*([in_aws_mode] if params[0] == "lab" else []), *answers)
    assert isinstance(verdict, exercises.Verdict) and not verdict
    assert "\n" not in repr(verdict)
