"""Two labs in one process are two worlds: nothing done in one shows in the other.

A trainer's test harness, a notebook that starts a second lab, and this suite itself all
run several labs in one interpreter. Each test here does the same thing in both labs, at
the same time, and checks that each behaves as if it were alone; the last one stops a
lab and checks the other carries on.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import (
    ALICE,
    BOB,
    TIMEOUT,
    authorize,
    call_api,
    create_lab_oauth2_provider,
    introspect,
    login_tokens,
    oauth_error,
    redeem,
    refresh,
    token_exchange,
)

from helpers import aws
from helpers.lab import Lab


@pytest.fixture(scope="module")
def labs() -> Iterator[tuple[Lab, Lab]]:
    with Lab(agentcore=True) as first, Lab(agentcore=True) as second:
        yield first, second


def control(lab: Lab):  # noqa: ANN201 - a boto3 client
    return aws.client(
        "bedrock-agentcore-control", lab.agentcore.identity.control_server.url, aws.OPERATOR
    )


def data(lab: Lab):  # noqa: ANN201
    return aws.client(
        "bedrock-agentcore", lab.agentcore.identity.data_server.url, aws.AGENT_RUNTIME
    )


def test_each_lab_signs_its_own_users_in(labs: tuple[Lab, Lab]) -> None:
    first, second = labs
    tokens = [login_tokens(first, ALICE), login_tokens(second, BOB)]
    assert call_api(first, tokens[0]["access_token"]).json()["athlete"] == "user-1-alice"
    assert call_api(second, tokens[1]["access_token"]).json()["athlete"] == "user-2-bob"
    # Each lab's IdP signs with keys of its own: one lab's token means nothing to the other.
    assert call_api(second, tokens[0]["access_token"]).status_code == 401
    assert introspect(second, tokens[0]["access_token"]) == {"active": False}


def test_a_code_is_redeemed_where_it_was_issued_and_nowhere_else(labs: tuple[Lab, Lab]) -> None:
    first, second = labs
    grants = [authorize(first), authorize(second)]
    # Redeemed at the other lab, with that lab's own client secret: unknown there.
    assert oauth_error(redeem(second, grants[0])) == "invalid_grant"
    for lab, grant in zip(labs, grants, strict=True):
        assert redeem(lab, grant).status_code == 200


def test_a_replayed_code_revokes_only_its_own_labs_tokens(labs: tuple[Lab, Lab]) -> None:
    first, second = labs
    grant = authorize(first)
    victim = redeem(first, grant).json()
    bystander = login_tokens(second)
    assert oauth_error(redeem(first, grant)) == "invalid_grant"
    assert introspect(first, victim["access_token"])["active"] is False
    assert introspect(second, bystander["access_token"])["active"] is True


def test_refresh_reuse_kills_one_family_in_one_lab(labs: tuple[Lab, Lab]) -> None:
    first, second = labs
    old = [login_tokens(lab)["refresh_token"] for lab in labs]
    rotated = [
        refresh(lab, token).json()["refresh_token"] for lab, token in zip(labs, old, strict=True)
    ]
    assert oauth_error(refresh(first, old[0])) == "invalid_grant"  # reuse: family revoked
    assert oauth_error(refresh(first, rotated[0])) == "invalid_grant"
    assert refresh(second, rotated[1]).status_code == 200  # the other lab never noticed


def test_each_lab_exchanges_its_own_tokens(labs: tuple[Lab, Lab]) -> None:
    for lab in labs:
        user = login_tokens(lab, scope="openid agent:invoke")["access_token"]
        resp = token_exchange(lab, user, "fitness-agent", "fitness-api")
        assert resp.status_code == 200, resp.text
        assert call_api(lab, resp.json()["access_token"]).status_code == 200
        other = labs[1] if lab is labs[0] else labs[0]
        assert call_api(other, resp.json()["access_token"]).status_code == 401


def test_each_lab_has_its_own_directory_secrets_and_vault(labs: tuple[Lab, Lab]) -> None:
    """The same names in both labs: a workload identity, and an API key kept MANAGED
    (in the lab's Secrets Manager, under the lab's vault key), holding different keys."""
    keys = {}
    for n, lab in enumerate(labs):
        keys[n] = f"weather-key-of-lab-{n}-" + "x" * 16
        control(lab).create_workload_identity(name="fitness-agent")
        control(lab).create_api_key_credential_provider(name="weather", apiKey=keys[n])
    for n, lab in enumerate(labs):
        wat = data(lab).get_workload_access_token_for_user_id(
            workloadName="fitness-agent", userId="alice"
        )["workloadAccessToken"]
        answer = data(lab).get_resource_api_key(
            workloadIdentityToken=wat, resourceCredentialProviderName="weather"
        )
        assert answer["apiKey"] == keys[n]
        with pytest.raises(ClientError) as refused:  # the other lab signs WATs with its own key
            data(labs[1 - n]).get_resource_api_key(
                workloadIdentityToken=wat, resourceCredentialProviderName="weather"
            )
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_each_lab_keeps_its_own_client_secrets(labs: tuple[Lab, Lab]) -> None:
    """A provider of the same name in both labs, each for its own IdP's M2M client: the
    service-owned secret that holds each client secret is each lab's own."""
    for lab in labs:
        create_lab_oauth2_provider(control(lab), lab, "reporting", "reporting-job")
    for lab in labs:
        wat = data(lab).get_workload_access_token(workloadName="fitness-agent")
        token = data(lab).get_resource_oauth2_token(
            workloadIdentityToken=wat["workloadAccessToken"],
            resourceCredentialProviderName="reporting",
            scopes=["activities:read"],
            oauth2Flow="M2M",
        )["accessToken"]
        assert call_api(lab, token).json()["athlete"] == "reporting-job"


def test_stopping_one_lab_leaves_the_other_working() -> None:
    with Lab(agentcore=True) as survivor:
        doomed = Lab(agentcore=True)
        login_tokens(doomed)
        doomed.stop()
        assert requests.get(f"{survivor.urls.issuer}/healthz", timeout=TIMEOUT).ok
        tokens = login_tokens(survivor)
        assert call_api(survivor, tokens["access_token"]).status_code == 200
        assert refresh(survivor, tokens["refresh_token"]).status_code == 200
        control(survivor).create_workload_identity(name="fitness-agent")
        control(survivor).create_api_key_credential_provider(name="weather", apiKey="k" * 20)
        wat = data(survivor).get_workload_access_token(workloadName="fitness-agent")
        assert (
            data(survivor).get_resource_api_key(
                workloadIdentityToken=wat["workloadAccessToken"],
                resourceCredentialProviderName="weather",
            )["apiKey"]
            == "k" * 20
        )
