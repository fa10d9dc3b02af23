"""Relying parties find a provider's endpoints in its metadata, wherever it puts them.

The lab IdP serves its keys at ``{issuer}/jwks``; another provider (Cognito, Keycloak,
Entra ID) at a path of its own, named by ``jwks_uri`` in its discovery document, and it
may offer no introspection at all. The stand-in provider here lays its paths out unlike
the lab IdP, and its issuer has a path, as Cognito's does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from conftest import rs256
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from helpers.cast.resource_server import ResourceServer
from helpers.clock import LabClock
from helpers.jwt_check import TokenRejected
from helpers.mcp_login import token_by_hand
from helpers.serving import BackgroundServer
from helpers.widgets import inspect_for

KID = "provider-key-1"
AUDIENCE = "fitness-api"
AUTH = ("fitness-api", "api-secret")


class Provider:
    """An OIDC provider with paths of its own; it records every request by path."""

    def __init__(self, key: rsa.RSAPrivateKey, introspection: bool) -> None:
        self.server = BackgroundServer("provider").start(self._app)
        base = self.server.url
        self.issuer = f"{base}/tenant-1"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        metadata = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/oauth2/v2/auth",
            "token_endpoint": f"{base}/oauth2/v2/token",
            "registration_endpoint": f"{base}/oauth2/v2/clients",
            "jwks_uri": f"{base}/discovery/keys",
        }
        if introspection:
            metadata["introspection_endpoint"] = f"{base}/oauth2/v2/introspect"
        self.active = True
        self.requests: list[tuple[str, dict]] = []  # (path, form or JSON body)
        self._answers = {
            "/tenant-1/.well-known/openid-configuration": metadata,
            "/.well-known/oauth-authorization-server/tenant-1": metadata,  # RFC 8414 §3.1
            "/discovery/keys": {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]},
            "/oauth2/v2/clients": {"client_id": "registered-client"},
            "/oauth2/v2/token": {"access_token": "issued-token", "token_type": "Bearer"},
        }

    def _app(self, environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
        path = environ["PATH_INFO"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        self.requests.append((path, _form_or_json(body)))
        answer = self._answers.get(path)
        if path == "/oauth2/v2/introspect":
            answer = {"active": self.active}
        status = "200 OK" if answer is not None else "404 Not Found"
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(answer or {"error": "not_found"}).encode()]

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def token(self, key: rsa.RSAPrivateKey) -> str:
        now = int(LabClock().now())
        claims = {
            "iss": self.issuer, "sub": "user-1-alice", "aud": AUDIENCE, "iat": now,
            "exp": now + 300, "jti": uuid.uuid4().hex, "client_id": "fitness-frontend",
            "scope": "activities:read",
        }  # fmt: skip
        return rs256({"alg": "RS256", "typ": "at+jwt", "kid": KID}, claims, key)

    def resource_server(self) -> ResourceServer:
        return ResourceServer(
            name=AUDIENCE,
            audience=AUDIENCE,
            issuer=self.issuer,
            discovery_url=self.discovery_url,
            introspection_auth=AUTH,
            clock=LabClock(),
        )


def _form_or_json(body: str) -> dict:
    if body.startswith("{"):
        return json.loads(body)
    return {k: v[0] for k, v in parse_qs(body).items()}


@pytest.fixture(params=[True, False], ids=["introspection", "no-introspection"])
def provider(request: pytest.FixtureRequest, key: rsa.RSAPrivateKey) -> Iterator[Provider]:
    provider = Provider(key, introspection=request.param)
    yield provider
    provider.server.stop()


# -- the resource server --------------------------------------------------------------------


def test_the_api_takes_a_token_signed_with_the_keys_at_jwks_uri(
    provider: Provider, key: rsa.RSAPrivateKey
) -> None:
    claims = provider.resource_server().check(provider.token(key), "activities:read")
    assert claims["iss"] == provider.issuer
    assert "/discovery/keys" in provider.paths()


def test_the_api_asks_the_introspection_endpoint_the_provider_names(
    key: rsa.RSAPrivateKey,
) -> None:
    provider = Provider(key, introspection=True)
    try:
        api, token = provider.resource_server(), provider.token(key)
        api.check(token, "activities:read")
        provider.active = False  # revoked at the provider
        with pytest.raises(TokenRejected, match="revoked"):
            api.check(token, "activities:read")
    finally:
        provider.server.stop()
    asked = [body for path, body in provider.requests if path == "/oauth2/v2/introspect"]
    assert asked == [{"token": token}] * 2


def test_without_introspection_the_api_judges_signature_and_claims_alone(
    key: rsa.RSAPrivateKey,
) -> None:
    provider = Provider(key, introspection=False)
    try:
        api = provider.resource_server()
        assert api.check(provider.token(key), "activities:read")["sub"] == "user-1-alice"
        with pytest.raises(TokenRejected):  # the checks it can make, it still makes
            api.check(provider.token(key) + "x", "activities:read")
    finally:
        provider.server.stop()
    assert not [path for path in provider.paths() if "introspect" in path]


# -- the inspector and the MCP client by hand -----------------------------------------------


def test_the_inspector_checks_signatures_with_the_keys_at_jwks_uri(
    provider: Provider, key: rsa.RSAPrivateKey
) -> None:
    urls = SimpleNamespace(issuer=provider.issuer, discovery=provider.discovery_url)
    lab = SimpleNamespace(urls=urls, clock=LabClock(), stopped=False)
    report = inspect_for(lab, provider.token(key))
    assert report.verdict == "valid", report.explanation


def test_token_by_hand_reads_rfc8414_metadata_of_an_issuer_with_a_path(
    provider: Provider,
) -> None:
    redirect_uri = "http://127.0.0.1:9/callback"

    def sign_in(url: str) -> None:  # the person at the browser: consents, gets a code back
        assert url.startswith(f"{provider.server.url}/oauth2/v2/auth?")
        user.returned = f"{redirect_uri}?code=the-code"

    user = SimpleNamespace(redirect_uri=redirect_uri, sign_in=sign_in, returned=None)
    assert token_by_hand(provider.issuer, user, resource=None) == "issued-token"
    redeemed = dict(provider.requests)["/oauth2/v2/token"]
    assert redeemed["code"] == "the-code" and redeemed["client_id"] == "registered-client"
