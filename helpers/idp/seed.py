"""Who exists in the lab's identity provider: users 1 and 2 of the course, and the clients.

User passwords are lab fixtures printed on the login page; client secrets are random per
lab run, as a real deployment would inject them, and never leave the lab object unmasked.
"""

from __future__ import annotations

import secrets

from .models import Client, User
from .token_exchange import GRANT_TYPE as TOKEN_EXCHANGE

USERS = [
    User("user-1-alice", "alice", "alice-lab-password", "Alice Runner", "alice@example.com"),
    User("user-2-bob", "bob", "bob-lab-password", "Bob Cyclist", "bob@example.com"),
]

FRONTEND_CLIENT_ID = "fitness-frontend"
FRONTEND_SCOPE = "openid profile email offline_access agent:invoke activities:read"
MCP_CLIENT_ID = "fitness-mcp"

# Resource servers that call the next hop for their user (RFC 8693): what each may pass on.
# The coach hands the MCP server a token to read activities, the MCP server the fitness API.
DELEGATES = {"fitness-agent": "activities:read", MCP_CLIENT_ID: "activities:read"}


def frontend_client(redirect_uri: str, secret: str) -> Client:
    return Client(
        client_id=FRONTEND_CLIENT_ID,
        client_secret=secret,
        client_name="Fitness Coach (web app)",
        redirect_uris=[redirect_uri],
        grant_types=["authorization_code", "refresh_token"],
        scope=FRONTEND_SCOPE,
    )


def resource_server_client(client_id: str, name: str) -> Client:
    """An API that may ask the IdP whether a token is still active (RFC 7662).

    A delegate may also exchange the tokens it receives for the next hop's (RFC 8693).
    """
    scope = DELEGATES.get(client_id, "")
    grants = [TOKEN_EXCHANGE] if scope else []
    return Client(client_id, new_secret(), name, [], grants, scope, can_introspect=True)


def machine_client(client_id: str, scope: str) -> Client:
    """A backend job with no user: client credentials only (M2M)."""
    return Client(client_id, new_secret(), "Nightly report job", [], ["client_credentials"], scope)


def new_secret() -> str:
    return secrets.token_urlsafe(32)
