"""Notebook 01's checkers: a PKCE pair, Bob's access token from a live login, and which
parameter of the authorize request stops which attack."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterator

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from conftest import ALICE, BOB, login_tokens, rs256
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers.exercises import (
    LOGIN_THREATS,
    UNANSWERED,
    check_bobs_access_token,
    check_login_guards,
    check_pkce_pair,
)
from helpers.idp.seed import FRONTEND_LOGIN_SCOPE
from helpers.lab import Lab

JUNK = [42, 4.2, True, ["x"], ("a", "b"), {"nested": [{"junk": None}]}, b"bytes", "garbage"]
VERIFIER = secrets.token_urlsafe(48)


def refused(result: object) -> str:
    """The hint of a refusal (and that it is one, not the placeholder message)."""
    assert result is not UNANSWERED and not result, result
    text = repr(result)
    assert text.startswith("❌ Not yet. Hint: ") and len(text) > len("❌ Not yet. Hint: ") + 20
    return text


# -- Exercise 1 · a PKCE pair --------------------------------------------------------------
def digest(verifier: str) -> bytes:
    return hashlib.sha256(verifier.encode()).digest()


def test_a_right_pkce_pair_passes() -> None:
    assert check_pkce_pair(VERIFIER, create_s256_code_challenge(VERIFIER)).ok
    by_hand = base64.urlsafe_b64encode(digest("v" * 128)).decode().rstrip("=")
    assert check_pkce_pair("v" * 128, by_hand).ok
    assert check_pkce_pair("a-b.c_d~" * 6, create_s256_code_challenge("a-b.c_d~" * 6)).ok


def test_pkce_placeholders_are_unanswered() -> None:
    assert check_pkce_pair(None, None) is UNANSWERED
    assert check_pkce_pair(VERIFIER, None) is UNANSWERED
    assert check_pkce_pair(..., "x") is UNANSWERED


@pytest.mark.parametrize(
    ("challenge", "named"),
    [
        (VERIFIER, "'plain'"),
        (digest(VERIFIER).hex(), "hex"),
        (create_s256_code_challenge(VERIFIER) + "=", "padding"),
        (create_s256_code_challenge(VERIFIER)[:-1], "BASE64URL(SHA256(verifier))"),
        (create_s256_code_challenge(VERIFIER + "x"), "BASE64URL(SHA256(verifier))"),
    ],
    ids=["plain", "hex", "padded", "truncated", "other verifier"],
)
def test_a_wrong_challenge_is_refused_with_what_is_wrong(challenge: str, named: str) -> None:
    assert named in refused(check_pkce_pair(VERIFIER, challenge))


def test_standard_base64_is_not_base64url() -> None:
    # a verifier whose hash, in standard base64, has a '+' or a '/'
    verifier = next(
        v for v in (f"{'v' * 42}{i:02d}" for i in range(100)) if set("+/") & set(b64(v))
    )
    assert "base64url" in refused(check_pkce_pair(verifier, b64(verifier)))


def b64(verifier: str) -> str:
    return base64.b64encode(digest(verifier)).decode().rstrip("=")


@pytest.mark.parametrize(
    "verifier", ["short", "v" * 42, "v" * 129, ""], ids=["short", "42", "129", "empty"]
)
def test_a_verifier_of_the_wrong_length_is_refused(verifier: str) -> None:
    challenge = create_s256_code_challenge(verifier)
    assert "43 to 128 characters" in refused(check_pkce_pair(verifier, challenge))


@pytest.mark.parametrize("verifier", ["é" * 43, "v" * 42 + " ", "v" * 42 + "+", "v/" * 22])
def test_a_verifier_outside_the_rfc_alphabet_is_refused_without_raising(verifier: str) -> None:
    assert "letters, digits" in refused(check_pkce_pair(verifier, "x" * 43))


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_malformed_pkce_answers_are_refused_without_raising(junk: object) -> None:
    assert "verifier" in refused(check_pkce_pair(junk, "x" * 43))
    assert "string" in refused(check_pkce_pair(VERIFIER, junk)) or junk == "garbage"
    assert not check_pkce_pair(junk, junk)


# -- Exercise 2 · Bob's access token ----------------------------------------------------------
def frontend_login(lab: Lab, user: tuple[str, str]) -> dict:
    """The tokens the frontend keeps after ``user`` signs in with a scripted browser."""
    browser = lab.browser()
    browser.sign_in(lab.urls.frontend + "/login", *user)
    return lab.frontend.session_tokens(browser.session.cookies["frontend_session"])


@pytest.fixture(scope="module")
def own_lab() -> Iterator[Lab]:
    """A lab of this module's own, for what would disturb the shared one (clock, revocation)."""
    with Lab() as lab:
        yield lab


def test_bobs_access_token_from_the_frontend_passes(lab: Lab) -> None:
    tokens = frontend_login(lab, BOB)
    assert check_bobs_access_token(lab, tokens["access_token"]).ok
    # however it was obtained, a login for the agent, as Bob, is right
    assert check_bobs_access_token(
        lab, login_tokens(lab, BOB, scope=FRONTEND_LOGIN_SCOPE)["access_token"]
    ).ok


def test_bobs_token_placeholder_is_unanswered(lab: Lab) -> None:
    assert check_bobs_access_token(lab, None) is UNANSWERED
    assert check_bobs_access_token(lab, ...) is UNANSWERED


def test_alices_access_token_is_not_bobs(lab: Lab) -> None:
    hint = refused(check_bobs_access_token(lab, frontend_login(lab, ALICE)["access_token"]))
    assert "'user-1-alice'" in hint and "not Bob" in hint


def test_bobs_id_token_is_not_an_access_token(lab: Lab) -> None:
    hint = refused(check_bobs_access_token(lab, frontend_login(lab, BOB)["id_token"]))
    assert "id token" in hint and "'access_token'" in hint


def test_bobs_refresh_token_is_not_a_jwt(lab: Lab) -> None:
    hint = refused(check_bobs_access_token(lab, frontend_login(lab, BOB)["refresh_token"]))
    assert "not a JWT" in hint and "refresh token" in hint


def test_a_token_for_another_audience_is_refused(lab: Lab) -> None:
    api_token = login_tokens(lab, BOB)["access_token"]  # the fitness API's, not the agent's
    hint = refused(check_bobs_access_token(lab, api_token))
    assert "the agent would refuse" in hint and "fitness-agent" in hint


def test_a_token_signed_by_someone_else_is_refused(lab: Lab) -> None:
    now = int(lab.clock.now())
    claims = {
        "iss": lab.urls.issuer,
        "sub": "user-2-bob",
        "aud": ["fitness-agent"],
        "scope": FRONTEND_LOGIN_SCOPE,
        "client_id": "fitness-frontend",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": lab.idp.keys.current_kid}
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hint = refused(check_bobs_access_token(lab, rs256(header, claims, attacker)))
    assert "signature" in hint
    # signed by the lab's own key, but never issued: the IdP does not know it
    forged = rs256(header, claims, lab.idp.keys.current.private_key)
    assert "does not know this token" in refused(check_bobs_access_token(lab, forged))


def test_a_revoked_token_is_refused(own_lab: Lab) -> None:
    token = frontend_login(own_lab, BOB)["access_token"]
    assert check_bobs_access_token(own_lab, token).ok
    own_lab.idp.store.revoke_family(own_lab.idp.store.tokens[token].family)
    assert "does not know this token as active" in refused(check_bobs_access_token(own_lab, token))


def test_an_expired_token_is_refused(own_lab: Lab) -> None:
    token = frontend_login(own_lab, BOB)["access_token"]
    own_lab.clock.advance(3600 + 1)  # access tokens live one hour
    assert "expired" in refused(check_bobs_access_token(own_lab, token))


@pytest.mark.parametrize(
    "junk",
    [*JUNK, "", "a.b.c", "eyJ.eyJ.sig", "x" * 10_000, "é" * 50, "Bearer eyJhbGciOi.eyJzdWIi.x"],
    ids=lambda v: repr(v)[:20],
)
def test_malformed_tokens_are_refused_without_raising(lab: Lab, junk: object) -> None:
    hint = refused(check_bobs_access_token(lab, junk))
    assert "access token" in hint or "access_token" in hint or "JWT" in hint


# -- Exercise 3 · which parameter stops which attack -----------------------------------------
RIGHT = {
    "login CSRF": "state",
    "a replayed id token": "nonce",
    "an intercepted authorization code": "code_challenge",
    "a code delivered to the attacker's site": "redirect_uri",
}


def test_the_right_guards_pass_in_any_spelling() -> None:
    assert set(RIGHT) == set(LOGIN_THREATS)
    assert check_login_guards(RIGHT).ok
    loose = {k.upper(): f" `{v.upper()}` " for k, v in RIGHT.items()}
    assert check_login_guards(loose).ok


def test_guard_placeholders_are_unanswered() -> None:
    assert check_login_guards(None) is UNANSWERED
    assert check_login_guards(dict.fromkeys(LOGIN_THREATS)) is UNANSWERED
    assert check_login_guards(dict.fromkeys(LOGIN_THREATS, ...)) is UNANSWERED


def test_a_partly_filled_dict_names_the_placeholders() -> None:
    hint = refused(check_login_guards({**RIGHT, "a replayed id token": None}))
    assert "placeholder: a replayed id token" in hint


@pytest.mark.parametrize(
    ("threat", "answer", "note"),
    [
        ("login CSRF", "nonce", None),
        ("a replayed id token", "state", None),
        ("an intercepted authorization code", "code_challenge_method", "names the hash"),
        ("an intercepted authorization code", "code_verifier", "never travels in step 1"),
        ("an intercepted authorization code", "PKCE", "which parameter carries it"),
        ("a code delivered to the attacker's site", "client_id", "proves nothing"),
        ("a code delivered to the attacker's site", "client_secret", "never travels"),
    ],
)
def test_a_wrong_guard_is_named(threat: str, answer: str, note: str | None) -> None:
    hint = refused(check_login_guards({**RIGHT, threat: answer}))
    assert f"look again at: {threat}" in hint
    assert all(t not in hint for t in LOGIN_THREATS if t != threat)
    if note:
        assert note in hint


def test_swapped_guards_name_both_threats() -> None:
    swapped = {**RIGHT, "login CSRF": "nonce", "a replayed id token": "state"}
    hint = refused(check_login_guards(swapped))
    assert "login CSRF" in hint and "a replayed id token" in hint
    assert "intercepted" not in hint


def test_a_missing_threat_is_named() -> None:
    partial = {k: v for k, v in RIGHT.items() if k != "login CSRF"}
    assert "missing: login CSRF" in refused(check_login_guards(partial))


@pytest.mark.parametrize(
    "junk",
    [
        *JUNK,
        {},
        dict.fromkeys(LOGIN_THREATS, ["state"]),
        dict.fromkeys(LOGIN_THREATS, {"deep": [[None]]}),
        {1: "state", None: "nonce"},
        ["state", "nonce", "code_challenge", "redirect_uri"],
    ],
    ids=lambda v: repr(v)[:24],
)
def test_malformed_guards_are_refused_without_raising(junk: object) -> None:
    hint = refused(check_login_guards(junk))
    assert "dict" in hint or "missing" in hint or "look again" in hint


def test_hands_on_marks() -> None:
    assert check_pkce_pair.hands_on and check_bobs_access_token.hands_on
    assert not getattr(check_login_guards, "hands_on", False)
