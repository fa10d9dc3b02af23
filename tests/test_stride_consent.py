"""Authorization code downstream of the MCP server: Stride, a fitness service that trusts
only its own authorization server, read with the user's consent there (USER_FEDERATION).

The MCP server asks for the consent by URL-mode elicitation (MCP 2026-07-28); the consent
comes back through AgentCore's callback to the web app's return page, which binds it to
the user signed in there (CompleteResourceTokenAuth). Token exchange, the other path, cannot
reach Stride at all: the lab IdP knows no such audience, and Stride trusts no lab token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from conftest import TIMEOUT, create_lab_oauth2_provider, oauth_error, token_exchange

from helpers import aws
from helpers.browser import ScriptedBrowser
from helpers.cast.frontend import AGENTCORE_RETURN_PATH
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab

attack = pytest.mark.attack
ALICE = ("alice", "alice-lab-password")
BOB = ("bob", "bob-lab-password")
ALICE_AT_STRIDE = ("alice.runs", "alice-stride-password")
BOB_AT_STRIDE = ("bob.rides", "bob-stride-password")


@dataclass(frozen=True)
class Deployment:
    lab: Lab
    coach_url: str  # the coach runtime's invocation URL
    mcp_url: str  # the MCP runtime's
    callback_url: str  # AgentCore's, registered at Stride as the app's redirect URI
    client_id: str  # the app's at Stride

    def signed_in(self, user: tuple[str, str]) -> tuple[ScriptedBrowser, str]:
        """A browser signed in at the web app as ``user``, and the user's access token."""
        browser = self.lab.browser()
        browser.sign_in(f"{self.lab.urls.frontend}/login", *user)
        cookie = browser.session.cookies["frontend_session"]
        return browser, self.lab.frontend.session_tokens(cookie)["access_token"]

    def ask_coach(self, token: str) -> dict:
        resp = requests.post(
            self.coach_url,
            json={"prompt": "My Stride week?", "action": "stride"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["stride"]

    def mcp_token(self, user_token: str) -> str:
        """What the coach would send the MCP server: an exchanged fitness-mcp token."""
        resp = token_exchange(self.lab, user_token, "fitness-agent", "fitness-mcp")
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployment]:
    lab = Lab(agentcore=True)
    try:
        control = aws.client(
            "bedrock-agentcore-control", lab.agentcore.identity.control_server.url, aws.OPERATOR
        )
        create_lab_oauth2_provider(control, lab, "coach-obo", "fitness-agent")
        create_lab_oauth2_provider(control, lab, "mcp-obo", "fitness-mcp")
        app = lab.stride.register_app("Fitness MCP server")
        created = control.create_oauth2_credential_provider(
            name="stride",
            credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput={
                "customOauth2ProviderConfig": {
                    "oauthDiscovery": {"discoveryUrl": lab.stride.discovery},
                    "clientId": app.client_id,
                    "clientSecret": app.client_secret,
                }
            },
        )
        lab.stride.allow_redirect(app.client_id, created["callbackUrl"])
        activities_url = f"{lab.urls.fitness_api}/v1/athlete/activities"
        mcp_arn = lab.agentcore.deploy_mcp(
            provider_name="mcp-obo",
            activities_url=activities_url,
            stride_provider_name="stride",
            stride_activities_url=lab.stride.activities_url,
            return_url=lab.urls.frontend + AGENTCORE_RETURN_PATH,
        )
        coach_arn = lab.agentcore.deploy_coach(
            activities_url=activities_url, mcp_arn=mcp_arn, obo_provider_name="coach-obo"
        )
        yield Deployment(
            lab,
            lab.agentcore.invocation_url(coach_arn),
            lab.agentcore.invocation_url(mcp_arn),
            created["callbackUrl"],
            app.client_id,
        )
    finally:
        lab.stop()


def call_stride_tool(url: str, token: str, elicitation_callback: object = None) -> object:
    """The official MCP client, letting the SDK drive the input-required rounds itself."""
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    async def call() -> object:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(
                streamable_http_client(url, http_client=http),
                elicitation_callback=elicitation_callback,
            ) as client,
        ):
            return await client.call_tool("list_stride_activities", {})

    return asyncio.run(call())


def tool_text(result: object) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


# -- the consent, asked for and given ---------------------------------------------------
def test_the_mcp_server_asks_for_consent_at_stride_by_url_elicitation(
    deployed: Deployment,
) -> None:
    _, bob_token = deployed.signed_in(BOB)
    answer = deployed.ask_coach(bob_token)
    assert "Stride" in answer["message"]
    url = urlsplit(answer["consent_required"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    # Stride's own authorization endpoint, for the app registered there, coming back to
    # AgentCore's callback, with PKCE: nothing in it that works without Bob himself.
    assert f"{url.scheme}://{url.netloc}" == deployed.lab.stride.issuer
    assert url.path == "/authorize"
    assert query["client_id"] == deployed.client_id
    assert query["redirect_uri"] == deployed.callback_url
    assert query["scope"] == "activity:read"
    assert query["code_challenge_method"] == "S256"
    assert not {"code", "access_token", "client_secret"} & set(query)


def test_alice_connects_stride_through_the_official_clients_url_elicitation(
    deployed: Deployment,
) -> None:
    from mcp_types import ElicitResult

    browser, alice_token = deployed.signed_in(ALICE)
    shown: list[str] = []

    async def consent_in_the_browser(context: object, params: object) -> ElicitResult:
        # The client shows the URL; Alice opens it in the browser where she is signed in
        # at the web app, signs in at Stride and allows. Her browser ends on the return page.
        shown.append(params.url)
        page = await asyncio.to_thread(browser.sign_in, params.url, *ALICE_AT_STRIDE)
        assert page.json()["status"] == "authorized", page.text
        return ElicitResult(action="accept")

    result = call_stride_tool(
        deployed.mcp_url, deployed.mcp_token(alice_token), consent_in_the_browser
    )
    assert len(shown) == 1 and not result.is_error, tool_text(result)
    stride = result.structured_content
    assert stride["status"] == 200
    assert stride["body"]["athlete"] == "athlete-4417"  # Alice's Stride account
    assert [a["id"] for a in stride["body"]["activities"]] == [9001, 9002]
    token = stride["token"]
    assert token["iss"] == deployed.lab.stride.issuer  # minted by Stride, not the lab IdP
    assert token["aud"] == ["stride-api"] and token["sub"] == "athlete-4417"
    assert "…" in token["token"]  # masked on its way out of the tool
    # From now on the vault has it: the coach reads Stride for Alice with no consent.
    answer = deployed.ask_coach(alice_token)
    assert answer["tool"]["result"]["body"]["athlete"] == "athlete-4417"


def test_a_declined_consent_is_a_tool_error_and_stores_nothing(deployed: Deployment) -> None:
    from mcp_types import ElicitResult

    _, bob_token = deployed.signed_in(BOB)

    async def decline(context: object, params: object) -> ElicitResult:
        return ElicitResult(action="decline")

    result = call_stride_tool(deployed.mcp_url, deployed.mcp_token(bob_token), decline)
    assert result.is_error
    assert "did not accept" in tool_text(result)
    assert "consent_required" in deployed.ask_coach(bob_token)


def test_a_client_that_cannot_show_a_url_is_told_so_and_gets_none(deployed: Deployment) -> None:
    _, bob_token = deployed.signed_in(BOB)
    result = call_stride_tool(deployed.mcp_url, deployed.mcp_token(bob_token))
    assert result.is_error
    assert "declared no URL-mode elicitation" in tool_text(result)
    assert "http" not in tool_text(result)


# -- attacks ------------------------------------------------------------------------------
@attack
def test_alice_cannot_finish_bobs_stride_consent(deployed: Deployment) -> None:
    """The phishing case of the MCP specification: a consent URL that one user started,
    completed by another. The return page vouches for the user signed in there."""
    _, bob_token = deployed.signed_in(BOB)
    bobs_url = deployed.ask_coach(bob_token)["consent_required"]
    alice, _ = deployed.signed_in(ALICE)
    page = alice.sign_in(bobs_url, *ALICE_AT_STRIDE)
    assert urlsplit(page.url).path == AGENTCORE_RETURN_PATH
    assert page.status_code == 403
    assert page.json()["error"] == "AccessDeniedException"
    # Nothing landed in Bob's vault: he is still asked, and Alice's Stride is not his.
    assert "consent_required" in deployed.ask_coach(bob_token)


@attack
def test_a_lab_idp_token_is_worthless_at_stride(deployed: Deployment) -> None:
    _, alice_token = deployed.signed_in(ALICE)
    lab = deployed.lab
    resp = requests.get(
        lab.stride.activities_url,
        headers={"Authorization": f"Bearer {alice_token}"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 401 and oauth_error(resp) == "invalid_token"
    assert "signed by someone else" in resp.json()["error_description"]  # not Stride's keys
    # Nor can token exchange make one: the lab IdP mints no token for Stride's API.
    resp = token_exchange(lab, alice_token, "fitness-agent", "stride-api")
    assert resp.status_code == 400 and oauth_error(resp) == "invalid_target"


@attack
def test_a_stride_token_reads_only_its_own_athlete(deployed: Deployment) -> None:
    """Stride's subject decides whose activities come back, never anything the caller says."""
    lab = deployed.lab
    browser = lab.browser()
    app = lab.stride.register_app("Somebody's script")
    lab.stride.allow_redirect(app.client_id, "http://127.0.0.1:9/cb")
    verifier = "v" * 50
    start = (
        f"{lab.stride.issuer}/authorize?response_type=code&client_id={app.client_id}"
        f"&redirect_uri=http://127.0.0.1:9/cb&scope=activity:read&state=s"
        f"&code_challenge={create_s256_code_challenge(verifier)}&code_challenge_method=S256"
    )
    page = browser.sign_in(start, *BOB_AT_STRIDE, stop_at="http://127.0.0.1:9/cb")
    code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{lab.stride.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "code_verifier": verifier,
        },
        auth=(app.client_id, app.client_secret),
        timeout=TIMEOUT,
    ).json()["access_token"]
    assert decode_unverified(token)[1]["sub"] == "athlete-5082"
    resp = requests.get(
        lab.stride.activities_url + "?athlete=athlete-4417",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert resp.json()["athlete"] == "athlete-5082"
    assert [a["id"] for a in resp.json()["activities"]] == [9101]
