"""The one JWKS cache and the one bearer parser every token-taking service uses.

A token whose ``kid`` the cache does not know makes it fetch the IdP's keys again (the
IdP may have rotated), but at most once per interval: a flood of forged tokens with
made-up key ids must not become a flood of requests to the IdP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests
from conftest import TIMEOUT, call_api, challenge_params, rs256
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from helpers.bearer import bearer_token, forwarded_bearer
from helpers.clock import LabClock
from helpers.jwks import Documents, FetchFailed, KeySet, verify_with
from helpers.jwt_check import TokenRejected, verify_jwt
from helpers.lab import Lab
from helpers.serving import BackgroundServer

KID = "idp-key-1"


class KeyServer:
    """A stand-in IdP that serves one JWKS and counts every request for it."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}
        self.hits = 0
        self.server = BackgroundServer("key-server").start(self._app)

    def _app(self, environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
        self.hits += 1
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(self.jwks).encode()]


@pytest.fixture
def idp(key: rsa.RSAPrivateKey) -> Iterator[KeyServer]:
    server = KeyServer(key)
    yield server
    server.server.stop()


class Ticking:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def forged(key: rsa.RSAPrivateKey, kid: str) -> str:
    claims = {"iss": "https://idp.invalid", "sub": "mallory", "aud": "api", "exp": 2**40}
    return rs256({"alg": "RS256", "typ": "at+jwt", "kid": kid}, claims, key)


def verify(token: str, jwks: dict) -> dict:
    return verify_jwt(
        token, jwks=jwks, issuer="https://idp.invalid", audience="api", now=LabClock().now()
    )


def test_a_flood_of_unknown_kids_costs_one_refetch_per_interval(
    idp: KeyServer, attacker_key: rsa.RSAPrivateKey
) -> None:
    clock = Ticking()
    keys = KeySet(idp.server.url, refetch_interval_s=30, monotonic=clock)
    for _ in range(200):
        with pytest.raises(TokenRejected, match="unknown_kid"):
            verify_with(keys, lambda jwks: verify(forged(attacker_key, uuid.uuid4().hex), jwks))
    assert idp.hits == 2  # the first fetch, and one refetch for the first unknown kid
    clock.now += 29
    with pytest.raises(TokenRejected):
        verify_with(keys, lambda jwks: verify(forged(attacker_key, "nope"), jwks))
    assert idp.hits == 2
    clock.now += 1  # the interval is over: the next unknown kid may refetch once more
    with pytest.raises(TokenRejected):
        verify_with(keys, lambda jwks: verify(forged(attacker_key, "nope"), jwks))
    assert idp.hits == 3


def test_a_rotated_key_is_picked_up_by_the_first_token_that_names_it(
    idp: KeyServer, key: rsa.RSAPrivateKey
) -> None:
    keys = KeySet(idp.server.url)
    assert keys.current()["keys"][0]["kid"] == KID
    idp.jwks["keys"][0]["kid"] = "idp-key-2"  # the IdP rotates (same key, new id)
    token = rs256(
        {"alg": "RS256", "typ": "at+jwt", "kid": "idp-key-2"},
        {
            "iss": "https://idp.invalid",
            "sub": "alice",
            "aud": "api",
            "iat": 1,
            "exp": 2**40,
            "jti": "j",
            "client_id": "c",
        },
        key,
    )
    assert verify_with(keys, lambda jwks: verify(token, jwks))["sub"] == "alice"
    assert idp.hits == 2


def test_a_known_kid_is_never_refetched(idp: KeyServer, attacker_key: rsa.RSAPrivateKey) -> None:
    keys = KeySet(idp.server.url)
    for _ in range(20):  # the kid is ours, the signature is not: no reason to refetch
        with pytest.raises(TokenRejected, match="bad_signature"):
            verify_with(keys, lambda jwks: verify(forged(attacker_key, KID), jwks))
    assert idp.hits == 1


def test_a_down_idp_is_one_clear_sentence() -> None:
    server = BackgroundServer("nothing-here")
    url = server.url
    server.stop()
    with pytest.raises(FetchFailed, match="nothing answers there"):
        KeySet(f"{url}/jwks").current()
    with pytest.raises(FetchFailed, match="nothing answers there"):
        Documents().get(f"{url}/.well-known/openid-configuration")


@pytest.mark.attack
def test_forged_kids_against_the_fitness_api_do_not_reach_the_idp(
    lab: Lab, attacker_key: rsa.RSAPrivateKey
) -> None:
    keys = lab.fitness_rs.keys
    call_api(lab, "x.y.z")  # make sure the API holds the keys before counting
    before = keys.fetches
    for _ in range(50):
        resp = call_api(lab, forged(attacker_key, uuid.uuid4().hex))
        assert resp.status_code == 401 and challenge_params(resp)["error"] == "invalid_token"
    assert keys.fetches - before <= 1


# -- the bearer parser ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Basic dXNlcjpwdw==", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),
        ("BEARER  abc== ", "abc=="),
    ],
)
def test_bearer_token_reads_one_b64token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", ["Bearer a b", "Bearer a,b", 'Bearer "abc"', "Bearer ab=c"])
def test_bearer_token_refuses_what_is_not_one_token(header: str) -> None:
    with pytest.raises(TokenRejected) as refused:
        bearer_token(header)
    assert refused.value.error == "invalid_token"
    assert forwarded_bearer(header) is None  # behind a front door: no token, no exception


@pytest.mark.attack
@pytest.mark.parametrize("header", ["Bearer a b", "Bearer ☃", "Bearer " + "a" * 9000])
def test_every_token_taking_service_refuses_a_malformed_bearer_alike(lab: Lab, header: str) -> None:
    """The fitness API, the agent and the IdP's userinfo read the header with one parser."""
    urls = [
        (f"{lab.urls.fitness_api}/v1/athlete/activities", "GET"),
        (f"{lab.urls.agent}/invocations", "POST"),
        (f"{lab.urls.issuer}/userinfo", "GET"),
    ]
    for url, method in urls:
        resp = requests.request(
            method, url, headers={"Authorization": header.encode()}, timeout=TIMEOUT
        )
        assert resp.status_code == 401, (url, resp.text)
        assert resp.json()["error"] == "invalid_token"
        assert challenge_params(resp)["error"] == "invalid_token"
