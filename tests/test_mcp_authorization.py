"""MCP authorization (revision 2026-07-28) between an MCP client, the MCP server on its
runtime, and the lab IdP: discovery, registration, resource-bound tokens, ``iss``.

The proof is the official ``mcp`` SDK's own OAuth client, given nothing but the runtime's
URL. Protocol pieces are then checked one by one, and the attacks of notebook 10 (marked
``attack``) fail for the reason the RFCs give; each has a control beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx2
import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from conftest import (
    MCP_REDIRECT,
    challenge_params,
    lab_with_mcp_runtime,
    mcp_list_and_call,
    mcp_provider,
    new_verifier,
    query_of,
)
from mcp.client import Client
from mcp.client.auth import OAuthFlowError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult

from helpers.cast import audiences, fitness_api
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab
from helpers.mcp_attacks import PointedAt, RogueServer
from helpers.mcp_login import ScriptedUser, Tokens, token_by_hand, try_to_connect

attack = pytest.mark.attack
TIMEOUT = 10


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from lab_with_mcp_runtime()


@pytest.fixture(scope="module")
def mcp_url(lab: Lab) -> str:
    return lab.agentcore.mcp_url


def alice() -> ScriptedUser:
    return ScriptedUser("alice", "alice-lab-password", MCP_REDIRECT)


def register(lab: Lab, **metadata: object) -> requests.Response:
    body = {"redirect_uris": [MCP_REDIRECT], "client_name": "a test client", **metadata}
    return requests.post(f"{lab.urls.issuer}/register", json=body, timeout=TIMEOUT)


def public_client(lab: Lab) -> str:
    resp = register(lab, grant_types=["authorization_code", "refresh_token"])
    assert resp.status_code == 201, resp.text
    return resp.json()["client_id"]


def authorize_public(lab: Lab, client_id: str, verifier: str, **params: str) -> str:
    """Alice through /authorize and consent; the URL the IdP sends her back to."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": MCP_REDIRECT,
        "scope": "activities:read offline_access",
        "state": "s-1",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        **params,
    }
    browser = lab.browser()
    url = requests.Request("GET", f"{lab.urls.issuer}/authorize", params=query).prepare().url
    browser.sign_in(url, "alice", "alice-lab-password", stop_at=MCP_REDIRECT)
    return browser.history[-1].location


def redeem_public(lab: Lab, client_id: str, code: str, verifier: str, **extra: str):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": MCP_REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
        **extra,
    }
    return requests.post(f"{lab.urls.issuer}/token", data=data, timeout=TIMEOUT)


def token_for(lab: Lab, resource: str | None) -> str:
    """Alice's access token from a client of her own, ``resource`` as given (None: none)."""
    return token_by_hand(lab.urls.issuer, alice(), resource)


def post_mcp(url: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    return requests.post(url, json=initialize, headers=headers, timeout=TIMEOUT)


# -- the official client, by discovery alone -------------------------------------------


def test_the_official_mcp_client_logs_in_by_discovery_alone(lab: Lab, mcp_url: str) -> None:
    user, storage = alice(), Tokens()
    tools, result = mcp_list_and_call(mcp_url, mcp_provider(mcp_url, user, storage))
    assert tools == ["list_activities"]
    assert result["status"] == 200 and result["body"]["athlete"] == "user-1-alice"
    # It registered itself, was sent to the IdP with the runtime as resource, and got
    # a token for the MCP server alone.
    registered = lab.idp.store.clients[storage.client_info.client_id]
    assert registered.self_registered and registered.token_endpoint_auth_method == "none"
    (sent,) = user.authorization_urls
    assert query_of(sent)["resource"] == mcp_url
    assert query_of(user.returned)["iss"] == lab.urls.issuer
    claims = decode_unverified(storage.tokens.access_token)[1]
    assert claims["aud"] == [audiences.MCP]
    # Downstream, the MCP server exchanged that token; it did not pass it through.
    hops = result["tokens"]
    assert hops["received"]["client_id"] == storage.client_info.client_id
    assert hops["sent_downstream"]["aud"] == [audiences.FITNESS_API]
    assert hops["sent_downstream"]["act"] == {"sub": audiences.MCP}


def test_a_second_session_reuses_the_registration_and_token(lab: Lab, mcp_url: str) -> None:
    user, storage = alice(), Tokens()
    mcp_list_and_call(mcp_url, mcp_provider(mcp_url, user, storage))
    clients = len(lab.idp.store.clients)
    mcp_list_and_call(mcp_url, mcp_provider(mcp_url, user, storage))
    assert len(user.authorization_urls) == 1  # no second login
    assert len(lab.idp.store.clients) == clients  # no second registration


# -- the pieces, one by one ------------------------------------------------------------


def test_a_request_without_a_token_is_challenged_towards_the_metadata(
    lab: Lab, mcp_url: str
) -> None:
    resp = post_mcp(mcp_url)
    assert resp.status_code == 401
    params = challenge_params(resp)
    assert "error" not in params  # RFC 6750 §3.1: no credentials, no error code
    assert params["scope"] == "activities:read"
    assert urlsplit(params["resource_metadata"]).path == (
        "/.well-known/oauth-protected-resource" + urlsplit(mcp_url).path
    )
    metadata = requests.get(params["resource_metadata"], timeout=TIMEOUT).json()
    assert metadata["resource"] == mcp_url
    assert metadata["authorization_servers"] == [lab.urls.issuer]
    assert metadata["scopes_supported"] == ["activities:read"]
    assert metadata["bearer_methods_supported"] == ["header"]


def test_metadata_of_no_runtime_is_a_clean_404(lab: Lab, mcp_url: str) -> None:
    base = f"{urlsplit(mcp_url).scheme}://{urlsplit(mcp_url).netloc}"
    for path in ("/runtimes/arn%3Anothing/invocations", "/elsewhere"):
        resp = requests.get(f"{base}/.well-known/oauth-protected-resource{path}", timeout=5)
        assert resp.status_code == 404
        assert resp.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_the_idp_publishes_rfc8414_metadata(lab: Lab) -> None:
    oauth = requests.get(f"{lab.urls.issuer}/.well-known/oauth-authorization-server", timeout=5)
    oidc = requests.get(lab.urls.discovery, timeout=5)
    assert oauth.json() == oidc.json()
    metadata = oauth.json()
    assert metadata["issuer"] == lab.urls.issuer
    assert metadata["registration_endpoint"] == f"{lab.urls.issuer}/register"
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]


def test_registration_makes_a_public_client_without_a_secret(lab: Lab) -> None:
    resp = register(lab)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    assert body["scope"] == "openid profile offline_access activities:read"
    assert lab.idp.store.clients[body["client_id"]].self_registered


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"),
        ({"redirect_uris": ["http://evil.example/callback"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"scope": "activities:read agent:invoke"}, "invalid_client_metadata"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ],
    ids=["secret_method", "remote_http_redirect", "no_redirect", "agent_scope", "machine_grant"],
)
def test_registration_outside_the_limits_is_refused(lab: Lab, metadata: dict, error: str) -> None:
    clients = set(lab.idp.store.clients)
    resp = register(lab, **metadata)
    assert resp.status_code == 400
    assert resp.json()["error"] == error
    assert set(lab.idp.store.clients) == clients  # nothing was registered


def test_the_consent_page_says_a_self_registered_name_is_unverified(lab: Lab) -> None:
    client_id, verifier = public_client(lab), new_verifier()
    browser = lab.browser()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": MCP_REDIRECT,
        "scope": "activities:read",
        "state": "s",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    url = requests.Request("GET", f"{lab.urls.issuer}/authorize", params=query).prepare().url
    page = browser.visit(url)
    page = browser.submit(page, {"username": "alice", "password": "alice-lab-password"})
    assert 'id="unverified"' in page.text and "a test client" in page.text


def test_every_authorization_response_names_the_issuer(lab: Lab) -> None:
    client_id, verifier = public_client(lab), new_verifier()
    granted = query_of(authorize_public(lab, client_id, verifier))
    refused = query_of(authorize_public(lab, client_id, verifier, resource="https://nowhere/"))
    assert "code" in granted and refused["error"] == "invalid_target"
    assert granted["iss"] == refused["iss"] == lab.urls.issuer


def test_a_token_for_the_resource_carries_its_audience_alone(lab: Lab, mcp_url: str) -> None:
    token = token_for(lab, mcp_url)
    assert decode_unverified(token)[1]["aud"] == [audiences.MCP]
    assert post_mcp(mcp_url, token).status_code == 200


def test_a_refresh_keeps_the_resource_and_cannot_change_it(lab: Lab, mcp_url: str) -> None:
    client_id, verifier = public_client(lab), new_verifier()
    back = query_of(authorize_public(lab, client_id, verifier, resource=mcp_url))
    token = redeem_public(lab, client_id, back["code"], verifier).json()

    def refresh(refresh_token: str, **extra: str) -> requests.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": client_id, **extra}  # fmt: skip
        return requests.post(f"{lab.urls.issuer}/token", data=data, timeout=TIMEOUT)

    elsewhere = refresh(token["refresh_token"], resource=lab.urls.fitness_api)
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_target"
    renewed = refresh(token["refresh_token"], resource=mcp_url)  # still usable: not claimed
    assert renewed.status_code == 200, renewed.text
    assert decode_unverified(renewed.json()["access_token"])[1]["aud"] == [audiences.MCP]


@pytest.mark.parametrize(
    ("at_authorize", "at_token"),
    [(["https://nowhere.example/api"], None), (["{mcp}", "{api}"], None), (["{mcp}"], "{api}")],
    ids=["unknown", "two_resources", "changed_at_token"],
)
def test_a_resource_the_grant_cannot_serve_is_invalid_target(
    lab: Lab, mcp_url: str, at_authorize: list[str], at_token: str | None
) -> None:
    names = {"mcp": mcp_url, "api": lab.urls.fitness_api}
    asked = [r.format(**names) for r in at_authorize]
    client_id, verifier = public_client(lab), new_verifier()
    back = query_of(authorize_public(lab, client_id, verifier, resource=asked))
    if at_token is None:
        assert back["error"] == "invalid_target" and "code" not in back
        return
    resp = redeem_public(lab, client_id, back["code"], verifier, resource=at_token.format(**names))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_target"


# -- the attacks of notebook 10 --------------------------------------------------------


@attack
def test_a_token_for_another_resource_is_refused(lab: Lab, mcp_url: str) -> None:
    token = token_for(lab, lab.urls.fitness_api)
    resp = post_mcp(mcp_url, token)
    assert resp.status_code == 401
    params = challenge_params(resp)
    assert params["error"] == "invalid_token"
    assert "fitness-api" in params["error_description"] and "resource_metadata" in params


@attack
def test_a_token_asked_for_without_resource_is_refused(lab: Lab, mcp_url: str) -> None:
    # Without resource the IdP can only guess the audience from the scope: the fitness
    # API's, which the MCP server refuses.
    token = token_for(lab, None)
    assert decode_unverified(token)[1]["aud"] == [audiences.FITNESS_API]
    resp = post_mcp(mcp_url, token)
    assert resp.status_code == 401 and challenge_params(resp)["error"] == "invalid_token"


@attack
@pytest.mark.parametrize("iss", ["https://attacker.example", None], ids=["other", "missing"])
def test_an_authorization_response_from_another_issuer_is_refused(
    lab: Lab, mcp_url: str, iss: str | None
) -> None:
    # A mix-up: the code reaching the client's redirect URI claims another issuer (or none,
    # though the IdP advertises that it always sends one). The client stops before /token.
    user = alice()

    async def forged_callback() -> AuthorizationCodeResult:
        real = await user.callback_handler()
        return real.model_copy(update={"iss": iss})

    client = mcp_provider(mcp_url, user)
    client.context.callback_handler = forged_callback
    before = lab.idp.store.token_requests
    with pytest.raises(ExceptionGroup) as raised:
        mcp_list_and_call(mcp_url, client)
    assert raised.group_contains(OAuthFlowError, match="iss")
    assert lab.idp.store.token_requests == before


def test_control_the_real_issuer_passes(lab: Lab, mcp_url: str) -> None:
    user = alice()

    async def checked_callback() -> AuthorizationCodeResult:
        real = await user.callback_handler()
        assert real.iss == lab.urls.issuer
        return real

    client = mcp_provider(mcp_url, user)
    client.context.callback_handler = checked_callback
    assert mcp_list_and_call(mcp_url, client)[0] == ["list_activities"]


@attack
def test_metadata_naming_the_attackers_server_gets_a_token_the_runtime_refuses(
    lab: Lab, mcp_url: str
) -> None:
    # Metadata altered on the way names the attacker's server, a real one: the client
    # registers there, Alice signs in there, and it mints a token for this resource. The
    # runtime trusts only the issuer of its own authorizer's discovery URL.
    user = alice()
    with RogueServer(mcp_url, audiences.MCP) as rogue:
        said = asyncio.run(
            try_to_connect(mcp_url, mcp_provider(mcp_url, user), PointedAt(rogue.issuer))
        )
        went = user.authorization_urls
        assert went and all(url.startswith(f"{rogue.issuer}/authorize") for url in went)
    assert said == (
        f"refused: 401 invalid_token: User token rejected: The token's issuer "
        f"'{rogue.issuer}' is not trusted."
    )


def test_control_the_same_client_through_honest_metadata_connects(lab: Lab, mcp_url: str) -> None:
    said = asyncio.run(try_to_connect(mcp_url, mcp_provider(mcp_url, alice())))
    assert said == "connected: tools ['list_activities']"


class SwappedIssuer(httpx2.AsyncHTTPTransport):
    """Someone on the path who rewrites the IdP's RFC 8414 metadata to name another issuer."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/oauth-authorization-server"):
            return response
        await response.aread()
        return httpx2.Response(200, json=response.json() | {"issuer": "https://attacker.example"})


@attack
def test_an_altered_authorization_server_metadata_issuer_is_refused(lab: Lab, mcp_url: str) -> None:
    # The client checks that the metadata it fetched names the server it asked (RFC 8414
    # §3.3): a document for another issuer, served at the IdP's address, stops the flow.
    user = alice()
    client = mcp_provider(mcp_url, user)

    async def run() -> None:
        async with (
            httpx2.AsyncClient(auth=client, transport=SwappedIssuer()) as http,
            Client(streamable_http_client(mcp_url, http_client=http)),
        ):
            pass

    with pytest.raises(ExceptionGroup) as raised:
        asyncio.run(run())
    assert raised.group_contains(OAuthFlowError, match="issuer mismatch")
    assert user.authorization_urls == []  # Alice was never sent anywhere


@attack
def test_the_mcp_clients_token_passed_through_is_refused_by_the_api(lab: Lab, mcp_url: str) -> None:
    token = token_for(lab, mcp_url)
    resp = requests.get(
        lab.urls.fitness_api + fitness_api.ACTIVITIES_PATH,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 401
    assert challenge_params(resp)["error"] == "invalid_token"
