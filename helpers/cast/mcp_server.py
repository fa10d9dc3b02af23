"""The fitness MCP server: the fitness API as MCP tools, for agents that speak MCP.

Built on the official ``mcp`` SDK (``MCPServer``, streamable HTTP, stateless, JSON
responses). It is a resource server in its own right, with RFC 9728 metadata at
``/.well-known/oauth-protected-resource/mcp``. Every request carries a bearer token that
the SDK's ``token_verifier`` hook checks with the lab's resource-server rules: a JWT of the
lab IdP for audience ``fitness-mcp``, still active at the IdP (RFC 7662). A token minted
for anyone else, the user's own token for instance, is a 401 before any tool runs.

Downstream, the server does NOT forward the token it received. Its audience is
fitness-mcp; a fitness API that accepted it would turn this server into a confused deputy
(the MCP spec forbids such "token passthrough"). It exchanges the token at the IdP
(RFC 8693) as the confidential client ``fitness-mcp`` for a token with audience
fitness-api, whose ``act`` claim records the chain: fitness-mcp acting for the coach,
acting for the user.

Why at the IdP directly, not through AgentCore Identity's ON_BEHALF_OF_TOKEN_EXCHANGE:
this server is not hosted behind the runtime front door, so nothing hands it a workload
access token; it is deployed as a plain process with its own IdP client credentials. The
coach, which the runtime hosts, takes the emulator route.

Clocks: this process cannot read the lab clock, so it starts with the lab's offset at
deploy time; the IdP's introspection answer, on the lab clock, has the last word.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx2
import requests
from authlib.integrations.requests_client import OAuth2Session
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from ..clock import LabClock
from ..idp.token_exchange import exchange
from ..jwt_check import TokenRejected, decode_unverified
from . import fitness_api
from .resource_server import ResourceServer

AUDIENCE = "fitness-mcp"
SCOPE = "activities:read"  # what a caller must have delegated, and all we pass on
PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource" + PATH  # RFC 9728, public
HOP_CLAIMS = ("aud", "sub", "act", "client_id", "scope", "jti")

logger = logging.getLogger("lab.fitness_mcp")


@dataclass(frozen=True)
class McpConfig:
    """What a deployment injects: the IdP, this server's client credentials, the API."""

    url: str  # where this server listens; its MCP endpoint is url + /mcp
    discovery_url: str
    client_id: str
    client_secret: str
    activities_url: str
    clock_offset: float = 0.0


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
    """What a token says about its hop; decoded for display, never for decisions."""
    claims = decode_unverified(token)[1]
    return {name: claims[name] for name in HOP_CLAIMS if name in claims}


class LabTokenVerifier:
    """The SDK's ``token_verifier`` hook, backed by the checks every lab API makes."""

    def __init__(self, guard: ResourceServer) -> None:
        self.guard = guard

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            # Blocking HTTP (JWKS, introspection): keep it off the event loop.
            claims = await asyncio.to_thread(self.guard.check, token, None)
        except TokenRejected as exc:
            # The SDK answers every refusal with the same 401; the reason goes to our log.
            logger.warning("refused a bearer token: %s", exc)
            return None
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=str(claims.get("scope", "")).split(),
            subject=claims["sub"],
            expires_at=int(claims["exp"]),
            claims=claims,
        )


class FitnessApiOnBehalf:
    """Reads the fitness API with a token of its own, exchanged for each caller's token."""

    def __init__(self, config: McpConfig, token_endpoint: str) -> None:
        self.config, self.token_endpoint = config, token_endpoint

    def activities(self, received: str) -> Activities:
        token = self._exchange(received)
        resp = requests.get(
            self.config.activities_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        return Activities(
            resp.status_code, resp.json(), Hop(token_facts(received), token_facts(token))
        )

    def _exchange(self, received: str) -> str:
        config = self.config
        with OAuth2Session(config.client_id, config.client_secret) as oauth:
            answer = exchange(
                oauth, self.token_endpoint, received, [SCOPE], audience=fitness_api.AUDIENCE
            )
        return answer["access_token"]


def create_mcp_server(config: McpConfig) -> Starlette:
    idp = requests.get(config.discovery_url, timeout=5).json()
    clock = LabClock()
    clock.advance(config.clock_offset)
    guard = ResourceServer(
        name=AUDIENCE,
        audience=AUDIENCE,
        issuer=idp["issuer"],
        introspection_auth=(config.client_id, config.client_secret),
        clock=clock,
    )
    fitness = FitnessApiOnBehalf(config, idp["token_endpoint"])
    server = MCPServer(
        "fitness",
        token_verifier=LabTokenVerifier(guard),
        auth=AuthSettings(
            issuer_url=idp["issuer"],
            resource_server_url=config.url + PATH,
            required_scopes=[SCOPE],
            validate_token_resource=False,  # the verifier checks the audience itself
        ),
        log_level="WARNING",
    )

    @server.tool(structured_output=True)
    def list_activities() -> Activities:
        """The signed-in user's activities, read from the fitness API on their behalf."""
        return fitness.activities(get_access_token().token)

    # Stateless: every request is authenticated on its own, no session outlives it.
    return server.streamable_http_app(stateless_http=True, json_response=True)


# -- the client side: how an agent calls this server --------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One tool call: its structured result, the tool's error, or the HTTP refusal."""

    status: int
    result: dict[str, Any] | None = None
    error: str | None = None  # the tool ran and failed (a refused token exchange, say)
    challenge: str | None = None  # WWW-Authenticate of a 401/403: the tool never ran

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


def call_tool(url: str, token: str, tool: str) -> ToolCall:
    """Call ``tool`` at the MCP endpoint ``url`` with ``token`` as the bearer."""
    return asyncio.run(_call_tool(url, token, tool))


async def _call_tool(url: str, token: str, tool: str) -> ToolCall:
    refusals: list[httpx2.Response] = []

    async def note_refusal(response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            refusals.append(response)

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, event_hooks={"response": [note_refusal]}
    )
    try:
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool(tool, {})
    except (MCPError, ExceptionGroup):
        if not refusals:
            raise
        # The SDK turns an HTTP refusal into a generic MCP error; the status says why.
        refused = refusals[0]
        return ToolCall(refused.status_code, challenge=refused.headers.get("www-authenticate"))
    if result.is_error:
        return ToolCall(200, error=" ".join(getattr(c, "text", "") for c in result.content))
    return ToolCall(200, result=result.structured_content)
