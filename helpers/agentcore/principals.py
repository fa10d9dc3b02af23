"""The lab's IAM principals and what their policies allow on AgentCore Identity.

- the operator (you, in the notebooks): everything, to set things up;
- each runtime's execution role: the data-plane calls an agent makes, for its own
  workload identity only, plus ``InvokeAgentRuntimeForUser`` — the right to vouch for a
  user id;
- the frontend app: may confirm that the user finishing a consent is its signed-in user;
- an untrusted app: may invoke an agent, but not on behalf of a user of its choosing.
"""

from __future__ import annotations

from .. import aws
from .sigv4 import Principal

_ROLE = f"arn:aws:iam::{aws.ACCOUNT_ID}:role"
RUNTIME_ACTIONS = frozenset(
    f"bedrock-agentcore:{action}"
    for action in (
        "GetWorkloadAccessToken",
        "GetWorkloadAccessTokenForJWT",
        "GetWorkloadAccessTokenForUserId",
        "GetResourceOauth2Token",
        "GetResourceApiKey",
        "CompleteResourceTokenAuth",
        "InvokeAgentRuntime",
        "InvokeAgentRuntimeForUser",
    )
)


def _principal(
    name: str,
    creds: aws.LabCredentials,
    actions: frozenset[str],
    workloads: frozenset[str] | None = None,
) -> Principal:
    return Principal(
        f"{_ROLE}/{name}", creds.access_key_id, creds.secret_access_key, actions, workloads
    )


OPERATOR = _principal("lab-operator", aws.OPERATOR, frozenset({"bedrock-agentcore:*"}))
AGENT_RUNTIME = _principal(
    "fitness-agent-runtime", aws.AGENT_RUNTIME, RUNTIME_ACTIONS, frozenset({"fitness-agent"})
)
MCP_RUNTIME = _principal(
    "fitness-mcp-runtime", aws.MCP_RUNTIME, RUNTIME_ACTIONS, frozenset({"fitness-mcp"})
)
FRONTEND_APP = _principal(
    "fitness-frontend-app",
    aws.FRONTEND_APP,
    frozenset({"bedrock-agentcore:CompleteResourceTokenAuth"}),
    frozenset(),
)
UNTRUSTED_APP = _principal(
    "partner-app",
    aws.UNTRUSTED_APP,
    frozenset({"bedrock-agentcore:InvokeAgentRuntime"}),
    frozenset(),
)
ALL = [OPERATOR, AGENT_RUNTIME, MCP_RUNTIME, FRONTEND_APP, UNTRUSTED_APP]
