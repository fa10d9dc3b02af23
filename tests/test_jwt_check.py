"""verify_jwt: one test per rejection reason, plus the attacks the lab demonstrates."""

from __future__ import annotations

import json

import pytest
from conftest import OFFLINE_KID as KID
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import HMACAlgorithm, RSAAlgorithm
from jwt.utils import base64url_encode

from helpers.bearer import bearer_challenge
from helpers.jwt_check import (
    TokenRejected,
    decode_unverified,
    describe_duration,
    verify_jwt,
)

ISSUER = "http://127.0.0.1:9000"
API = "http://127.0.0.1:8001"
NOW = 1_700_000_000.0  # a lab-clock instant far from wall time, to prove wall time is unused


def b64json(value: object) -> bytes:
    return base64url_encode(json.dumps(value).encode())


def sign(header: dict, claims: object, key: rsa.RSAPrivateKey) -> str:
    """RS256 over arbitrary header/claims, which jwt.encode would not let us write."""
    signing_input = b64json(header) + b"." + b64json(claims)
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, key)
    return (signing_input + b"." + base64url_encode(signature)).decode()


def unsigned(header: dict, claims: dict) -> str:
    return (b64json(header) + b"." + b64json(claims) + b".").decode()


def header(**changes: object) -> dict:
    return {"alg": "RS256", "typ": "at+jwt", "kid": KID, **changes}


def claims(**changes: object) -> dict:
    base = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": API,
        "exp": NOW + 3600,
        "iat": NOW,
        "jti": "tok-1",
        "client_id": "lab-frontend",
        "scope": "openid fitness:read",
    }
    return {name: value for name, value in {**base, **changes}.items() if value is not None}


def check(token: str, jwks: dict, **kwargs: object) -> dict:
    return verify_jwt(token, jwks=jwks, issuer=ISSUER, audience=API, **{"now": NOW, **kwargs})


def rejected(token: str, jwks: dict, **kwargs: object) -> TokenRejected:
    with pytest.raises(TokenRejected) as info:
        check(token, jwks, **kwargs)
    assert info.value.explanation.endswith(".")
    return info.value


def test_valid_token_returns_claims(key, jwks):
    assert check(sign(header(), claims(), key), jwks)["sub"] == "alice"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_compared_case_insensitively_with_media_type_prefix(key, jwks, typ):
    assert check(sign(header(typ=typ), claims(), key), jwks)["jti"] == "tok-1"


def test_id_token_without_typ_passes_when_typ_check_is_jwt(key, jwks):
    id_header = {"alg": "RS256", "kid": KID}
    id_claims = claims(jti=None, client_id=None, scope=None, nonce="n-1")
    assert check(sign(id_header, id_claims, key), jwks, typ="JWT")["nonce"] == "n-1"


def test_too_large_is_checked_before_parsing(jwks):
    err = rejected("x" * 9000, jwks)
    assert (err.reason, err.error) == ("too_large", "invalid_token")


def test_too_large_applies_to_well_formed_tokens(key, jwks):
    token = sign(header(), claims(), key)
    assert rejected(token, jwks, max_length=len(token) - 1).reason == "too_large"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "...",
        "e30.e30.sig.x.y",
        "héllo.wörld.sig",
        (base64url_encode(b"not json") + b"." + b64json({}) + b".").decode(),
        unsigned([1, 2], {}),
        unsigned({"alg": "RS256"}, "just a string"),
    ],
)
def test_malformed(jwks, token):
    err = rejected(token, jwks)
    assert (err.reason, err.error) == ("malformed", "invalid_token")


@pytest.mark.attack
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_case(jwks, alg):
    err = rejected(unsigned(header(alg=alg), claims()), jwks)
    assert (err.reason, err.error) == ("alg_none", "invalid_token")


@pytest.mark.attack
def test_alg_none_wins_over_other_header_problems(jwks):
    token = unsigned(header(alg="none", crit=["exp"], kid=None), claims())
    assert rejected(token, jwks).reason == "alg_none"


@pytest.mark.attack
def test_hs256_signed_with_public_key_pem_is_key_confusion(key, jwks):
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = b64json(header(alg="HS256")) + b"." + b64json(claims())
    # HMACAlgorithm.sign skips the PEM guard in prepare_key, exactly as a naive verifier would.
    mac = HMACAlgorithm(HMACAlgorithm.SHA256).sign(signing_input, pem)
    token = (signing_input + b"." + base64url_encode(mac)).decode()
    err = rejected(token, jwks)
    assert err.reason == "alg_not_allowed"
    assert "public" in err.explanation.lower()


@pytest.mark.parametrize("alg", ["RS384", "ES256", None, 256])
def test_other_algs_not_allowed(key, jwks, alg):
    assert rejected(sign(header(alg=alg), claims(), key), jwks).reason == "alg_not_allowed"


@pytest.mark.attack
@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["b64"], "b64": True},  # PyJWT itself accepts this one
        {"crit": ["exp"], "exp": 1},
        {"crit": []},
        {"crit": "b64"},
    ],
)
def test_unknown_crit(key, jwks, extra):
    assert rejected(sign(header(**extra), claims(), key), jwks).reason == "unknown_crit"


@pytest.mark.parametrize("kid", [None, "rotated-away", 7])
def test_unknown_kid(key, jwks, kid):
    hdr = {name: value for name, value in header(kid=kid).items() if value is not None}
    assert rejected(sign(hdr, claims(), key), jwks).reason == "unknown_kid"


def test_unknown_kid_when_jwks_is_empty(key):
    assert rejected(sign(header(), claims(), key), {"keys": []}).reason == "unknown_kid"


@pytest.mark.attack
def test_bad_signature_after_editing_claims(key, jwks):
    head, _, sig = sign(header(), claims(), key).split(".")
    forged = f"{head}.{b64json(claims(sub='admin')).decode()}.{sig}"
    assert rejected(forged, jwks).reason == "bad_signature"


@pytest.mark.attack
def test_bad_signature_from_attacker_key_reusing_our_kid(jwks):
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert rejected(sign(header(), claims(), attacker), jwks).reason == "bad_signature"


@pytest.mark.attack
@pytest.mark.parametrize("typ", ["JWT", None, "id+jwt", 1])
def test_wrong_type_id_token_at_api(key, jwks, typ):
    hdr = {name: value for name, value in header(typ=typ).items() if value is not None}
    # An ID token is also for the wrong audience: typ is checked first, so the lesson is clear.
    err = rejected(sign(hdr, claims(aud="lab-frontend", nonce="n"), key), jwks)
    assert (err.reason, err.error) == ("wrong_type", "invalid_token")


def test_wrong_issuer(key, jwks):
    assert rejected(sign(header(), claims(iss="https://evil.example"), key), jwks).reason == (
        "wrong_issuer"
    )


@pytest.mark.parametrize("aud", ["http://127.0.0.1:8002", ["lab-frontend", "other"]])
def test_wrong_audience(key, jwks, aud):
    assert rejected(sign(header(), claims(aud=aud), key), jwks).reason == "wrong_audience"


def test_audience_list_containing_us_is_accepted(key, jwks):
    assert check(sign(header(), claims(aud=["other", API]), key), jwks)["aud"] == ["other", API]


def test_expiry_uses_the_passed_lab_clock_not_wall_time(key, jwks):
    token = sign(header(), claims(exp=NOW + 3600), key)
    assert check(token, jwks, now=NOW + 3599)["sub"] == "alice"  # wall time is years later
    err = rejected(token, jwks, now=NOW + 3600 + 240)
    assert (err.reason, err.error) == ("expired", "invalid_token")
    assert err.explanation == "The token expired 4 min ago (lab clock)."


def test_expired_exactly_at_exp(key, jwks):
    assert rejected(sign(header(), claims(exp=NOW), key), jwks).reason == "expired"


def test_wall_time_valid_token_is_expired_on_an_advanced_lab_clock(key, jwks):
    token = sign(header(), claims(exp=NOW + 60), key)
    assert rejected(token, jwks, now=NOW + 61).reason == "expired"


def test_not_yet_valid(key, jwks):
    err = rejected(sign(header(), claims(nbf=NOW + 300), key), jwks)
    assert err.reason == "not_yet_valid"
    assert "5 min" in err.explanation


@pytest.mark.attack
@pytest.mark.parametrize("exp", [float("nan"), float("inf"), 10**400, -(10**400), "1", True])
def test_non_numeric_exp_never_means_never_expires(key, jwks, exp):
    assert rejected(sign(header(), claims(exp=exp), key), jwks).reason == "malformed"


@pytest.mark.parametrize("name", ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"])
def test_missing_claim(key, jwks, name):
    err = rejected(sign(header(), claims(**{name: None}), key), jwks)
    assert (err.reason, err.error) == ("missing_claim", "invalid_token")
    assert name in err.explanation


def test_jti_and_client_id_only_required_for_access_tokens(key, jwks):
    token = sign(header(typ=None), claims(jti=None, client_id=None), key)
    assert check(token, jwks, typ=None)["sub"] == "alice"


@pytest.mark.parametrize("scope", ["openid", "", None])
def test_insufficient_scope(key, jwks, scope):
    token = sign(header(), claims(scope=scope), key)
    err = rejected(token, jwks, required_scope="fitness:read")
    assert (err.reason, err.error) == ("insufficient_scope", "insufficient_scope")


def test_required_scope_present(key, jwks):
    token = sign(header(), claims(scope="openid fitness:read"), key)
    assert check(token, jwks, required_scope="fitness:read")["sub"] == "alice"


def test_scope_is_matched_by_whole_words(key, jwks):
    token = sign(header(), claims(scope="fitness:readonly"), key)
    assert rejected(token, jwks, required_scope="fitness:read").reason == "insufficient_scope"


def test_decode_unverified_shows_header_and_claims(key):
    hdr, body = decode_unverified(sign(header(), claims(), key))
    assert (hdr["kid"], body["sub"]) == (KID, "alice")


def test_decode_unverified_rejects_garbage():
    with pytest.raises(TokenRejected) as info:
        decode_unverified("not a token")
    assert info.value.reason == "malformed"


def test_bearer_challenge_without_token_has_no_error():
    assert bearer_challenge(None, "fitness") == 'Bearer realm="fitness"'


def test_bearer_challenge_with_error_is_rfc6750_safe():
    exc = TokenRejected("wrong_audience", 'Meant for "x" \\ not us…')
    assert bearer_challenge(exc, "fitness") == (
        'Bearer realm="fitness", error="invalid_token", '
        "error_description=\"Meant for 'x' / not us?\""
    )


def test_bearer_challenge_insufficient_scope():
    exc = TokenRejected("insufficient_scope", "Needs more.", error="insufficient_scope")
    assert 'error="insufficient_scope"' in bearer_challenge(exc, "agent")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.4, "0 s"), (59, "59 s"), (3598, "59 min 58 s"), (3600, "1 h"), (90061, "1 d 1 h")],
)
def test_describe_duration(seconds, words):
    assert describe_duration(seconds) == words
