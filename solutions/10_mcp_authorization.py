"""Notebook 10 · MCP authorization: worked solutions."""

import asyncio

import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from helpers.exercises import Verdict, check_bob_through_mcp, check_mcp_defences
from helpers.lab import Lab
from helpers.mcp_login import ScriptedUser, Tokens


def mcp_defences(lab: Lab) -> Verdict:
    """A token replayed at another server, or shown to the API: its audience is wrong
    there. A rogue issuer: the runtime trusts its own discovery URL's. A stolen code:
    PKCE. A code from another server: iss in the answer."""
    return check_mcp_defences({1: "A", 2: "C", 3: "D", 4: "B", 5: "A"})


def bob_through_mcp(lab: Lab) -> Verdict:
    """Bob's own client: the same three things the SDK needs (metadata, storage, a person),
    then the same session as Alice's. It registers a client of its own, and Bob consents."""
    mcp_url = lab.agentcore.mcp_url or lab.agentcore.create_mcp_runtime(
        activities_url=lab.urls.fitness_api + "/v1/athlete/activities"
    )  # the notebook made it with CreateAgentRuntime
    redirect = "http://127.0.0.1:33418/callback"
    me = OAuthClientMetadata(
        client_name="Bob's desktop assistant",
        redirect_uris=[redirect],
        grant_types=["authorization_code", "refresh_token"],
    )
    bob = ScriptedUser("bob", "bob-lab-password", redirect)
    auth = OAuthClientProvider(mcp_url, me, Tokens(), bob.redirect_handler, bob.callback_handler)

    async def call() -> dict:
        async with (
            httpx2.AsyncClient(auth=auth) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as session,
        ):
            called = await session.call_tool("list_activities", {})
        return called.structured_content

    return check_bob_through_mcp(lab, asyncio.run(call()))
