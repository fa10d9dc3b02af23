"""Notebook 03 · Workload identities: worked solutions."""

import os

import boto3
from botocore.exceptions import ClientError

from helpers import aws
from helpers.exercises import (
    Verdict,
    check_bob_wat,
    check_wat_scenarios,
    check_workload_identity,
)
from helpers.lab import Lab


def wat_scenarios(lab: Lab) -> Verdict:
    """1 is the equation; 2 is not an access token; 3 is another workload than the role's;
    4 has no right to vouch for a user; 5 is allowed, and is the impersonation hole; 6 is
    refused: a runtime with a JWT authorizer takes no SigV4 caller, trusted or not."""
    return check_wat_scenarios(
        {1: "allowed", 2: "refused", 3: "refused", 4: "refused", 5: "allowed", 6: "refused"}
    )


def workload_identity(lab: Lab) -> Verdict:
    """The operator creates the workload identity with the control plane client (boto3 reads
    the lab's endpoint and credentials from the environment). Its one allowed return URL is
    an exact string, like a redirect_uri. The answer holds the ARN, and no secret."""
    control = boto3.client("bedrock-agentcore-control")
    created = control.create_workload_identity(
        name="nutrition-agent",
        allowedResourceOauth2ReturnUrls=[lab.urls.frontend + "/nutrition/return"],
    )
    return check_workload_identity(lab, created["workloadIdentityArn"])


def bob_wat(lab: Lab) -> Verdict:
    """Bob signs in at the frontend; his access token is the inbound user token. The
    runtime's execution role (the one allowed to act as fitness-agent) trades it with
    GetWorkloadAccessTokenForJWT: AgentCore verifies it at the lab IdP and binds
    fitness-agent to Bob's issuer and subject. The workload identity must exist (the
    notebook made it in section 1); made here if missing, and removed again afterwards."""
    bob = lab.browser()
    bob.sign_in(lab.urls.frontend + "/login", "bob", "bob-lab-password")
    bob_tokens = lab.frontend.session_tokens(bob.session.cookies["frontend_session"])
    control = boto3.client("bedrock-agentcore-control")
    try:
        control.get_workload_identity(name="fitness-agent")
        made_here = False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        control.create_workload_identity(name="fitness-agent")
        made_here = True
    try:
        data_plane = os.environ["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
        runtime = aws.client("bedrock-agentcore", data_plane, aws.AGENT_RUNTIME)
        answer = runtime.get_workload_access_token_for_jwt(
            workloadName="fitness-agent", userToken=bob_tokens["access_token"]
        )
        return check_bob_wat(lab, answer["workloadAccessToken"])
    finally:
        if made_here:
            control.delete_workload_identity(name="fitness-agent")
