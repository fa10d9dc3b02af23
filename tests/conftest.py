"""Shared fixtures: one running lab per test session, plus the moves a client or an
attacker makes against it (authorize requests, /token calls, forged JWTs).

Everything here speaks plain HTTP to the real services on 127.0.0.1; nothing reaches
into the code under test except the levers the lab exposes (clock, store, keys).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.client import BaseClient
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import settings
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode

from helpers import aws
from helpers.browser import ScriptedBrowser
from helpers.cast import fitness_api
from helpers.idp.grants import new_family
from helpers.idp.models import IssuedToken
from helpers.lab import Lab
from helpers.rfc8693 import ACCESS_TOKEN_TYPE, GRANT_TYPE

if TYPE_CHECKING:
    from helpers.mcp_login import ScriptedUser, Tokens

FRONTEND = "fitness-frontend"
ALICE = ("alice", "alice-lab-password")
BOB = ("bob", "bob-lab-password")
# Not what the web app asks for (seed.FRONTEND_LOGIN_SCOPE: the agent only): the attack
# catalogue signs in through the frontend's client for a token the fitness API accepts, to
# attack the API with. The client's registration allows it (seed.FRONTEND_ALLOWED_SCOPE).
LOGIN_SCOPE = "openid profile offline_access activities:read"
TIMEOUT = 10

# How many hostile requests each property test generates (tests/test_hostile.py). CI's
# second pass, which looks for tests that depend on their order and not on their inputs,
# runs the same tests with --hypothesis-profile=order: the same requests, fewer of them.
settings.register_profile("course", max_examples=300)
settings.register_profile("order", max_examples=30)
settings.load_profile("course")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    # Not start_lab(): a test of start_lab (which stops the lab it started before) must not
    # stop the one every other file shares.
    lab = Lab()
    lab.export_env()
    yield lab
    lab.stop()


@pytest.fixture
def browser(lab: Lab) -> Callable[[], ScriptedBrowser]:
    """A factory: every call is a new browser with an empty cookie jar."""
    return lab.browser


# -- a real Chromium, for the tests that drive JupyterLab (tests/jupyterlab_ui.py) ------


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("no chromium here (apt-get install chromium); CI runs these tests")
    return found


@pytest.fixture(scope="module")
def chromium_browser(chromium: str) -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an event loop running in the main thread
    # while it lives, and tests after this module call asyncio.run().
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Chromium's sandbox needs a non-root user: CI runs as root.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=chromium, args=args)
        yield launched
        launched.close()


# -- the authorization request, built the way a client builds it ---------------------


def redirect_uri(lab: Lab) -> str:
    return f"{lab.urls.frontend}/callback"


def frontend_auth(lab: Lab) -> tuple[str, str]:
    return FRONTEND, lab.client_secret(FRONTEND)


@dataclass
class AuthRequest:
    """One authorization request and the secrets the client keeps for step 2."""

    params: dict[str, str]
    verifier: str
    url: str

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]


def new_verifier() -> str:
    return secrets.token_urlsafe(48)  # 64 characters of the RFC 7636 alphabet


def auth_request(lab: Lab, **overrides: str | None) -> AuthRequest:
    """A valid S256 authorization request; ``name=None`` drops a parameter."""
    verifier = new_verifier()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": FRONTEND,
        "redirect_uri": redirect_uri(lab),
        "scope": LOGIN_SCOPE,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    kept = {k: v for k, v in params.items() if v is not None}
    return AuthRequest(kept, verifier, f"{lab.urls.issuer}/authorize?{urlencode(kept)}")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def idp_signed_in(lab: Lab, user: tuple[str, str] = ALICE) -> ScriptedBrowser:
    """A fresh browser that already holds a session at the IdP (no authorization yet)."""
    browser = lab.browser()
    page = browser.visit(f"{lab.urls.issuer}/login")
    browser.submit(page, {"username": user[0], "password": user[1]})
    assert "idp_session" in browser.session.cookies.get_dict()
    return browser


@dataclass
class Grant:
    """What came back on the redirect: the code, plus the request it answers."""

    code: str
    request: AuthRequest


def authorize(lab: Lab, user: tuple[str, str] = ALICE, **overrides: str | None) -> Grant:
    """Sign in as ``user`` in a fresh browser, consent, and catch the code on the redirect."""
    req = auth_request(lab, **overrides)
    target = req.params.get("redirect_uri", redirect_uri(lab))
    resp = lab.browser().sign_in(req.url, *user, stop_at=target)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(target + "?")
    back = query_of(location)
    assert back["state"] == req.state  # the IdP echoes state unchanged (RFC 6749 §4.1.2)
    return Grant(back["code"], req)


# -- the token endpoint ---------------------------------------------------------------


def token_request(
    lab: Lab, data: dict[str, str | None], auth: tuple[str, str] | None = None
) -> requests.Response:
    """POST /token with HTTP Basic client authentication (frontend's by default)."""
    form = {k: v for k, v in data.items() if v is not None}
    return requests.post(
        f"{lab.urls.issuer}/token", data=form, auth=auth or frontend_auth(lab), timeout=TIMEOUT
    )


def token_exchange(
    lab: Lab, subject_token: str | None, client: str, audience: str, **params: str | None
) -> requests.Response:
    """RFC 8693 at /token as ``client``: an access token for ``audience``, to read
    activities. ``params`` add to the form or replace in it (None leaves one out)."""
    data = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
        "scope": "activities:read",
        **params,
    }
    return token_request(lab, data, (client, lab.client_secret(client)))


def redeem(
    lab: Lab,
    grant: Grant,
    *,
    auth: tuple[str, str] | None = None,
    **overrides: str | None,
) -> requests.Response:
    """Exchange a code: redirect_uri and verifier from the original request by default."""
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "redirect_uri": grant.request.params.get("redirect_uri"),
        "code_verifier": grant.request.verifier,
    }
    data.update(overrides)
    return token_request(lab, data, auth)


def login_tokens(lab: Lab, user: tuple[str, str] = ALICE, **overrides: str | None) -> dict:
    """A full, legitimate code flow: the token response."""
    resp = redeem(lab, authorize(lab, user, **overrides))
    assert resp.status_code == 200, resp.text
    return resp.json()


def refresh(lab: Lab, refresh_token: str, scope: str | None = None) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope}
    return token_request(lab, data)


def introspect(lab: Lab, token: str) -> dict:
    """RFC 7662 as the fitness API asks it."""
    resp = requests.post(
        f"{lab.urls.issuer}/introspect",
        data={"token": token},
        auth=("fitness-api", lab.client_secret("fitness-api")),
        timeout=TIMEOUT,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def call_api(lab: Lab, token: str | None, scheme: str = "Bearer") -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return requests.get(
        f"{lab.urls.fitness_api}/v1/athlete/activities", headers=headers, timeout=TIMEOUT
    )


def oauth_error(resp: requests.Response) -> str:
    return resp.json()["error"]


def challenge_params(resp: requests.Response) -> dict[str, str]:
    """The auth-params of a ``WWW-Authenticate: Bearer k="v", ...`` header."""
    scheme, _, rest = resp.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Bearer"
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', rest))


# -- forged tokens --------------------------------------------------------------------


def b64json(value: object) -> str:
    return base64url_encode(json.dumps(value).encode()).decode()


def rs256(header: dict, claims: dict, key: rsa.RSAPrivateKey) -> str:
    """An RS256 JWS over any header, signed by PyJWT's RSA algorithm (no hand-made crypto)."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{base64url_encode(signature).decode()}"


class Forger:
    """Mints access tokens for the fitness API, by default indistinguishable from real ones.

    ``register`` records the token at the IdP as an active access token, so introspection
    says ``active: true``: a 401 can then only come from the API's own JWT checks, not from
    the IdP not knowing the token.
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.lab_key: rsa.RSAPrivateKey = lab.idp.keys.current.private_key
        self.kid = lab.idp.keys.current_kid

    def header(self, **overrides: object) -> dict:
        header = {"alg": "RS256", "typ": "at+jwt", "kid": self.kid}
        header.update(overrides)
        return {k: v for k, v in header.items() if v is not None}

    def claims(self, **overrides: object) -> dict:
        now = int(self.lab.clock.now())
        claims = {
            "iss": self.lab.urls.issuer,
            "sub": "user-1-alice",
            "aud": ["fitness-api"],
            "scope": "activities:read",
            "client_id": FRONTEND,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(
        self,
        header: dict | None = None,
        claims: dict | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        return rs256(header or self.header(), claims or self.claims(), key or self.lab_key)

    def register(self, token: str, scope: str = "activities:read") -> str:
        now = self.lab.clock.now()
        self.lab.idp.store.tokens[token] = IssuedToken(
            kind="access_token",
            value=token,
            client_id=FRONTEND,
            user_id="user-1-alice",
            scope=scope,
            issued_at=now,
            expires_at=now + 3600,
            family=new_family(),
            clock=self.lab.clock,
        )
        return token


@pytest.fixture
def forge(lab: Lab) -> Forger:
    return Forger(lab)


@pytest.fixture(scope="session")
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- an offline signer, for validator and inspector tests that need no running lab -------
OFFLINE_KID = "lab-key-1"


@pytest.fixture(scope="session")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def jwks(key: rsa.RSAPrivateKey) -> dict:
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": OFFLINE_KID, "alg": "RS256", "use": "sig"}]}


# -- AgentCore Identity set-up shared by the flow and chain tests ------------------------
def create_lab_oauth2_provider(control: BaseClient, lab: Lab, name: str, client_id: str) -> None:
    """A CustomOauth2 credential provider for ``client_id`` at the lab IdP, by discovery URL."""
    control.create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": lab.urls.discovery},
                "clientId": client_id,
                "clientSecret": lab.client_secret(client_id),
            }
        },
    )


# -- AWS requests signed by hand, for what boto3 would never send ---------------------------
AWS_SIGNING_NAME = "bedrock-agentcore"  # both AgentCore models sign with it


def sign(
    url: str,
    path: str,
    body: object = None,
    *,
    creds: aws.LabCredentials = aws.OPERATOR,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> AWSPreparedRequest:
    """A request signed exactly as boto3 signs one (botocore's SigV4Auth), not yet sent."""
    data = body if isinstance(body, bytes) else json.dumps({} if body is None else body).encode()
    request = AWSRequest(
        method=method,
        url=url + path,
        data=data,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    credentials = Credentials(creds.access_key_id, creds.secret_access_key)
    SigV4Auth(credentials, AWS_SIGNING_NAME, aws.REGION).add_auth(request)
    return request.prepare()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Each phase's report on the test item (``item.rep_call``), for fixtures that keep
    evidence of a failure (the browser tests' screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """nbval kills each notebook's kernel outright, so the last labs never stop: remove
    the state they left, as the next lab would."""
    from helpers import processes

    processes.remove_orphaned_state()


# -- the official MCP client, logging in through the scripted browser -------------------
# The mcp SDK is imported where it is used: most test files never need it.
MCP_REDIRECT = "http://127.0.0.1:33418/callback"  # the MCP client's loopback redirect URI


def lab_with_mcp_runtime() -> Iterator[Lab]:
    """A lab whose fitness MCP server runs on its runtime, as notebook 10 finds it."""
    with Lab(agentcore=True) as lab:
        lab.agentcore.create_mcp_runtime(
            activities_url=lab.urls.fitness_api + fitness_api.ACTIVITIES_PATH
        )
        yield lab


def mcp_provider(url: str, user: ScriptedUser, storage: Tokens | None = None):  # noqa: ANN201
    """The SDK's OAuthClientProvider for ``url``, with ``user`` at the browser."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata

    from helpers.mcp_login import Tokens

    metadata = OAuthClientMetadata(
        client_name="Test MCP client",
        redirect_uris=[MCP_REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
    )
    return OAuthClientProvider(
        url, metadata, storage or Tokens(), user.redirect_handler, user.callback_handler
    )


def mcp_list_and_call(url: str, auth: object) -> tuple[list[str], dict]:
    """An MCP session at ``url`` as ``auth``: the tools' names, and list_activities' answer."""
    import asyncio

    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    async def session() -> tuple[list[str], dict]:
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            tools = await client.list_tools()
            called = await client.call_tool("list_activities", {})
            return [t.name for t in tools.tools], called.structured_content

    return asyncio.run(session())
