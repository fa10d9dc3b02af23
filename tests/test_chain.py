"""The request chain user -> frontend -> agent (runtime) -> MCP server (runtime) -> fitness
API, with one audience-bound token per hop: RFC 8693 token exchange at the IdP, AgentCore
Identity's ON_BEHALF_OF_TOKEN_EXCHANGE at every hop, and token passthrough refused wherever
it is tried."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from conftest import (
    TIMEOUT,
    Forger,
    call_api,
    create_lab_oauth2_provider,
    introspect,
    oauth_error,
    token_exchange,
)

from helpers import aws
from helpers.agentcore.workload_tokens import WAT_TTL, WorkloadTokens
from helpers.cast.mcp_server import call_tool
from helpers.clock import LabClock
from helpers.jwt_check import verify_jwt
from helpers.lab import Lab
from helpers.rfc8693 import ACCESS_TOKEN_TYPE, GRANT_TYPE

attack = pytest.mark.attack
PROVIDER = "coach-obo"  # AgentCore Identity exchanges as the coach's IdP client
MCP_PROVIDER = "mcp-obo"  # ... and as the MCP server's, one hop later
AGENT, MCP, API = "fitness-agent", "fitness-mcp", "fitness-api"
ALICE = "user-1-alice"


@dataclass(frozen=True)
class Chain:
    lab: Lab
    user_token: str  # alice's token from the frontend's session: audience fitness-agent
    mcp_arn: str
    coach_arn: str

    def url(self, arn: str) -> str:
        return self.lab.agentcore.invocation_url(arn)


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    lab = Lab(agentcore=True)
    try:
        cp = aws.client(
            "bedrock-agentcore-control", lab.agentcore.identity.control_server.url, aws.OPERATOR
        )
        for workload, provider in ((AGENT, PROVIDER), (MCP, MCP_PROVIDER)):
            cp.create_workload_identity(name=workload)
            create_lab_oauth2_provider(cp, lab, provider, workload)
        activities_url = f"{lab.urls.fitness_api}/v1/athlete/activities"
        mcp_arn = lab.agentcore.deploy_mcp(
            provider_name=MCP_PROVIDER, activities_url=activities_url
        )
        arn = lab.agentcore.deploy_coach(
            activities_url=activities_url, mcp_arn=mcp_arn, obo_provider_name=PROVIDER
        )
        yield Chain(lab, signed_in_token(lab), mcp_arn, arn)
    finally:
        lab.stop()


def signed_in_token(lab: Lab) -> str:
    browser = lab.browser()
    browser.sign_in(f"{lab.urls.frontend}/login", "alice", "alice-lab-password")
    return lab.frontend.session_tokens(browser.session.cookies["frontend_session"])["access_token"]


def creds(lab: Lab, client_id: str) -> tuple[str, str]:
    return client_id, lab.client_secret(client_id)


def exchange(
    lab: Lab, subject_token: str | None, client: str = AGENT, **params: str | None
) -> requests.Response:
    """RFC 8693 at /token as ``client``: by default for the MCP server, to read activities."""
    return token_exchange(lab, subject_token, client, **{"audience": MCP, **params})


def verified(lab: Lab, token: str, audience: str) -> dict:
    jwks = requests.get(f"{lab.urls.issuer}/jwks", timeout=TIMEOUT).json()
    return verify_jwt(
        token, jwks=jwks, issuer=lab.urls.issuer, audience=audience, now=lab.clock.now()
    )


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def mcp_token(chain: Chain) -> str:
    resp = exchange(chain.lab, chain.user_token)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


# -- RFC 8693 at the IdP --------------------------------------------------------------------
def test_exchange_mints_a_token_for_the_next_hop_only(chain: Chain) -> None:
    # Alice granted the coach agent:invoke, not activities:read: what the coach may pass on
    # for her is what the IdP lets it delegate.
    granted = claims_of(chain.user_token)["scope"].split()
    assert "agent:invoke" in granted and "activities:read" not in granted
    resp = exchange(chain.lab, chain.user_token)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    assert body["scope"] == "activities:read" and "refresh_token" not in body
    claims = verified(chain.lab, body["access_token"], MCP)
    assert claims["aud"] == [MCP]  # exactly the named audience, not what the scope implies
    assert claims["sub"] == ALICE and claims["act"] == {"sub": AGENT}
    assert claims["client_id"] == AGENT and claims["scope"] == "activities:read"
    assert introspect(chain.lab, body["access_token"])["active"] is True
    assert chain.lab.idp.store.token_log[-1]["audience"] == MCP  # shown, not masked


def test_a_second_exchange_nests_the_earlier_actor(chain: Chain) -> None:
    resp = exchange(chain.lab, mcp_token(chain), client=MCP, audience=API)
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    claims = verified(chain.lab, token, API)
    assert claims["aud"] == [API] and claims["sub"] == ALICE
    assert claims["act"] == {"sub": MCP, "act": {"sub": AGENT}}  # RFC 8693 §4.1
    assert call_api(chain.lab, token).json()["athlete"] == ALICE


@attack
@pytest.mark.parametrize(
    ("client", "params", "error", "why"),
    [
        # The user's token was minted for the agent: the MCP server may not trade it in.
        (MCP, {"audience": API}, "invalid_request", "meant for"),
        (AGENT, {"audience": "payroll-api"}, "invalid_target", "not a known audience"),
        (AGENT, {"audience": None, "resource": "payroll-api"}, "invalid_target", "known"),
        (AGENT, {"audience": None}, "invalid_request", "audience"),
        (AGENT, {"scope": "activities:read activities:write"}, "invalid_scope", "delegated"),
        (AGENT, {"scope": "agent:invoke"}, "invalid_scope", "delegated"),  # user's, not ours
        (AGENT, {"scope": None}, "invalid_scope", "scopes"),
        (AGENT, {"subject_token_type": "urn:x:id_token"}, "invalid_request", "subject_token"),
        (AGENT, {"actor_token": "x"}, "invalid_request", "actor_token"),
        ("reporting-job", {}, "unauthorized_client", "may not exchange"),
    ],
)
def test_exchange_refusals(chain: Chain, client: str, params: dict, error: str, why: str) -> None:
    resp = exchange(chain.lab, chain.user_token, client=client, **params)
    assert resp.status_code in (400, 401), resp.text
    assert oauth_error(resp) == error and why in resp.json()["error_description"]


@pytest.mark.parametrize(
    ("act", "status"),
    [
        (None, 200),  # Alice's own token for the coach: her consent to what it may delegate
        # A token already delegated: only ever narrowed, never widened.
        pytest.param({"sub": MCP}, 400, marks=attack),
    ],
)
def test_agent_invoke_lets_only_the_first_hop_delegate(
    chain: Chain, act: dict | None, status: int
) -> None:
    forge = Forger(chain.lab)
    claims = forge.claims(aud=[AGENT], scope="agent:invoke", act=act)
    resp = exchange(chain.lab, forge.register(forge.sign(claims=claims), scope="agent:invoke"))
    assert resp.status_code == status, resp.text
    if act:
        assert oauth_error(resp) == "invalid_scope"
        assert "Only nothing can be delegated" in resp.json()["error_description"]


@attack
@pytest.mark.parametrize("subject", ["", "not-a-jwt", "forged"])
def test_exchange_refuses_a_subject_token_that_is_no_token_of_ours(
    chain: Chain, subject: str
) -> None:
    if subject == "forged":  # alice's claims, our kid, somebody else's signature
        head, body, _ = chain.user_token.split(".")
        subject = f"{head}.{body}.{'A' * 342}"
    resp = exchange(chain.lab, subject)
    assert resp.status_code == 400 and oauth_error(resp) == "invalid_request"


@attack
def test_exchange_refuses_a_revoked_subject_token(chain: Chain) -> None:
    token = mcp_token(chain)
    revoked = requests.post(
        f"{chain.lab.urls.issuer}/revoke",
        data={"token": token},
        auth=creds(chain.lab, AGENT),  # the client it was issued to
        timeout=TIMEOUT,
    )
    assert revoked.status_code == 200
    resp = exchange(chain.lab, token, client=MCP, audience=API)
    assert oauth_error(resp) == "invalid_request" and "revoked" in resp.json()["error_description"]


@attack
@pytest.mark.parametrize("auth", [None, (AGENT, "wrong-secret")])
def test_exchange_needs_an_authenticated_client(chain: Chain, auth: tuple[str, str] | None) -> None:
    data = {
        "grant_type": GRANT_TYPE,
        "subject_token": chain.user_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": MCP,
        "scope": "activities:read",
    }
    resp = requests.post(f"{chain.lab.urls.issuer}/token", data=data, auth=auth, timeout=TIMEOUT)
    assert resp.status_code == 401 and oauth_error(resp) == "invalid_client"


# -- ON_BEHALF_OF_TOKEN_EXCHANGE in the emulator -------------------------------------------
def data_plane(chain: Chain):  # noqa: ANN201 - a boto3 client
    return aws.client(
        "bedrock-agentcore", chain.lab.agentcore.identity.data_server.url, aws.AGENT_RUNTIME
    )


def obo(chain: Chain, wat: str, **extra: object) -> dict:
    params = {
        "workloadIdentityToken": wat,
        "resourceCredentialProviderName": PROVIDER,
        "scopes": ["activities:read"],
        "oauth2Flow": "ON_BEHALF_OF_TOKEN_EXCHANGE",
        "audiences": [MCP],
        **extra,
    }
    return data_plane(chain).get_resource_oauth2_token(**params)


def wat_for_jwt(chain: Chain) -> str:
    return data_plane(chain).get_workload_access_token_for_jwt(
        workloadName=AGENT, userToken=chain.user_token
    )["workloadAccessToken"]


def aws_error(call) -> dict:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]


def test_obo_exchanges_the_users_jwt_behind_the_wat(chain: Chain) -> None:
    wat = wat_for_jwt(chain)
    # The WAT only points at the user's JWT: the JWT itself stays inside the emulator.
    assert chain.user_token not in wat
    assert chain.user_token not in str(claims_of(wat))
    claims = verified(chain.lab, obo(chain, wat)["accessToken"], MCP)
    assert claims["aud"] == [MCP] and claims["sub"] == ALICE
    assert claims["act"] == {"sub": AGENT}


@attack
def test_obo_needs_a_wat_minted_from_a_user_token(chain: Chain) -> None:
    dp = data_plane(chain)
    by_id = dp.get_workload_access_token_for_user_id(workloadName=AGENT, userId=ALICE)
    machine = dp.get_workload_access_token(workloadName=AGENT)
    for wat in (by_id["workloadAccessToken"], machine["workloadAccessToken"]):
        error = aws_error(lambda wat=wat: obo(chain, wat))
        assert error["Code"] == "ValidationException" and "user's JWT" in error["Message"]


@attack
def test_obo_surfaces_the_idps_refusal(chain: Chain) -> None:
    wat = wat_for_jwt(chain)
    error = aws_error(lambda: obo(chain, wat, audiences=["payroll-api"]))
    assert error["Code"] == "AccessDeniedException" and "invalid_target" in error["Message"]
    error = aws_error(lambda: obo(chain, wat, audiences=[MCP, API]))
    assert error["Code"] == "ValidationException" and "exactly one" in error["Message"]


def test_the_users_jwt_is_forgotten_with_its_wat() -> None:
    clock = LabClock()
    tokens = WorkloadTokens("https://emulator.invalid", clock)
    workload = tokens.verify(tokens.mint(AGENT, "jwt:iss#alice", "alice.jwt"))
    assert tokens.user_token(workload) == "alice.jwt"
    clock.advance(WAT_TTL)
    assert tokens.user_token(workload) is None


# -- the whole chain ------------------------------------------------------------------------
def invoke(chain: Chain, action: str) -> dict:
    resp = requests.post(
        chain.url(chain.coach_arn),
        json={"prompt": "How was my week?", "action": action},
        headers={"Authorization": f"Bearer {chain.user_token}"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()[action]


def test_every_hop_gets_its_own_audience_bound_token(chain: Chain) -> None:
    answer = invoke(chain, "mcp")
    tool = answer["tool"]
    assert tool["status"] == 200, tool
    result = tool["result"]
    assert result["status"] == 200 and result["body"]["athlete"] == ALICE
    # Evidence from each service about the token it received.
    at_agent = answer["tokens"]["received"]
    at_mcp = result["tokens"]["received"]
    at_api = result["tokens"]["sent_downstream"]
    assert at_agent["jti"] == claims_of(chain.user_token)["jti"]
    assert at_mcp == answer["tokens"]["sent_downstream"]  # what the coach sent arrived
    hops = [at_agent, at_mcp, at_api]
    assert len({h["jti"] for h in hops}) == 3  # three tokens, none forwarded
    assert AGENT in at_agent["aud"] and at_mcp["aud"] == [MCP] and at_api["aud"] == [API]
    assert len({tuple(h["aud"]) for h in hops}) == 3
    assert all(h["sub"] == ALICE for h in hops)
    assert at_mcp["act"] == {"sub": AGENT}
    assert at_api["act"] == {"sub": MCP, "act": {"sub": AGENT}}
    assert all("…" in h["token"] for h in hops)  # masked: evidence, not credentials


def mcp_post(url: str, method: str, headers: dict[str, str], **params: object) -> requests.Response:
    """One JSON-RPC request to a stateless MCP endpoint, as an MCP client sends it."""
    return requests.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        headers={"Accept": "application/json, text/event-stream", **headers},
        timeout=TIMEOUT,
    )


def test_the_front_door_forwards_mcp_requests_and_answers(chain: Chain) -> None:
    bearer = {"Authorization": f"Bearer {mcp_token(chain)}"}
    client = {"name": "test", "version": "1"}
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}
    resp = mcp_post(chain.url(chain.mcp_arn), "initialize", bearer, **hello)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["result"]["serverInfo"]["name"] == "fitness"
    # The modeled headers reach the container: it judges them itself.
    for header, value, status in [("Accept", "text/html", 406), ("Mcp-Protocol-Version", "1", 400)]:
        resp = mcp_post(chain.url(chain.mcp_arn), "tools/list", {**bearer, header: value})
        assert resp.status_code == status, resp.text


def test_an_mcp_client_calls_the_tool_through_the_front_door(chain: Chain) -> None:
    called = call_tool(chain.url(chain.mcp_arn), mcp_token(chain), "list_activities")
    assert called.status == 200 and called.result["body"]["athlete"] == ALICE
    assert called.result["tokens"]["sent_downstream"]["act"] == {"sub": MCP, "act": {"sub": AGENT}}


@attack
def test_passthrough_is_refused_at_the_mcp_runtime_and_at_the_api(chain: Chain) -> None:
    answer = invoke(chain, "passthrough")
    at_mcp = answer["user_token_to_mcp"]
    aud = at_mcp["token"]["aud"]
    assert MCP not in aud
    assert at_mcp["status"] == 401 and at_mcp["refused"] == (  # MCP: 401, log in again
        f"AccessDeniedException: User token rejected: The token is meant for {aud!r}, "
        f"not for us ('{MCP}')."
    )
    at_api = answer["mcp_token_to_fitness_api"]
    assert at_api["status"] == 401
    assert at_api["body"]["error_description"] == (
        f"The token is meant for ['{MCP}'], not for us ('{API}')."
    )


@attack
def test_each_runtime_accepts_only_its_own_audience(chain: Chain) -> None:
    refused = call_tool(chain.url(chain.mcp_arn), chain.user_token, "list_activities")
    assert refused.status == 401 and refused.result is None  # MCP authorization's status
    assert f"not for us ('{MCP}')" in refused.refused
    resp = requests.post(
        chain.url(chain.coach_arn),
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {mcp_token(chain)}"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 403 and f"not for us ('{AGENT}')" in resp.json()["message"]


@attack
@pytest.mark.parametrize("wat", ["none", "the coach's"])
def test_the_mcp_server_needs_its_own_wat(chain: Chain, wat: str) -> None:
    # Straight at the container, past the front door: only a WAT of fitness-mcp opens the API.
    server = chain.lab.agentcore.identity.runtime.runtimes[chain.mcp_arn].url
    headers = {"WorkloadAccessToken": wat_for_jwt(chain)} if wat != "none" else {}
    resp = mcp_post(f"{server}/mcp", "tools/call", headers, name="list_activities", arguments={})
    result = resp.json()["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    if wat == "none":
        assert "no workload access token" in text
    else:  # the MCP runtime's role may not spend the coach's WAT
        assert "AccessDeniedException" in text and "workload identity fitness-agent" in text
