"""AgentCore Identity flows end to end: USER_FEDERATION with session binding, the vault's
per-user isolation and persistence, the runtime front door, and the official SDK
(IdentityClient and both decorators) working unchanged against the emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import create_lab_oauth2_provider

from helpers import aws
from helpers.agentcore.lab_part import OUTBOUND_CLIENT_ID
from helpers.agentcore.runtime import AgentRuntime
from helpers.agentcore.workload_tokens import user_from_jwt
from helpers.browser import ScriptedBrowser
from helpers.lab import Lab

PROVIDER = "lab-fitness-api"
API_KEY_PROVIDER = "weather-api"
API_KEY = "wx-" + "k" * 29


@dataclass
class User:
    name: str
    browser: ScriptedBrowser
    token: str
    subject: str


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab(agentcore=True)
    lab.export_env()  # boto3 and the SDK read the endpoints from the environment
    cp = aws.client(
        "bedrock-agentcore-control", lab.agentcore.identity.control_server.url, aws.OPERATOR
    )
    cp.create_workload_identity(
        name="fitness-agent", allowedResourceOauth2ReturnUrls=[return_url(lab)]
    )
    create_lab_oauth2_provider(cp, lab, PROVIDER, OUTBOUND_CLIENT_ID)
    cp.create_api_key_credential_provider(name=API_KEY_PROVIDER, apiKey=API_KEY)
    yield lab
    lab.stop()


def return_url(lab: Lab) -> str:
    return f"{lab.urls.frontend}/agentcore/return"


def sign_in(lab: Lab, name: str) -> User:
    browser = lab.browser()
    browser.sign_in(f"{lab.urls.frontend}/login", name, f"{name}-lab-password")
    tokens = lab.frontend.session_tokens(browser.session.cookies["frontend_session"])
    return User(name, browser, tokens["access_token"], tokens["userinfo"]["sub"])


def runtime_dp(lab: Lab, creds: aws.LabCredentials = aws.AGENT_RUNTIME):
    return aws.client("bedrock-agentcore", lab.agentcore.identity.data_server.url, creds)


def wat_for(lab: Lab, user: User) -> str:
    return runtime_dp(lab).get_workload_access_token_for_jwt(
        workloadName="fitness-agent", userToken=user.token
    )["workloadAccessToken"]


def ask_token(lab: Lab, wat: str, **extra: object) -> dict:
    params = {
        "workloadIdentityToken": wat,
        "resourceCredentialProviderName": PROVIDER,
        "scopes": ["activities:read"],
        "oauth2Flow": "USER_FEDERATION",
        "resourceOauth2ReturnUrl": return_url(lab),
        **extra,
    }
    return runtime_dp(lab).get_resource_oauth2_token(**params)


def vault_entries(lab: Lab, user: User) -> list[str]:
    return lab.agentcore.identity.vault.entries_for(
        "fitness-agent", user_from_jwt(lab.urls.issuer, user.subject)
    )


def consent(lab: Lab, user: User, authorization_url: str) -> requests.Response:
    return user.browser.sign_in(authorization_url, user.name, f"{user.name}-lab-password")


def activities(lab: Lab, token: str) -> requests.Response:
    return requests.get(
        f"{lab.urls.fitness_api}/v1/athlete/activities",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def error_code(call) -> str:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


# -- USER_FEDERATION --------------------------------------------------------------------
def test_user_federation_consent_completes_and_vaults_the_token(lab: Lab) -> None:
    alice = sign_in(lab, "alice")
    wat = wat_for(lab, alice)
    started = ask_token(lab, wat, customState="resume-chat-42")
    assert started["sessionStatus"] == "IN_PROGRESS"
    assert started["sessionUri"].startswith("urn:ietf:params:oauth:request_uri:")
    page = consent(lab, alice, started["authorizationUrl"])
    assert page.status_code == 200 and page.json() == {
        "status": "authorized",
        "state": "resume-chat-42",
    }
    assert vault_entries(lab, alice) == [PROVIDER]
    token = ask_token(lab, wat)["accessToken"]
    assert activities(lab, token).json()["athlete"] == alice.subject


@pytest.mark.attack
def test_another_user_cannot_complete_the_session(lab: Lab) -> None:
    bob = sign_in(lab, "bob")
    alice = sign_in(lab, "alice")  # the victim who started the session
    started = ask_token(lab, wat_for(lab, alice), forceAuthentication=True)
    before = vault_entries(lab, bob)
    page = consent(lab, bob, started["authorizationUrl"])  # Bob opens Alice's URL
    assert page.status_code == 403 and page.json()["error"] == "AccessDeniedException"
    assert vault_entries(lab, bob) == before
    # The hijacked session is dead for everyone, the victim included.
    polled = ask_token(lab, wat_for(lab, alice), sessionUri=started["sessionUri"])
    assert polled["sessionStatus"] == "FAILED" and "accessToken" not in polled


def test_a_trusted_backend_completes_with_the_user_id_it_vouched_for(lab: Lab) -> None:
    runtime = runtime_dp(lab)
    wat = runtime.get_workload_access_token_for_user_id(
        workloadName="fitness-agent", userId="carol"
    )["workloadAccessToken"]
    started = ask_token(lab, wat, forceAuthentication=True)
    browser = lab.browser()  # Carol consents at the provider, signed in there as alice
    back = browser.sign_in(
        started["authorizationUrl"], "alice", "alice-lab-password", stop_at=return_url(lab)
    )
    assert back.status_code == 302
    complete = runtime.complete_resource_token_auth
    wrong = error_code(
        lambda: complete(sessionUri=started["sessionUri"], userIdentifier={"userId": "mallory"})
    )
    assert wrong == "AccessDeniedException"  # and the session is now dead
    assert ask_token(lab, wat, sessionUri=started["sessionUri"])["sessionStatus"] == "FAILED"
    started = ask_token(lab, wat, forceAuthentication=True)
    browser.sign_in(
        started["authorizationUrl"], "alice", "alice-lab-password", stop_at=return_url(lab)
    )
    complete(sessionUri=started["sessionUri"], userIdentifier={"userId": "carol"})
    assert "accessToken" in ask_token(lab, wat)


@pytest.mark.attack
def test_a_completed_session_cannot_be_replayed(lab: Lab) -> None:
    alice = sign_in(lab, "alice")
    started = ask_token(lab, wat_for(lab, alice), forceAuthentication=True)
    page = consent(lab, alice, started["authorizationUrl"])
    assert page.status_code == 200 and page.json() == {"status": "authorized"}  # no customState
    again = alice.browser.visit(
        f"{return_url(lab)}?session_id={quote(started['sessionUri'], safe='')}"
    )
    assert again.status_code == 400 and again.json()["error"] == "ValidationException"


@pytest.mark.attack
def test_an_expired_session_is_refused(lab: Lab) -> None:
    alice = sign_in(lab, "alice")
    started = ask_token(lab, wat_for(lab, alice), forceAuthentication=True)
    lab.clock.advance(10 * 60 + 1)
    page = consent(lab, alice, started["authorizationUrl"])
    assert page.status_code == 400  # the provider's callback finds no live session


@pytest.mark.attack
def test_a_return_url_off_the_allow_list_is_refused(lab: Lab) -> None:
    alice = sign_in(lab, "alice")
    with pytest.raises(ClientError) as info:
        ask_token(
            lab,
            wat_for(lab, alice),
            forceAuthentication=True,
            resourceOauth2ReturnUrl="https://evil.example/collect",
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["fieldList"][0]["name"] == "resourceOauth2ReturnUrl"


@pytest.mark.attack
def test_one_users_wat_never_reaches_another_users_token(lab: Lab) -> None:
    alice, bob = sign_in(lab, "alice"), sign_in(lab, "bob")
    started = ask_token(lab, wat_for(lab, alice), forceAuthentication=True)
    consent(lab, alice, started["authorizationUrl"])
    assert "accessToken" in ask_token(lab, wat_for(lab, alice))
    bobs = ask_token(lab, wat_for(lab, bob))
    assert "accessToken" not in bobs and bobs["sessionStatus"] == "IN_PROGRESS"


def test_an_expired_vaulted_token_is_renewed_without_new_consent(lab: Lab) -> None:
    alice = sign_in(lab, "alice")
    started = ask_token(lab, wat_for(lab, alice), forceAuthentication=True)
    consent(lab, alice, started["authorizationUrl"])
    first = ask_token(lab, wat_for(lab, alice))["accessToken"]
    lab.clock.advance(3601)  # the vaulted access token has expired; its refresh token has not
    renewed = ask_token(lab, wat_for(lab, sign_in(lab, "alice")))["accessToken"]
    assert renewed != first and activities(lab, renewed).status_code == 200


def test_the_vault_keeps_tokens_across_an_emulator_restart(lab: Lab) -> None:
    alice = sign_in(lab, "alice")
    started = ask_token(lab, wat_for(lab, alice), forceAuthentication=True)
    consent(lab, alice, started["authorizationUrl"])
    wat = wat_for(lab, alice)
    vaulted = ask_token(lab, wat)["accessToken"]
    lab.agentcore.restart()
    # Both the vaulted token and the WAT minted before the restart survive it.
    assert ask_token(lab, wat)["accessToken"] == vaulted


# -- the runtime front door -----------------------------------------------------------
@pytest.fixture(scope="module")
def coach(lab: Lab) -> str:
    return lab.agentcore.deploy_coach(
        provider_name=PROVIDER,
        activities_url=f"{lab.urls.fitness_api}/v1/athlete/activities",
        return_url=return_url(lab),
    )


def invoke_url(lab: Lab, arn: str) -> str:
    return f"{lab.agentcore.identity.data_server.url}/runtimes/{quote(arn, safe='')}/invocations"


def test_a_jwt_caller_reaches_the_agent_with_a_wat_for_its_user(lab: Lab, coach: str) -> None:
    alice = sign_in(lab, "alice")
    resp = requests.post(
        invoke_url(lab, coach),
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {alice.token}"},
        timeout=30,
    )
    caller = resp.json()["caller"]
    assert (
        resp.status_code == 200 and caller["wat_present"] and caller["acting_for"] == "user-1-alice"
    )
    assert alice.token not in resp.text  # the agent never echoes a credential whole


def test_the_sdk_decorator_in_the_deployed_agent_gets_the_users_token(lab: Lab, coach: str) -> None:
    alice = sign_in(lab, "alice")
    body = {"prompt": "plan", "action": "activities"}
    headers = {"Authorization": f"Bearer {alice.token}"}
    coach_workload = lab.agentcore.identity.runtime.runtimes[coach].workload
    lab.agentcore.identity.vault.delete_oauth2_token(
        coach_workload, user_from_jwt(lab.urls.issuer, alice.subject), PROVIDER
    )
    first = requests.post(invoke_url(lab, coach), json=body, headers=headers, timeout=30).json()
    consent(lab, alice, first["activities"]["consent_required"])
    second = requests.post(invoke_url(lab, coach), json=body, headers=headers, timeout=30).json()
    assert second["activities"]["status"] == 200
    assert second["activities"]["body"]["athlete"] == "user-1-alice"


@pytest.mark.attack
def test_a_jwt_runtime_refuses_sigv4_and_bad_tokens(lab: Lab, coach: str) -> None:
    dp = runtime_dp(lab, aws.UNTRUSTED_APP)
    assert (
        error_code(lambda: dp.invoke_agent_runtime(agentRuntimeArn=coach, payload=b"{}"))
        == "AccessDeniedException"
    )
    resp = requests.post(
        invoke_url(lab, coach), json={}, timeout=30, headers={"Authorization": "Bearer not.a.jwt"}
    )
    assert resp.status_code == 403 and resp.headers["x-amzn-ErrorType"] == "AccessDeniedException"


@pytest.mark.attack
def test_only_a_trusted_caller_may_name_the_user(lab: Lab, coach: str) -> None:
    agent_url = lab.agentcore.identity.runtime.runtimes[coach].url
    iam = lab.agentcore.identity.runtime.host(
        AgentRuntime("fitness_coach_iam", "fitness-agent", agent_url, "IAM")
    )
    untrusted = runtime_dp(lab, aws.UNTRUSTED_APP)
    code = error_code(
        lambda: untrusted.invoke_agent_runtime(
            agentRuntimeArn=iam, payload=b"{}", runtimeUserId="user-1-alice"
        )
    )
    assert code == "AccessDeniedException"
    # Without the header the untrusted app gets a machine-only WAT: no user at all.
    anonymous = json.loads(
        untrusted.invoke_agent_runtime(agentRuntimeArn=iam, payload=b"{}")["response"].read()
    )
    assert anonymous["caller"]["wat_present"]
    trusted = runtime_dp(lab, aws.AGENT_RUNTIME).invoke_agent_runtime(
        agentRuntimeArn=iam, payload=b'{"prompt": "hi"}', runtimeUserId="user-1-alice"
    )
    assert trusted["ResponseMetadata"]["HTTPStatusCode"] == 200


# -- the SDK, unchanged ---------------------------------------------------------------
def test_identity_client_gets_wats_m2m_tokens_and_api_keys(lab: Lab) -> None:
    from bedrock_agentcore.services.identity import IdentityClient

    client = IdentityClient("us-east-1")
    alice = sign_in(lab, "alice")
    wat = client.get_workload_access_token("fitness-agent", user_token=alice.token)
    wat = wat["workloadAccessToken"]
    m2m = asyncio.run(
        client.get_token(
            provider_name=PROVIDER,
            scopes=["activities:read"],
            agent_identity_token=wat,
            auth_flow="M2M",
        )
    )
    assert activities(lab, m2m).status_code == 200
    key = asyncio.run(client.get_api_key(provider_name=API_KEY_PROVIDER, agent_identity_token=wat))
    assert key == API_KEY


def test_identity_client_user_federation_polls_until_consent(lab: Lab, monkeypatch) -> None:  # noqa: ANN001
    import bedrock_agentcore.services.identity as sdk

    monkeypatch.setattr(sdk, "DEFAULT_POLLING_INTERVAL_SECONDS", 0.05)
    bob = sign_in(lab, "bob")
    client = sdk.IdentityClient("us-east-1")
    wat = client.get_workload_access_token("fitness-agent", user_token=bob.token)
    token = asyncio.run(
        client.get_token(
            provider_name=PROVIDER,
            scopes=["activities:read"],
            force_authentication=True,
            agent_identity_token=wat["workloadAccessToken"],
            auth_flow="USER_FEDERATION",
            callback_url=return_url(lab),
            on_auth_url=lambda url: consent(lab, bob, url),
        )
    )
    assert activities(lab, token).json()["athlete"] == "user-2-bob"


def test_sdk_decorators_use_the_wat_from_the_runtime_context(lab: Lab) -> None:
    from bedrock_agentcore.identity.auth import requires_access_token, requires_api_key
    from bedrock_agentcore.runtime import BedrockAgentCoreContext

    @requires_access_token(provider_name=PROVIDER, scopes=["activities:read"], auth_flow="M2M")
    def with_token(*, access_token: str) -> int:
        return activities(lab, access_token).status_code

    @requires_api_key(provider_name=API_KEY_PROVIDER)
    def with_key(*, api_key: str) -> str:
        return api_key

    BedrockAgentCoreContext.set_workload_access_token(wat_for(lab, sign_in(lab, "alice")))
    assert with_token() == 200
    assert with_key() == API_KEY


@pytest.mark.attack
def test_a_caller_cannot_probe_which_workloads_exist(lab: Lab) -> None:
    mcp_role = runtime_dp(lab, aws.MCP_RUNTIME)
    for name in ("fitness-agent", "no-such-workload"):  # one exists, one does not: same answer
        code = error_code(
            lambda n=name: mcp_role.get_workload_access_token_for_user_id(
                workloadName=n, userId="user-1-alice"
            )
        )
        assert code == "AccessDeniedException"


def test_deployed_agents_are_still_reachable_after_an_emulator_restart(
    lab: Lab, coach: str
) -> None:
    lab.agentcore.restart()
    alice = sign_in(lab, "alice")
    resp = requests.post(
        invoke_url(lab, coach),
        json={"prompt": "still there?"},
        headers={"Authorization": f"Bearer {alice.token}"},
        timeout=30,
    )
    assert resp.status_code == 200 and resp.json()["caller"]["acting_for"] == "user-1-alice"


def test_callback_without_state_is_refused(lab: Lab) -> None:
    url = f"{lab.agentcore.identity.data_server.url}/identities/oauth2/callback?code=x"
    resp = requests.get(url, timeout=10, allow_redirects=False)
    assert resp.status_code == 400 and "Location" not in resp.headers
