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


def for_account(account_id: str = aws.ACCOUNT_ID) -> list[Principal]:
    """The lab's principals, as roles of ``account_id``: the operator, the two runtime
    roles, the frontend app and an untrusted partner app, in that order."""
    role = f"arn:aws:iam::{account_id}:role"

    def principal(
        name: str,
        creds: aws.LabCredentials,
        actions: frozenset[str],
        workloads: frozenset[str] | None = None,
    ) -> Principal:
        return Principal(
            f"{role}/{name}", creds.access_key_id, creds.secret_access_key, actions, workloads
        )

    # Each runtime role also acts as the workload identity AgentCore creates with a runtime
    # of its name (CreateAgentRuntime): the runtime's id, its name and a suffix.
    agent = frozenset({"fitness-agent", "fitness_coach-*"})
    mcp = frozenset({"fitness-mcp", "fitness_mcp-*"})
    return [
        principal("lab-operator", aws.OPERATOR, frozenset({"bedrock-agentcore:*"})),
        principal("fitness-agent-runtime", aws.AGENT_RUNTIME, RUNTIME_ACTIONS, agent),
        principal("fitness-mcp-runtime", aws.MCP_RUNTIME, RUNTIME_ACTIONS, mcp),
        principal(
            "fitness-frontend-app",
            aws.FRONTEND_APP,
            frozenset({"bedrock-agentcore:CompleteResourceTokenAuth"}),
            frozenset(),
        ),
        principal(
            "partner-app",
            aws.UNTRUSTED_APP,
            frozenset({"bedrock-agentcore:InvokeAgentRuntime"}),
            frozenset(),
        ),
    ]
