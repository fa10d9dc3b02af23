"""The fitness MCP server: the fitness API as MCP tools, hosted on an AgentCore runtime.

Built on the official ``mcp`` SDK (``MCPServer``, streamable HTTP, stateless, JSON
responses) and deployed as runtime ``fitness_mcp`` with server protocol MCP and workload
identity ``fitness-mcp``. Its callers never reach it directly: they call
``InvokeAgentRuntime``, whose JWT authorizer accepts only tokens for audience
``fitness-mcp``, and the front door forwards the MCP request to ``/mcp`` with the
``WorkloadAccessToken`` header — the WAT for (fitness-mcp, the user). The server checks no
bearer token itself: the WAT, not the bearer token, is what opens anything downstream, and
only this runtime's role may spend it.

Downstream, the server does NOT forward the token it received. Its audience is
fitness-mcp; a fitness API that accepted it would turn this server into a confused deputy
(the MCP spec forbids such "token passthrough"). It asks AgentCore Identity instead, the
way the coach does one hop earlier: ``ON_BEHALF_OF_TOKEN_EXCHANGE`` with its WAT, for
audience fitness-api, signed with its runtime role's credentials. AgentCore exchanges the
user's token behind the WAT at the IdP (RFC 8693) as the client ``fitness-mcp``; the new
token's ``act`` claim records the chain: fitness-mcp acting for the coach, acting for the
user.

Deployed with Stride settings, it has a second tool, ``list_stride_activities``. Stride
trusts only its own authorization server, so no exchange reaches it: the user consents
there (USER_FEDERATION). The first call for a user answers with a URL-mode elicitation
(MCP 2026-07-28) carrying AgentCore's authorization URL; after the consent, bound to the
user at the web app's return page, the token waits in AgentCore's vault.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from botocore.exceptions import ClientError
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestURLParams, ElicitResult, InputRequiredResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..bearer import forwarded_bearer
from ..jwt_check import decode_unverified
from ..masking import mask
from . import audiences
from .consent import ConsentRequired, hand_back

AUDIENCE = audiences.MCP
SCOPE = "activities:read"  # what a caller must have delegated, and all we pass on
STRIDE_SCOPE = "activity:read"  # Stride's own scope, asked of the user at Stride
STRIDE_CONSENT = "stride-consent"  # the key of the consent among a call's input requests
PING_PATH = audiences.MCP_PING_PATH
HOP_CLAIMS = ("aud", "sub", "act", "client_id", "scope", "jti")


@dataclass(frozen=True)
class McpConfig:
    """What a deployment injects: the provider AgentCore exchanges tokens at, and the API."""

    provider_name: str
    activities_url: str
    stride: StrideConfig | None = None


@dataclass(frozen=True)
class StrideConfig:
    """Stride, read with the user's consent there (USER_FEDERATION): its provider at
    AgentCore Identity, its API, and where users come back after consenting (one of this
    runtime's workload identity's allowed return URLs: the web app that binds the session)."""

    provider_name: str
    activities_url: str
    return_url: str


@dataclass(frozen=True)
class Hop:
    """The token that reached a service and the one it sent on: one per hop, never shared."""

    received: dict[str, Any]
    sent_downstream: dict[str, Any]


@dataclass(frozen=True)
class Activities:
    status: int  # the fitness API's answer to this server
    body: dict[str, Any]
    tokens: Hop


@dataclass(frozen=True)
class StrideActivities:
    status: int  # Stride's answer to this server
    body: dict[str, Any]
    token: dict[str, Any]  # the Stride token this server used: Stride's issuer, Stride's user


def token_facts(token: str, claims: tuple[str, ...] = HOP_CLAIMS) -> dict[str, Any]:
    """What a token says about its hop, masked; decoded for display, never for decisions."""
    found = decode_unverified(token)[1]
    return {"token": mask(token), **{name: found[name] for name in claims if name in found}}


def _spend(wat: str, read: Callable[[], Any]) -> Any:
    """``read()`` with the WAT where the SDK decorator finds it, and AWS errors as tool errors."""
    from bedrock_agentcore.runtime import BedrockAgentCoreContext

    # What BedrockAgentCoreApp does with the header, for the decorator to find it.
    BedrockAgentCoreContext.set_workload_access_token(wat)
    try:
        return read()
    except ClientError as exc:  # the SDK would hide it behind a generic tool error
        error = exc.response["Error"]
        raise ToolError(f"{error['Code']}: {error['Message']}") from None


def _api_reader(config: McpConfig) -> Callable[[str, str], Activities]:
    """``read(wat, received)``: the fitness API, with a token exchanged for the WAT's user."""
    # The SDK reads its endpoints when first imported: only the deployed server imports
    # it, never a process that merely calls the server (the coach, the tests).
    from bedrock_agentcore.identity.auth import requires_access_token

    @requires_access_token(
        provider_name=config.provider_name,
        scopes=[SCOPE],
        auth_flow="ON_BEHALF_OF_TOKEN_EXCHANGE",
        audiences=[audiences.FITNESS_API],
    )
    def with_api_token(received: str, *, access_token: str) -> Activities:
        resp = httpx2.get(
            config.activities_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )
        hop = Hop(token_facts(received) if received else {}, token_facts(access_token))
        return Activities(resp.status_code, resp.json(), hop)

    def read(wat: str, received: str) -> Activities:
        return _spend(wat, lambda: with_api_token(received))

    return read


def _stride_reader(stride: StrideConfig) -> Callable[[str], StrideActivities]:
    """``read(wat)``: Stride, with the user's own Stride token from AgentCore's vault, or
    :class:`ConsentRequired` with the URL where they grant it."""
    from bedrock_agentcore.identity.auth import requires_access_token

    @requires_access_token(
        provider_name=stride.provider_name,
        scopes=[STRIDE_SCOPE],
        auth_flow="USER_FEDERATION",
        on_auth_url=hand_back,
        callback_url=stride.return_url,
    )
    def with_stride_token(*, access_token: str) -> StrideActivities:
        resp = httpx2.get(
            stride.activities_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )
        facts = token_facts(access_token, ("iss", *HOP_CLAIMS))
        return StrideActivities(resp.status_code, resp.json(), facts)

    def read(wat: str) -> StrideActivities:
        return _spend(wat, with_stride_token)

    return read


def _consent_at_stride(ctx: Context, read: Callable[[str], StrideActivities]) -> Any:
    """The Stride tool's answer: activities, or a URL-mode elicitation for the consent.

    MCP 2026-07-28 (client/elicitation): a server needing third-party authorization sends
    the user to a URL, never through the client, and only to a client that declared URL
    elicitation. The URL is AgentCore's; whoever opens it, the tokens land in the vault only
    once the app behind the return URL vouches that the same user finished it (session
    binding). So the URL carries no credential and is no use to anyone else.
    """
    answer = (ctx.input_responses or {}).get(STRIDE_CONSENT)
    if answer is not None and getattr(answer, "action", None) != "accept":
        raise ToolError("Stride is not connected: the user did not accept to connect it.")
    try:
        return read(_wat(ctx))
    except ConsentRequired as needed:
        capabilities = ctx.client_capabilities
        elicitation = capabilities.elicitation if capabilities else None
        if elicitation is None or elicitation.url is None:
            raise ToolError(
                "Stride is not connected, and this client cannot send its user to a consent "
                "page (it declared no URL-mode elicitation)."
            ) from None
        message = "Connect your Stride account: the fitness MCP server asks to read it."
        request = ElicitRequest(params=ElicitRequestURLParams(message=message, url=needed.url))
        return InputRequiredResult(input_requests={STRIDE_CONSENT: request})


def _wat(ctx: Context) -> str:
    wat = dict(ctx.headers or {}).get("workloadaccesstoken")
    if not wat:
        # Without a WAT the SDK would fall back to local-dev mode and make identities up.
        raise ToolError("no workload access token: call this server through its runtime")
    return wat


def create_mcp_server(config: McpConfig) -> Starlette:
    read_activities = _api_reader(config)
    server = MCPServer("fitness", log_level="WARNING")

    @server.custom_route(PING_PATH, methods=["GET"])
    async def ping(request: Request) -> Response:  # the runtime's health check
        return JSONResponse({"status": "Healthy"})

    @server.tool(structured_output=True)
    def list_activities(ctx: Context) -> Activities:
        """The signed-in user's activities, read from the fitness API on their behalf."""
        # Sync tools run in a worker thread: the SDK's blocking calls stay off the loop.
        received = forwarded_bearer(dict(ctx.headers or {}).get("authorization")) or ""
        return read_activities(_wat(ctx), received)

    if config.stride is not None:
        read_stride = _stride_reader(config.stride)

        @server.tool(structured_output=True)
        def list_stride_activities(ctx: Context) -> StrideActivities | InputRequiredResult:
            """The signed-in user's activities at Stride, once they connected their account."""
            return _consent_at_stride(ctx, read_stride)

    # Stateless, as AgentCore Runtime requires of MCP servers: no session outlives a request.
    return server.streamable_http_app(stateless_http=True, json_response=True)


# -- the client side: how an agent calls this server --------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One tool call: its structured result, the tool's error, or the HTTP refusal."""

    status: int
    result: dict[str, Any] | None = None
    error: str | None = None  # the tool ran and failed (a refused token exchange, say)
    refused: str | None = None  # the runtime's 401/403, "Code: message": the tool never ran
    # The tool needs the user elsewhere first (URL-mode elicitation): {"message", "url"}.
    consent: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


def call_tool(url: str, token: str, tool: str) -> ToolCall:
    """Call ``tool`` at the MCP endpoint ``url`` (a runtime's invocation URL) as ``token``."""
    return asyncio.run(_call_tool(url, token, tool))


async def _call_tool(url: str, token: str, tool: str) -> ToolCall:
    refusals: list[ToolCall] = []

    async def note_refusal(response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            await response.aread()
            refusals.append(_refusal(response))

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, event_hooks={"response": [note_refusal]}
    )
    transport = streamable_http_client(url, http_client=http)
    try:
        async with http, Client(transport, elicitation_callback=_shown_by_caller) as client:
            # Driven by hand: a URL elicitation goes back to whoever asked, not to a prompt.
            result = await client.session.call_tool(tool, {}, allow_input_required=True)
    except (MCPError, ExceptionGroup):
        if not refusals:
            raise
        # The SDK turns an HTTP refusal into a generic MCP error; the answer says why.
        return refusals[0]
    if isinstance(result, InputRequiredResult):
        consent = _url_elicitation(result)
        if consent is None:
            return ToolCall(200, error="the tool asked for input this client cannot give")
        return ToolCall(200, consent=consent)
    if result.is_error:
        return ToolCall(200, error=" ".join(getattr(c, "text", "") for c in result.content))
    return ToolCall(200, result=result.structured_content)


async def _shown_by_caller(context: Any, params: Any) -> ElicitResult:
    """Declares URL elicitation: this client passes each URL on to its own caller, who
    shows it to the user (the web app); it never opens one itself."""
    return ElicitResult(action="cancel")


def _url_elicitation(result: InputRequiredResult) -> dict[str, str] | None:
    for request in (result.input_requests or {}).values():
        if isinstance(request, ElicitRequest) and request.params.mode == "url":
            return {"message": request.params.message, "url": request.params.url}
    return None


def _refusal(response: httpx2.Response) -> ToolCall:
    """An AWS error answer from the front door: its code (header) and message (body)."""
    code = response.headers.get("x-amzn-ErrorType", "Refused")
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = response.text
    return ToolCall(response.status_code, refused=f"{code}: {message}")


def app_from_env() -> Starlette:
    """The MCP server as a runtime runs it: configured by its environment variables."""
    stride = None
    if os.environ.get("MCP_STRIDE_PROVIDER_NAME"):
        needed = ("MCP_STRIDE_ACTIVITIES_URL", "MCP_RETURN_URL")
        missing = [name for name in needed if name not in os.environ]
        if missing:
            raise RuntimeError(f"MCP_STRIDE_PROVIDER_NAME is set: set {' and '.join(missing)} too")
        stride = StrideConfig(
            provider_name=os.environ["MCP_STRIDE_PROVIDER_NAME"],
            activities_url=os.environ["MCP_STRIDE_ACTIVITIES_URL"],
            return_url=os.environ["MCP_RETURN_URL"],
        )
    return create_mcp_server(
        McpConfig(
            provider_name=os.environ["MCP_PROVIDER_NAME"],
            activities_url=os.environ["MCP_ACTIVITIES_URL"],
            stride=stride,
        )
    )
