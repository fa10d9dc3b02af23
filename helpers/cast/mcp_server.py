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
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import requests
from botocore.exceptions import ClientError
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..bearer import forwarded_bearer
from ..jwt_check import decode_unverified
from ..masking import mask
from . import audiences, fitness_api

AUDIENCE = audiences.MCP
SCOPE = "activities:read"  # what a caller must have delegated, and all we pass on
PING_PATH = audiences.MCP_PING_PATH
HOP_CLAIMS = ("aud", "sub", "act", "client_id", "scope", "jti")


@dataclass(frozen=True)
class McpConfig:
    """What a deployment injects: the provider AgentCore exchanges tokens at, and the API."""

    provider_name: str
    activities_url: str


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


def token_facts(token: str) -> dict[str, Any]:
    """What a token says about its hop, masked; decoded for display, never for decisions."""
    claims = decode_unverified(token)[1]
    return {"token": mask(token), **{name: claims[name] for name in HOP_CLAIMS if name in claims}}


def _api_reader(config: McpConfig) -> Callable[[str, str], Activities]:
    """``read(wat, received)``: the fitness API, with a token exchanged for the WAT's user."""
    # The SDK reads its endpoints when first imported: only the deployed server imports
    # it, never a process that merely calls the server (the coach, the tests).
    from bedrock_agentcore.identity.auth import requires_access_token
    from bedrock_agentcore.runtime import BedrockAgentCoreContext

    @requires_access_token(
        provider_name=config.provider_name,
        scopes=[SCOPE],
        auth_flow="ON_BEHALF_OF_TOKEN_EXCHANGE",
        audiences=[fitness_api.AUDIENCE],
    )
    def with_api_token(received: str, *, access_token: str) -> Activities:
        resp = requests.get(
            config.activities_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )
        hop = Hop(token_facts(received) if received else {}, token_facts(access_token))
        return Activities(resp.status_code, resp.json(), hop)

    def read(wat: str, received: str) -> Activities:
        # What BedrockAgentCoreApp does with the header, for the decorator to find it.
        BedrockAgentCoreContext.set_workload_access_token(wat)
        try:
            return with_api_token(received)
        except ClientError as exc:  # the SDK would hide it behind a generic tool error
            error = exc.response["Error"]
            raise ToolError(f"{error['Code']}: {error['Message']}") from None

    return read


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
        headers = dict(ctx.headers or {})
        wat = headers.get("workloadaccesstoken")
        if not wat:
            # Without a WAT the SDK would fall back to local-dev mode and make identities up.
            raise ToolError("no workload access token: call this server through its runtime")
        return read_activities(wat, forwarded_bearer(headers.get("authorization")) or "")

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
    try:
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool(tool, {})
    except (MCPError, ExceptionGroup):
        if not refusals:
            raise
        # The SDK turns an HTTP refusal into a generic MCP error; the answer says why.
        return refusals[0]
    if result.is_error:
        return ToolCall(200, error=" ".join(getattr(c, "text", "") for c in result.content))
    return ToolCall(200, result=result.structured_content)


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
    return create_mcp_server(
        McpConfig(
            provider_name=os.environ["MCP_PROVIDER_NAME"],
            activities_url=os.environ["MCP_ACTIVITIES_URL"],
        )
    )
