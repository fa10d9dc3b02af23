"""The fitness coach as a real AgentCore Runtime agent: a ``BedrockAgentCoreApp``.

The runtime's front door checks the caller, gets a workload access token (WAT) that says
"this agent, acting for this user", and forwards the invocation with the header
``WorkloadAccessToken``. The SDK stores it in ``BedrockAgentCoreContext``, where
``@requires_access_token`` finds it and trades it at AgentCore Identity for a token to the
downstream API, exactly as when deployed. The agent never holds a client secret, nor the
user's own token for the fitness API.

Wiring AgentCore Identity: the SDK builds its boto3 client when the decorator is applied,
that is inside :func:`create_coach_agent`. boto3 then honours
``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`` (and needs AWS credentials to sign with), while the
SDK's own ``BEDROCK_AGENTCORE_DP_ENDPOINT`` is read once, at the first
``import bedrock_agentcore``.

Actions (``payload["action"]``):
- ``activities``: the fitness API, with a USER_FEDERATION (or M2M) token;
- ``mcp``: the MCP server's ``list_activities`` tool, through the MCP runtime's front
  door, with a token for audience fitness-mcp that AgentCore Identity exchanges from the
  user's JWT (RFC 8693, OBO);
- ``passthrough``: the anti-pattern, for notebooks to watch fail: the user's own token
  sent to the MCP runtime, and the MCP server's token sent on to the fitness API;
- ``stride``: the MCP server's ``list_stride_activities`` tool, which reads Stride with the
  user's own consent there: the first time, the consent URL comes back instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import jwt
import requests
from bedrock_agentcore.identity.auth import requires_access_token
from bedrock_agentcore.runtime import BedrockAgentCoreApp, BedrockAgentCoreContext, RequestContext

from ..bearer import forwarded_bearer
from ..masking import mask
from .consent import ConsentRequired, hand_back

Step = Callable[[RequestContext], dict[str, Any]]


@dataclass(frozen=True)
class CoachConfig:
    """What a deployment injects into the coach: where to go, and under which provider."""

    activities_url: str  # the downstream API endpoint the coach reads
    provider_name: str | None = None  # the provider for the fitness API itself
    scopes: tuple[str, ...] = ("activities:read",)
    auth_flow: Literal["USER_FEDERATION", "M2M"] = "USER_FEDERATION"
    mcp_url: str | None = None  # the MCP runtime's invocation URL
    obo_provider_name: str | None = None  # the provider AgentCore exchanges tokens at
    # Where a user's browser returns after consenting (one of the workload identity's
    # allowed return URLs); None: the one the runtime passes in OAuth2CallbackUrl.
    return_url: str | None = None


def as_seen_by_runtime(context: RequestContext) -> dict[str, Any]:
    """Who the agent acts for, from what the runtime hands it (never a whole credential)."""
    wat = BedrockAgentCoreContext.get_workload_access_token()
    headers = context.request_headers or {}
    return {
        "session_id": context.session_id,
        "wat_present": wat is not None,
        "wat": mask(wat) if wat else None,
        "forwarded_headers": sorted(headers),
        "acting_for": _subject(headers.get("Authorization", "")),
    }


def _inbound_token(context: RequestContext) -> str | None:
    """The user's own token, as the runtime forwarded it."""
    return forwarded_bearer((context.request_headers or {}).get("Authorization"))


def _subject(authorization: str) -> str | None:
    # The runtime forwards Authorization only when configured to, and only after its own
    # authorizer verified it: the agent reads the subject, it does not re-verify.
    token = forwarded_bearer(authorization)
    if token is None:
        return None
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.InvalidTokenError:
        return None


def _get(url: str, token: str) -> dict[str, Any]:
    resp = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return {"status": resp.status_code, "body": resp.json()}


def _activities_reader(config: CoachConfig, provider: str) -> Step:
    @requires_access_token(
        provider_name=provider,
        scopes=list(config.scopes),
        auth_flow=config.auth_flow,
        on_auth_url=hand_back,
        callback_url=config.return_url,
    )
    def read_activities(context: RequestContext, *, access_token: str) -> dict[str, Any]:
        return _get(config.activities_url, access_token)

    return read_activities


def _with(use: Callable[[str], dict[str, Any]], *, access_token: str) -> dict[str, Any]:
    return use(access_token)


def _not_deployed(settings: str) -> Step:
    def refuse(context: RequestContext) -> dict[str, Any]:
        return {"error": f"this coach was deployed without {settings}"}

    return refuse


class _McpSteps:
    """The coach as an MCP client: the right way (OBO) and the wrong way (passthrough)."""

    def __init__(self, config: CoachConfig, url: str, provider: str, mcp: ModuleType) -> None:
        self.config, self.url, self.mcp = config, url, mcp
        # AgentCore Identity trades the user's JWT behind the WAT for a fitness-mcp token.
        self.with_mcp_token = requires_access_token(
            provider_name=provider,
            scopes=list(config.scopes),
            auth_flow="ON_BEHALF_OF_TOKEN_EXCHANGE",
            audiences=[mcp.AUDIENCE],
        )(_with)

    def through_mcp(self, context: RequestContext) -> dict[str, Any]:
        received = _inbound_token(context)
        return self.with_mcp_token(
            lambda token: {
                "tokens": {
                    "received": self.mcp.token_facts(received) if received else None,
                    "sent_downstream": self.mcp.token_facts(token),
                },
                "tool": self.mcp.call_tool(self.url, token, "list_activities").as_dict(),
            }
        )

    def passthrough(self, context: RequestContext) -> dict[str, Any]:
        received = _inbound_token(context)
        if received is None:
            return {"error": "the runtime forwarded no user token"}
        return {
            # The user's token was minted for the agent: the MCP runtime's authorizer
            # refuses it.
            "user_token_to_mcp": {
                **self.mcp.call_tool(self.url, received, "list_activities").as_dict(),
                "token": self.mcp.token_facts(received),
            },
            # What a passthrough MCP server would do: its own token (fitness-mcp) sent
            # on to the fitness API, which refuses it just the same.
            "mcp_token_to_fitness_api": self.with_mcp_token(
                lambda token: _get(self.config.activities_url, token)
            ),
        }

    def stride(self, context: RequestContext) -> dict[str, Any]:
        """Stride through the MCP server, which needs the user's consent at Stride once."""
        call = self.with_mcp_token(
            lambda token: self.mcp.call_tool(self.url, token, "list_stride_activities")
        )
        if call.consent:  # the MCP server's URL elicitation, for the web app to show
            return {"consent_required": call.consent["url"], "message": call.consent["message"]}
        return {"tool": call.as_dict()}


def _mcp_steps(config: CoachConfig) -> dict[str, Step]:
    if not (config.mcp_url and config.obo_provider_name):
        refuse = _not_deployed("an MCP runtime and an OBO provider")
        return {"mcp": refuse, "passthrough": refuse, "stride": refuse}
    from . import mcp_server  # the mcp SDK takes ~0.5 s to import: only MCP clients pay

    steps = _McpSteps(config, config.mcp_url, config.obo_provider_name, mcp_server)
    return {"mcp": steps.through_mcp, "passthrough": steps.passthrough, "stride": steps.stride}


def _outbound(step: Step, context: RequestContext) -> dict[str, Any]:
    if BedrockAgentCoreContext.get_workload_access_token() is None:
        # Without a WAT the SDK falls back to local-dev mode: it would create a workload
        # identity of its own and write .agentcore.json into the working directory.
        return {"error": "no workload access token: the runtime did not vouch for a user"}
    try:
        return step(context)
    except ConsentRequired as exc:
        return {"consent_required": exc.url}


def create_coach_agent(config: CoachConfig) -> BedrockAgentCoreApp:
    app = BedrockAgentCoreApp()
    # One INFO line per invocation, with a random request id: notebook outputs would
    # differ on every run. Warnings and errors still show.
    app.logger.setLevel(logging.WARNING)
    provider = config.provider_name
    activities = _activities_reader(config, provider) if provider else _not_deployed("a provider")
    steps = {"activities": activities, **_mcp_steps(config)}

    @app.entrypoint
    def invoke(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        prompt = payload.get("prompt", "")
        answer: dict[str, Any] = {
            "caller": as_seen_by_runtime(context),
            "reply": f"Coach here. You asked: {prompt!r}.",
        }
        action = payload.get("action")
        if action in steps:
            answer[action] = _outbound(steps[action], context)
        return answer

    return app


def app_from_env() -> BedrockAgentCoreApp:
    """The coach as a runtime runs it: configured by its environment variables."""
    return create_coach_agent(
        CoachConfig(
            activities_url=os.environ["COACH_ACTIVITIES_URL"],
            provider_name=os.environ.get("COACH_PROVIDER_NAME"),
            mcp_url=os.environ.get("COACH_MCP_URL"),
            obo_provider_name=os.environ.get("COACH_OBO_PROVIDER_NAME"),
            return_url=os.environ.get("COACH_RETURN_URL"),
        )
    )
