"""The "check yourself" checkers accept right answers, refuse wrong ones, never raise."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from helpers import exercises
from helpers.lab import Lab

VERIFIER = "v" * 43


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
