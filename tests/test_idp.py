"""The identity provider's positive contract: discovery, token shapes, userinfo,
revocation (RFC 7009), introspection (RFC 7662) and client credentials."""

from __future__ import annotations

import jwt
import requests
from conftest import TIMEOUT, call_api, introspect, login_tokens, token_request

from helpers.idp.tokens import ACCESS_TOKEN_TTL
from helpers.lab import Lab


def userinfo(lab: Lab, token: str) -> requests.Response:
    return requests.get(
        f"{lab.urls.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )


def revoke(lab: Lab, token: str, auth: tuple[str, str]) -> requests.Response:
    return requests.post(
        f"{lab.urls.issuer}/revoke", data={"token": token}, auth=auth, timeout=TIMEOUT
    )


def test_discovery_names_every_endpoint_and_only_s256(lab: Lab) -> None:
    doc = requests.get(lab.urls.discovery, timeout=TIMEOUT).json()
    assert doc["issuer"] == lab.urls.issuer
    for endpoint in ("authorization", "token", "userinfo", "revocation", "introspection"):
        assert requests.options(doc[f"{endpoint}_endpoint"], timeout=TIMEOUT).status_code == 200
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    keys = requests.get(doc["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and "d" not in k for k in keys)  # public halves only


def test_access_token_follows_rfc_9068(lab: Lab) -> None:
    tokens = login_tokens(lab)
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} <= set(claims)
    assert claims["client_id"] == "fitness-frontend" and claims["sub"] == "user-1-alice"
    assert "fitness-api" in claims["aud"]
    assert claims["exp"] - claims["iat"] == ACCESS_TOKEN_TTL == tokens["expires_in"]


def test_userinfo_answers_with_the_users_claims(lab: Lab) -> None:
    resp = userinfo(lab, login_tokens(lab)["access_token"])
    assert resp.status_code == 200
    assert resp.json() == {
        "sub": "user-1-alice",
        "name": "Alice Runner",
        "preferred_username": "alice",
    }  # no email: scope lacks "email"


def test_userinfo_refuses_a_revoked_or_missing_token(lab: Lab) -> None:
    tokens = login_tokens(lab)
    assert (
        revoke(
            lab, tokens["access_token"], ("fitness-frontend", lab.client_secret("fitness-frontend"))
        ).status_code
        == 200
    )
    resp = userinfo(lab, tokens["access_token"])
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"
    assert userinfo(lab, "").status_code == 401


def test_revoking_a_refresh_token_makes_it_inactive(lab: Lab) -> None:
    tokens = login_tokens(lab)
    frontend = ("fitness-frontend", lab.client_secret("fitness-frontend"))
    assert introspect(lab, tokens["refresh_token"])["active"] is True
    assert revoke(lab, tokens["refresh_token"], frontend).status_code == 200
    assert introspect(lab, tokens["refresh_token"]) == {"active": False}
    # RFC 7009 §2.2: revoking an unknown token is not an error either.
    assert revoke(lab, "no-such-token", frontend).status_code == 200


def test_another_client_cannot_revoke_the_frontends_token(lab: Lab) -> None:
    tokens = login_tokens(lab)
    job = ("reporting-job", lab.client_secret("reporting-job"))
    revoke(lab, tokens["refresh_token"], job)
    assert introspect(lab, tokens["refresh_token"])["active"] is True


def test_introspection_requires_an_authenticated_caller(lab: Lab) -> None:
    tokens = login_tokens(lab)
    resp = requests.post(
        f"{lab.urls.issuer}/introspect", data={"token": tokens["access_token"]}, timeout=TIMEOUT
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    active = introspect(lab, tokens["access_token"])
    assert active["active"] is True and active["sub"] == "user-1-alice"


def test_client_credentials_gives_a_machine_token_for_the_api(lab: Lab) -> None:
    resp = token_request(
        lab,
        {"grant_type": "client_credentials", "scope": "activities:read"},
        auth=("reporting-job", lab.client_secret("reporting-job")),
    )
    assert resp.status_code == 200
    body = resp.json()
    assert "refresh_token" not in body  # RFC 6749 §4.4.3: no refresh token for M2M
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "reporting-job" and claims["aud"] == ["fitness-api"]
    api = call_api(lab, body["access_token"])
    assert api.status_code == 200 and api.json() == {"athlete": "reporting-job", "activities": []}


def test_client_credentials_cannot_reach_beyond_the_clients_scope(lab: Lab) -> None:
    resp = token_request(
        lab,
        {"grant_type": "client_credentials", "scope": "agent:invoke"},
        auth=("reporting-job", lab.client_secret("reporting-job")),
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"
