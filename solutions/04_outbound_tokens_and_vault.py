"""Notebook 04 · Outbound tokens and the token vault: worked solutions."""

import os

import boto3

from helpers import aws
from helpers.agentcore.lab_part import OUTBOUND_CLIENT_ID
from helpers.exercises import Verdict, check_m2m_token, check_vault_key, check_vault_outcomes
from helpers.exercises.prerequisites import oauth2_provider_ready
from helpers.lab import Lab


def vault_outcomes(lab: Lab) -> Verdict:
    """M2M needs no user; a user's first ask is a consent URL, then the vault answers; Bob
    has his own (empty) slot; session binding refuses Bob; a disabled key fails closed."""
    return check_vault_outcomes({1: "A", 2: "B", 3: "A", 4: "B", 5: "C", 6: "C"})


def m2m_token(lab: Lab) -> Verdict:
    """Our agent (signing with the agent runtime's execution role) mints a WAT of its own
    workload identity, fitness-agent, bound to no user (GetWorkloadAccessToken; a
    runtime's identity gets WATs from its front door only), and asks for oauth2Flow M2M
    at the credential provider whose client is AgentCore's own (agentcore-outbound):
    AgentCore runs the client-credentials grant at the IdP with the secret it keeps, and
    hands back the token directly. The token's sub is that client: the fitness API
    answers for the app, not for a user."""
    name = "lab-fitness-api"
    with oauth2_provider_ready(lab, name, OUTBOUND_CLIENT_ID):
        data_plane = os.environ["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
        runtime = aws.client("bedrock-agentcore", data_plane, aws.AGENT_RUNTIME)
        wat = runtime.get_workload_access_token(workloadName="fitness-agent")
        answer = runtime.get_resource_oauth2_token(
            workloadIdentityToken=wat["workloadAccessToken"],
            resourceCredentialProviderName=name,
            scopes=["activities:read"],
            oauth2Flow="M2M",
        )
    return check_m2m_token(lab, answer["accessToken"])


def vault_key(lab: Lab) -> Verdict:
    """Make the new key (symmetric, rotation on) and point the vault at it first: switching
    re-wraps every data key, so the vault must still unwrap them with the old key. Only
    then disable the old one; nothing refers to it any more, and reads go on. (Disabling it
    first makes the switch fail: the vault fails closed.) Were the vault still on the
    service's key, it would first get a key of ours, as in section 6."""
    control = boto3.client("bedrock-agentcore-control")
    kms = boto3.client("kms")

    def new_key() -> str:
        key = kms.create_key(Description="fitness coach token vault")["KeyMetadata"]
        kms.enable_key_rotation(KeyId=key["KeyId"])
        return key["Arn"]

    def use(arn: str) -> None:
        cmk = {"keyType": "CustomerManagedKey", "kmsKeyArn": arn}
        control.set_token_vault_cmk(tokenVaultId="default", kmsConfiguration=cmk)

    old = control.get_token_vault(tokenVaultId="default")["kmsConfiguration"].get("kmsKeyArn")
    if old is None:
        old = new_key()
        use(old)
    new = new_key()
    use(new)
    kms.disable_key(KeyId=kms.describe_key(KeyId=old)["KeyMetadata"]["KeyId"])
    return check_vault_key(lab, new)
