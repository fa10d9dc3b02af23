"""Notebook 02's checkers: what each leak costs, a refresh token revoked at the IdP, and
what bounds a stolen access token.

The hands-on checker is judged against the real lab: tokens from a real login, revoked
(or not) through the IdP's own revocation endpoint.
"""

from __future__ import annotations

import pytest
import requests
from conftest import TIMEOUT, frontend_auth, introspect, login_tokens, refresh

from helpers.exercises import (
    LEAK_CHOICES,
    UNANSWERED,
    check_access_limits,
    check_leak_costs,
    check_refresh_revoked,
)
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab

RIGHT_LEAKS = {
    "authorization code": "D",
    "id token": "B",
    "access token": "E",
    "refresh token": "A",
    "client secret": "C",
}
JUNK = [42, 4.2, True, "garbage", b"bytes", ["A", "B"], [["x", {"y": None}]], {"n": {"j": [...]}}]


def refused(result: object) -> str:
    """The hint of a refusal (and that it is one, not the placeholder message)."""
    assert result is not UNANSWERED and not result, result
    text = repr(result)
    assert text.startswith("❌ Not yet. Hint: ") and len(text) > len("❌ Not yet. Hint: ") + 20
    return text


def revoke(lab: Lab, token: str) -> None:
    """What the learner does: RFC 7009 at the IdP, authenticated as the frontend."""
    discovery = requests.get(lab.urls.discovery, timeout=TIMEOUT).json()
    resp = requests.post(
        discovery["revocation_endpoint"],
        data={"token": token, "token_type_hint": "refresh_token"},
        auth=frontend_auth(lab),
        timeout=TIMEOUT,
    )
    assert resp.status_code == 200, resp.text


# -- Exercise 1 · what each leak costs ------------------------------------------------------
def test_leak_costs_right_answer_passes_in_any_spelling() -> None:
    assert check_leak_costs(RIGHT_LEAKS).ok
    assert check_leak_costs({k.upper(): f" {v.lower()} " for k, v in RIGHT_LEAKS.items()}).ok


def test_leak_costs_wrong_answer_names_the_credentials() -> None:
    assert "id token" in refused(check_leak_costs({**RIGHT_LEAKS, "id token": "E"}))
    hint = refused(check_leak_costs({**RIGHT_LEAKS, "access token": "A", "refresh token": "E"}))
    assert "access token, refresh token" in hint and "id token" not in hint


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_leak_costs_malformed_answer_fails_without_raising(junk: object) -> None:
    assert refused(check_leak_costs(junk))


def test_leak_costs_junk_values_count_as_wrong() -> None:
    hint = refused(check_leak_costs({**RIGHT_LEAKS, "client secret": [["C"]], 7: {"x": None}}))
    assert "client secret" in hint


@pytest.mark.parametrize("placeholder", [None, ...])
def test_leak_costs_placeholder_is_unanswered(placeholder: object) -> None:
    assert check_leak_costs(placeholder) is UNANSWERED


def test_leak_choices_are_distinct_and_the_key_uses_each_once() -> None:
    assert len(set(LEAK_CHOICES.values())) == len(LEAK_CHOICES)
    assert sorted(RIGHT_LEAKS.values()) == sorted(LEAK_CHOICES)


# -- Exercise 2 · revoke a stolen refresh token (hands-on) -----------------------------------
def test_revoked_refresh_token_passes(lab: Lab) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    revoke(lab, stolen)
    answer = introspect(lab, stolen)
    assert answer == {"active": False}
    assert check_refresh_revoked(lab, stolen, answer).ok
    assert refresh(lab, stolen).json()["error"] == "invalid_grant"  # what the checker promises


def test_a_live_refresh_token_fails_whatever_the_answer_says(lab: Lab) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    hint = refused(check_refresh_revoked(lab, stolen, {"active": False}))
    assert "still holds this refresh token as live" in hint and "revocation_endpoint" in hint


def test_an_introspection_taken_before_the_revocation_fails(lab: Lab) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    before = introspect(lab, stolen)
    assert before["active"] is True
    revoke(lab, stolen)
    assert "after revoking" in refused(check_refresh_revoked(lab, stolen, before))


def test_a_refresh_token_spent_before_it_was_revoked_fails(lab: Lab) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    assert refresh(lab, stolen).status_code == 200  # the thief got new tokens from it
    revoke(lab, stolen)
    hint = refused(check_refresh_revoked(lab, stolen, introspect(lab, stolen)))
    assert "already spent on a refresh" in hint


def test_an_access_token_is_not_the_refresh_token(lab: Lab) -> None:
    access = login_tokens(lab)["access_token"]
    hint = refused(check_refresh_revoked(lab, access, {"active": False}))
    assert "not a refresh token this lab's IdP issued" in hint


def test_an_error_answer_is_not_an_introspection(lab: Lab) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    revoke(lab, stolen)
    wrong_client = requests.post(
        f"{lab.urls.issuer}/introspect",
        data={"token": stolen},
        auth=("fitness-frontend", "not-the-secret"),
        timeout=TIMEOUT,
    ).json()
    hint = refused(check_refresh_revoked(lab, stolen, wrong_client))
    assert "'invalid_client'" in hint and "introspection_endpoint" in hint


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"token": "x"}, "'active' member"),
        ({"active": "false"}, "JSON boolean"),
        ({"active": [False]}, "JSON boolean"),
    ],
)
def test_a_dict_that_is_no_introspection_answer_fails(lab: Lab, answer: dict, named: str) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    revoke(lab, stolen)
    assert named in refused(check_refresh_revoked(lab, stolen, answer))


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_refresh_revoked_malformed_answers_fail_without_raising(lab: Lab, junk: object) -> None:
    assert "not a refresh token" in refused(check_refresh_revoked(lab, junk, {"active": False}))
    stolen = login_tokens(lab)["refresh_token"]
    revoke(lab, stolen)
    assert "dict" in refused(check_refresh_revoked(lab, stolen, junk))


def test_refresh_revoked_placeholder_is_unanswered(lab: Lab) -> None:
    stolen = login_tokens(lab)["refresh_token"]
    assert check_refresh_revoked(lab, stolen, None) is UNANSWERED
    assert check_refresh_revoked(lab, stolen, ...) is UNANSWERED
    assert check_refresh_revoked(lab, None, {"active": False}) is UNANSWERED


def test_refresh_revoked_is_marked_hands_on() -> None:
    assert check_refresh_revoked.__dict__.get("hands_on") is True


# -- Exercise 3 · what bounds a stolen access token ------------------------------------------
@pytest.fixture(scope="module")
def stolen_access(lab: Lab) -> str:
    return login_tokens(lab)["access_token"]


def limits(token: str) -> tuple[list[str], int]:
    claims = decode_unverified(token)[1]
    return claims["aud"], (claims["exp"] - claims["iat"]) // 60


def test_the_tokens_own_audience_and_lifetime_pass(lab: Lab, stolen_access: str) -> None:
    audience, minutes = limits(stolen_access)
    assert minutes == 60 and len(audience) >= 2
    assert check_access_limits(lab, stolen_access, audience, minutes).ok
    # any order, any sequence type, minutes as a float
    assert check_access_limits(lab, stolen_access, tuple(reversed(audience)), 60.0).ok


def test_a_missing_audience_fails(lab: Lab, stolen_access: str) -> None:
    audience, minutes = limits(stolen_access)
    hint = refused(check_access_limits(lab, stolen_access, audience[:1], minutes))
    assert "leaves out a service" in hint


def test_an_audience_the_token_does_not_name_is_named(lab: Lab, stolen_access: str) -> None:
    audience, minutes = limits(stolen_access)
    hint = refused(check_access_limits(lab, stolen_access, [*audience, "billing-api"], minutes))
    assert "does not include 'billing-api'" in hint and audience[0] not in hint


def test_a_lifetime_in_seconds_fails(lab: Lab, stolen_access: str) -> None:
    audience, minutes = limits(stolen_access)
    assert "in seconds" in refused(check_access_limits(lab, stolen_access, audience, minutes * 60))


def test_a_wrong_lifetime_fails(lab: Lab, stolen_access: str) -> None:
    audience, _ = limits(stolen_access)
    hint = refused(check_access_limits(lab, stolen_access, audience, 15))
    assert "lifetime is wrong" in hint and "'iat'" in hint


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_access_limits_malformed_answers_fail_without_raising(
    lab: Lab, stolen_access: str, junk: object
) -> None:
    audience, minutes = limits(stolen_access)
    assert "access token" in refused(check_access_limits(lab, junk, audience, minutes))
    hint = refused(check_access_limits(lab, stolen_access, junk, minutes))
    strings = isinstance(junk, str) or (
        isinstance(junk, list) and all(isinstance(j, str) for j in junk)
    )
    # a string, or a list of them, is a well-formed audience: just not this token's
    assert ("does not include" if strings else "list of strings") in hint
    if not isinstance(junk, float):  # 4.2 is a number, just the wrong one
        assert "minutes" in refused(check_access_limits(lab, stolen_access, audience, junk))


def test_a_refresh_token_is_not_the_access_token(lab: Lab) -> None:
    tokens = login_tokens(lab)
    audience, minutes = limits(tokens["access_token"])
    hint = refused(check_access_limits(lab, tokens["refresh_token"], audience, minutes))
    assert "not an access token this lab's IdP issued" in hint


def test_access_limits_placeholder_is_unanswered(lab: Lab, stolen_access: str) -> None:
    audience, minutes = limits(stolen_access)
    assert check_access_limits(lab, stolen_access, None, minutes) is UNANSWERED
    assert check_access_limits(lab, stolen_access, audience, None) is UNANSWERED
    assert check_access_limits(lab, stolen_access, ..., ...) is UNANSWERED
