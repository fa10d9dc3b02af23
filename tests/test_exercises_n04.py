"""Notebook 04's checkers: the vault scenarios, an M2M token, and a new key for the vault.

The hands-on checkers are judged against a real lab with AgentCore: real M2M tokens from
the emulator, real KMS keys in moto, the real token vault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from botocore.client import BaseClient
from conftest import (
    TIMEOUT,
    Forger,
    create_lab_oauth2_provider,
    login_tokens,
    token_request,
)

from helpers import aws
from helpers.agentcore.lab_part import OUTBOUND_CLIENT_ID
from helpers.exercises import (
    UNANSWERED,
    check_m2m_token,
    check_vault_key,
)
from helpers.lab import Lab

PROVIDER = "lab-fitness-api"
JUNK = [42, "garbage", ["A", "B"], [["x", {"y": None}]], {"nested": {"junk": [None, ...]}}]


@dataclass(frozen=True)
class VaultLab:
    lab: Lab
    control: BaseClient
    runtime: BaseClient
    kms: BaseClient

    def m2m_token(self) -> str:
        wat = self.runtime.get_workload_access_token(workloadName="fitness-agent")
        return self.runtime.get_resource_oauth2_token(
            workloadIdentityToken=wat["workloadAccessToken"],
            resourceCredentialProviderName=PROVIDER,
            scopes=["activities:read"],
            oauth2Flow="M2M",
        )["accessToken"]

    def new_key(self, rotation: bool = True) -> str:
        key = self.kms.create_key(Description="test vault key")["KeyMetadata"]
        if rotation:
            self.kms.enable_key_rotation(KeyId=key["KeyId"])
        return key["Arn"]

    def disable(self, arn: str) -> None:
        self.kms.disable_key(KeyId=self.kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"])

    def use(self, arn: str) -> None:
        cmk = {"keyType": "CustomerManagedKey", "kmsKeyArn": arn}
        self.control.set_token_vault_cmk(tokenVaultId="default", kmsConfiguration=cmk)


def vault_lab() -> VaultLab:
    """A lab with AgentCore, the agent's workload identity and the notebook's provider."""
    lab = Lab(agentcore=True)
    identity = lab.agentcore.identity
    control = aws.client("bedrock-agentcore-control", identity.control_server.url, aws.OPERATOR)
    control.create_workload_identity(name="fitness-agent")
    create_lab_oauth2_provider(control, lab, PROVIDER, OUTBOUND_CLIENT_ID)
    runtime = aws.client("bedrock-agentcore", identity.data_server.url, aws.AGENT_RUNTIME)
    kms = aws.client("kms", lab.agentcore.moto.url, aws.OPERATOR)
    return VaultLab(lab, control, runtime, kms)


@pytest.fixture(scope="module")
def vl() -> Iterator[VaultLab]:
    made = vault_lab()
    yield made
    made.lab.stop()


@pytest.fixture
def fresh_vl() -> Iterator[VaultLab]:
    """A lab of its own, for a test that needs to know every key in the account."""
    made = vault_lab()
    yield made
    made.lab.stop()


def hint(verdict: object) -> str:
    assert not verdict, verdict
    return repr(verdict)


# -- exercise 1, lettered: in tests/test_exercises_lettered.py ----------------------


# -- exercise 2: an M2M token ----------------------------------------------------------------
def test_m2m_checker_is_hands_on() -> None:
    assert check_m2m_token.hands_on and check_vault_key.hands_on


def test_an_m2m_token_from_agentcore_passes(vl: VaultLab) -> None:
    verdict = check_m2m_token(vl.lab, vl.m2m_token())
    assert verdict and OUTBOUND_CLIENT_ID in repr(verdict)


def test_a_users_token_is_not_an_m2m_token(vl: VaultLab) -> None:
    alice = login_tokens(vl.lab, scope="openid activities:read")["access_token"]
    message = hint(check_m2m_token(vl.lab, alice))
    assert "user-1-alice" in message and "M2M" in message


def test_a_token_of_another_client_was_not_fetched_by_agentcore(vl: VaultLab) -> None:
    job = ("reporting-job", vl.lab.client_secret("reporting-job"))
    data = {"grant_type": "client_credentials", "scope": "activities:read"}
    resp = token_request(vl.lab, data, job)
    assert resp.status_code == 200, resp.text
    message = hint(check_m2m_token(vl.lab, resp.json()["access_token"]))
    assert "'reporting-job'" in message and "GetResourceOauth2Token" in message


def test_a_token_for_another_audience_is_refused_as_the_api_would(vl: VaultLab) -> None:
    for_the_agent = login_tokens(vl.lab, scope="openid agent:invoke")["access_token"]
    message = hint(check_m2m_token(vl.lab, for_the_agent))
    assert "fitness API refuses" in message and "'fitness-api'" in message


def test_a_revoked_m2m_token_fails(vl: VaultLab) -> None:
    token = vl.m2m_token()
    outbound = (OUTBOUND_CLIENT_ID, vl.lab.client_secret(OUTBOUND_CLIENT_ID))
    resp = requests.post(
        f"{vl.lab.urls.issuer}/revoke", data={"token": token}, auth=outbound, timeout=TIMEOUT
    )
    assert resp.status_code == 200, resp.text
    assert "revoked" in hint(check_m2m_token(vl.lab, token))


def test_an_expired_or_forged_token_fails(vl: VaultLab, attacker_key: object) -> None:
    forger = Forger(vl.lab)
    now = int(vl.lab.clock.now())
    m2m = {"sub": OUTBOUND_CLIENT_ID, "client_id": OUTBOUND_CLIENT_ID}
    expired = forger.register(forger.sign(claims=forger.claims(**m2m, exp=now - 60)))
    assert "expired" in hint(check_m2m_token(vl.lab, expired))
    forged = forger.sign(claims=forger.claims(**m2m), key=attacker_key)
    assert "signature" in hint(check_m2m_token(vl.lab, forged))


def test_the_whole_response_is_not_the_token(vl: VaultLab) -> None:
    assert "not the whole response" in hint(check_m2m_token(vl.lab, {"accessToken": "x"}))


@pytest.mark.parametrize("answer", [*JUNK, "a.b.c", "x" * 10_000, "Bearer eyJ.eyJ.sig"])
def test_m2m_checker_malformed_answer_fails_without_raising(vl: VaultLab, answer: object) -> None:
    message = hint(check_m2m_token(vl.lab, answer))
    assert "accessToken" in message


@pytest.mark.parametrize("answer", [None, ...])
def test_m2m_checker_placeholder_is_unanswered(vl: VaultLab, answer: object) -> None:
    assert check_m2m_token(vl.lab, answer) is UNANSWERED


# -- exercise 3: a new key for the vault -----------------------------------------------------
def test_a_new_key_in_use_with_the_old_one_retired_passes(fresh_vl: VaultLab) -> None:
    old = fresh_vl.new_key()
    fresh_vl.use(old)
    new = fresh_vl.new_key()
    fresh_vl.use(new)
    assert "no key it used before is retired" in hint(check_vault_key(fresh_vl.lab, new))
    fresh_vl.disable(old)
    assert check_vault_key(fresh_vl.lab, new)
    assert check_vault_key(fresh_vl.lab, f"  {new}\n")  # pasted with whitespace


def test_the_old_key_itself_is_not_the_answer(fresh_vl: VaultLab) -> None:
    old = fresh_vl.new_key()
    fresh_vl.use(old)
    assert "no key it used before is retired" in hint(check_vault_key(fresh_vl.lab, old))
    fresh_vl.disable(old)
    assert "is Disabled" in hint(check_vault_key(fresh_vl.lab, old))


def test_a_key_the_vault_does_not_use_fails(vl: VaultLab) -> None:
    assert "does not use this key" in hint(check_vault_key(vl.lab, vl.new_key()))


def test_a_key_without_rotation_fails(vl: VaultLab) -> None:
    assert "rotation is off" in hint(check_vault_key(vl.lab, vl.new_key(rotation=False)))


def test_a_disabled_vault_key_fails(vl: VaultLab) -> None:
    key = vl.new_key()
    vl.use(key)
    vl.disable(key)
    try:
        assert "is Disabled" in hint(check_vault_key(vl.lab, key))
    finally:
        vl.kms.enable_key(KeyId=key.rsplit("/", 1)[1])


def test_an_unknown_key_arn_fails(vl: VaultLab) -> None:
    account = vl.lab.agentcore.account_id
    unknown = f"arn:aws:kms:us-east-1:{account}:key/00000000-0000-0000-0000-000000000000"
    assert "no key with this ARN" in hint(check_vault_key(vl.lab, unknown))


def key_id_of(vl: VaultLab) -> str:
    return vl.new_key().rsplit("/", 1)[1]


@pytest.mark.parametrize(
    "make",
    [
        key_id_of,  # a bare key id
        lambda vl: vl.kms.describe_key(KeyId=vl.new_key())["KeyMetadata"],  # the whole dict
        lambda vl: "alias/fitness-coach-vault",
        lambda vl: "arn:aws:kms:us-east-1:123:key/x",  # not a 12-digit account
        *(lambda vl, junk=junk: junk for junk in JUNK),
    ],
)
def test_vault_key_checker_malformed_answer_fails_without_raising(
    vl: VaultLab, make: Callable[[VaultLab], object]
) -> None:
    assert "ARN as a string" in hint(check_vault_key(vl.lab, make(vl)))


def test_vault_key_checker_needs_a_lab_with_agentcore(lab: Lab) -> None:
    assert "start_lab(agentcore=True)" in hint(check_vault_key(lab, "arn:aws:kms:x"))


@pytest.mark.parametrize("answer", [None, ...])
def test_vault_key_checker_placeholder_is_unanswered(vl: VaultLab, answer: object) -> None:
    assert check_vault_key(vl.lab, answer) is UNANSWERED
