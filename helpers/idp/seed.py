"""Who exists in the lab's identity provider: users 1 and 2 of the course, and the clients.

User passwords are lab fixtures printed on the login page; client secrets are random per
lab run, as a real deployment would inject them, and never leave the lab object unmasked.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import import_key

from ..rfc8693 import GRANT_TYPE as TOKEN_EXCHANGE
from .models import Client, User
from .realm import Realm

USERS = [
    User("user-1-alice", "alice", "alice-lab-password", "Alice Runner", "alice@example.com"),
    User("user-2-bob", "bob", "bob-lab-password", "Bob Cyclist", "bob@example.com"),
]

# The course's identity provider: its APIs are the cast's services.
REALM = Realm(
    name="Lab Identity Provider",
    apis={
        "agent:invoke": "fitness-agent",
        "activities:read": "fitness-api",
        "activities:write": "fitness-api",
        "mcp:invoke": "fitness-mcp",
    },
    accounts="Lab users",
    usernames=("alice", "bob"),
    passwords_in="helpers/idp/seed.py",
)

FRONTEND_CLIENT_ID = "fitness-frontend"
# What the web app asks for at every login: only what it needs to call the agent for its
# user. Each scope puts its service into the access token's audience (tokens.py), so
# asking for activities:read too would make the user's token good at the fitness API
# directly, for anyone who steals it on the way. The coach reads activities with a token
# of its own (notebooks 04 and 05), never with the user's.
FRONTEND_LOGIN_SCOPE = "openid profile email offline_access agent:invoke"
# What the client registration allows: the login scope, plus activities:read for the lab's
# attack catalogue (tests/), which signs in through this client to get a fitness-API token
# to attack the API with. A production registration would allow the login scope only.
FRONTEND_ALLOWED_SCOPE = f"{FRONTEND_LOGIN_SCOPE} activities:read"
MCP_CLIENT_ID = "fitness-mcp"

# Resource servers that call the next hop for their user (RFC 8693): what each may pass on.
# The coach hands the MCP server a token to read activities, the MCP server the fitness API.
# Alice grants the coach agent:invoke, not activities:read: this table is what that grant
# lets the coach pass on for her (token_exchange.py).
DELEGATES = {"fitness-agent": "activities:read", MCP_CLIENT_ID: "activities:read"}


def frontend_client(redirect_uris: list[str], secret: str) -> Client:
    return Client(
        client_id=FRONTEND_CLIENT_ID,
        client_secret=secret,
        client_name="Fitness Coach (web app)",
        redirect_uris=redirect_uris,
        grant_types=["authorization_code", "refresh_token"],
        scope=FRONTEND_ALLOWED_SCOPE,
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


def key_client(client_id: str, public_key: bytes, scope: str) -> Client:
    """A backend job that proves itself with a signed assertion (private_key_jwt): the IdP
    keeps its public key (RSA or EC, DER) as a JWK Set, and no secret at all."""
    loaded = serialization.load_der_public_key(public_key)
    key_type = "RSA" if isinstance(loaded, rsa.RSAPublicKey) else "EC"
    jwk = import_key(public_key, key_type).as_dict(private=False, use="sig")
    return Client(
        client_id,
        "",
        "Nightly report job (key)",
        [],
        ["client_credentials"],
        scope,
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [jwk]},
    )


def new_secret() -> str:
    return secrets.token_urlsafe(32)
