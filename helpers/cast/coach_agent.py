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
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt
import requests
from bedrock_agentcore.identity.auth import requires_access_token
from bedrock_agentcore.runtime import BedrockAgentCoreApp, BedrockAgentCoreContext, RequestContext

from ..masking import mask


@dataclass(frozen=True)
class CoachConfig:
    """What a deployment injects into the coach: where to go, and under which provider."""

    provider_name: str  # the credential provider registered at AgentCore Identity
    activities_url: str  # the downstream API endpoint the coach reads
    scopes: tuple[str, ...] = ("activities:read",)
    auth_flow: Literal["USER_FEDERATION", "M2M"] = "USER_FEDERATION"


class ConsentRequired(Exception):
    """AgentCore Identity has no token for this user yet: they must consent at ``url`` first."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _hand_back(url: str) -> None:
    # The SDK would otherwise poll Identity every 5 s for up to 10 minutes while the user
    # consents. A request/response agent hands the URL to its caller and is invoked again.
    raise ConsentRequired(url)


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


def _subject(authorization: str) -> str | None:
    # The runtime forwards Authorization only when configured to, and only after its own
    # authorizer verified it: the agent reads the subject, it does not re-verify.
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.InvalidTokenError:
        return None


def _activities_reader(config: CoachConfig) -> Callable[[], dict[str, Any]]:
    @requires_access_token(
        provider_name=config.provider_name,
        scopes=list(config.scopes),
        auth_flow=config.auth_flow,
        on_auth_url=_hand_back,
    )
    def read_activities(*, access_token: str) -> dict[str, Any]:
        resp = requests.get(
            config.activities_url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=10,
        )
        return {"status": resp.status_code, "body": resp.json()}

    return read_activities


def _outbound(read_activities: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if BedrockAgentCoreContext.get_workload_access_token() is None:
        # Without a WAT the SDK falls back to local-dev mode: it would create a workload
        # identity of its own and write .agentcore.json into the working directory.
        return {"error": "no workload access token: the runtime did not vouch for a user"}
    try:
        return read_activities()
    except ConsentRequired as exc:
        return {"consent_required": exc.url}


def create_coach_agent(config: CoachConfig) -> BedrockAgentCoreApp:
    app = BedrockAgentCoreApp()
    # One INFO line per invocation, with a random request id: notebook outputs would
    # differ on every run. Warnings and errors still show.
    app.logger.setLevel(logging.WARNING)
    read_activities = _activities_reader(config)

    @app.entrypoint
    def invoke(payload: dict[str, Any], context: RequestContext) -> dict[str, Any]:
        prompt = payload.get("prompt", "")
        answer: dict[str, Any] = {
            "caller": as_seen_by_runtime(context),
            "reply": f"Coach here. You asked: {prompt!r}.",
        }
        if payload.get("action") == "activities":
            answer["activities"] = _outbound(read_activities)
        return answer

    return app
