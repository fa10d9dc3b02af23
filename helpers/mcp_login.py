"""A person at the browser for the ``mcp`` SDK's OAuth client, so it can log in unattended.

``OAuthClientProvider`` (the SDK's client-side auth) does MCP authorization by itself:
on a 401 it reads the challenge, fetches the Protected Resource Metadata and the
authorization server's metadata, registers, and sends the user to the authorization URL.
What it cannot do is be the user. ``ScriptedUser`` is: its ``redirect_handler`` opens the
URL in the lab's scripted browser, signs in and answers the consent page, and its
``callback_handler`` hands the SDK what came back to the redirect URI (code, state, iss).
``Tokens`` is the storage the SDK asks for, in memory.

``token_by_hand`` does what the SDK does after discovery, one request at a time, so that
notebook 10 can change one parameter (leave out ``resource``, name another API) and show
what the MCP server makes of the token. ``try_to_connect`` opens an MCP session and says,
in one line, what it got: the tools, or why the server or the client refused.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8414 import get_well_known_url
from mcp.client import Client
from mcp.client.auth import TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

from .browser import ScriptedBrowser


@dataclass
class Tokens(TokenStorage):
    """What the SDK keeps between calls: its tokens and its registration."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class ScriptedUser:
    """``username`` signing in wherever the SDK sends them, and answering ``consent``."""

    username: str
    password: str
    redirect_uri: str
    consent: str = "allow"
    browser: ScriptedBrowser = field(default_factory=ScriptedBrowser)
    authorization_urls: list[str] = field(default_factory=list)
    returned: str | None = None  # the last authorization response, as the redirect URI got it

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        await anyio.to_thread.run_sync(self.sign_in, authorization_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.returned is None:
            raise RuntimeError("The browser never came back to the redirect URI.")
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.returned).query).items()}
        if "code" not in query:
            error = query.get("error", "no code")
            raise RuntimeError(f"The authorization server answered {error}.")
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )

    def sign_in(self, authorization_url: str) -> None:
        """Open the authorization URL, sign in, consent; keep where the IdP sent us back."""
        self.returned = None
        self.browser.sign_in(
            authorization_url,
            self.username,
            self.password,
            consent=self.consent,
            stop_at=self.redirect_uri,
        )
        landed = self.browser.history[-1].location
        if landed and landed.startswith(self.redirect_uri):
            self.returned = landed


def token_by_hand(
    issuer: str, user: ScriptedUser, resource: str | None, scope: str = "activities:read"
) -> str:
    """An access token for ``user``: metadata, registration, authorization code with PKCE
    and ``resource`` (None: left out), token request. The SDK's steps, no SDK."""
    # RFC 8414 §3.1: the well-known part goes before the issuer's path, if it has one.
    metadata = requests.get(get_well_known_url(issuer, external=True), timeout=10)
    endpoints = metadata.json()
    registration = {"client_name": "by hand", "redirect_uris": [user.redirect_uri]}
    registered = requests.post(endpoints["registration_endpoint"], json=registration, timeout=10)
    client_id, verifier = registered.json()["client_id"], secrets.token_urlsafe(48)
    target = {"resource": resource} if resource else {}
    query = {
        "response_type": "code", "client_id": client_id, "redirect_uri": user.redirect_uri,
        "scope": scope, "state": secrets.token_urlsafe(16), "code_challenge_method": "S256",
        "code_challenge": create_s256_code_challenge(verifier), **target,
    }  # fmt: skip
    authorize = endpoints["authorization_endpoint"]
    user.sign_in(requests.Request("GET", authorize, params=query).prepare().url)
    code = parse_qs(urlsplit(user.returned or "").query)["code"][0]
    redeem = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
              "redirect_uri": user.redirect_uri, "code_verifier": verifier, **target}  # fmt: skip
    answer = requests.post(endpoints["token_endpoint"], data=redeem, timeout=10)
    answer.raise_for_status()
    return answer.json()["access_token"]


async def try_to_connect(
    url: str, auth: httpx2.Auth | None = None, transport: httpx2.AsyncBaseTransport | None = None,
    token: str | None = None,
) -> str:  # fmt: skip
    """List the MCP server's tools as ``auth`` (or a fixed ``token``); one line saying how
    it went. The SDK reports an HTTP refusal as a bare error, so the answers are watched
    too, and the server's own reason (its ``WWW-Authenticate``) is what the line shows."""
    refused: list[str] = []

    async def watch(response: httpx2.Response) -> None:
        said = dict(_PARAM.findall(response.headers.get("WWW-Authenticate", "")))
        if response.status_code in (401, 403) and "error" in said:
            why = said.get("error_description", "")
            refused.append(f"{response.status_code} {said['error']}: {why}")

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    hooks = {"response": [watch]}
    # The SDK logs a failed login with its traceback; the one line returned says it.
    quiet = logging.getLogger("mcp.client.auth")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # setLevel, not the attribute: it clears logging's cache
    try:
        async with (
            httpx2.AsyncClient(
                auth=auth, transport=transport, headers=headers, event_hooks=hooks, timeout=30
            ) as http,  # fmt: skip
            Client(streamable_http_client(url, http_client=http)) as mcp,
        ):
            tools = await mcp.list_tools()
    except Exception as error:  # noqa: BLE001 - any failure is the answer, on one line
        return "refused: " + (refused[-1] if refused else _first(error))
    finally:
        quiet.setLevel(level)
    return f"connected: tools {[tool.name for tool in tools.tools]}"


_PARAM = re.compile(r'(\w+)="([^"]*)"')  # a parameter of a challenge (RFC 9110 §11.2)


def _first(error: BaseException) -> str:
    """The first reason inside an exception group (anyio raises them): type and message."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"
