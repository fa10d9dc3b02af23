"""The identity provider's data: clients, users, codes and issued credentials.

In memory, guarded by one lock: the IdP serves requests from several threads and the
state only has to live as long as the lab. Each class implements the authlib mixin the
grant machinery calls, so authlib stays in charge of the protocol rules.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin

from ..clock import LabClock


@dataclass
class User:
    user_id: str
    username: str
    password: str
    name: str
    email: str

    def get_user_id(self) -> str:
        return self.user_id


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    client_name: str
    redirect_uris: list[str]
    grant_types: list[str]
    scope: str
    token_endpoint_auth_method: str = "client_secret_basic"
    # Resource servers that may call /introspect (RFC 7662 needs an authenticated caller).
    can_introspect: bool = False
    # Registered by the client itself (RFC 7591): its name is its own claim, unverified.
    self_registered: bool = False
    # The public keys of a private_key_jwt client (RFC 7523), as its administrator
    # registered them: a JWK Set.
    jwks: dict | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 9700: never guess; the request must name one of the registered URIs exactly.
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match, no normalisation

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user_id: str
    nonce: str | None
    auth_time: int
    code_challenge: str
    code_challenge_method: str
    expires_at: float
    used: bool = False
    # The grant the code turned into: a replayed code revokes this whole family.
    family: str | None = None
    resource: str | None = None  # the API its tokens are bound to (RFC 8707)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class IssuedToken(TokenMixin):
    """One credential string (an access or a refresh token) and its fate."""

    kind: str  # "access_token" | "refresh_token"
    value: str
    client_id: str
    user_id: str | None
    scope: str
    issued_at: float
    expires_at: float
    family: str
    clock: LabClock = field(repr=False)
    jti: str | None = None
    resource: str | None = None  # the API the grant is bound to (RFC 8707)
    revoked: bool = False
    rotated: bool = False  # a refresh token already exchanged for a new one

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return self.clock.now() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked


class Store:
    """Everything the IdP remembers, with the lookups the grants need."""

    def __init__(self, clock: LabClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, IssuedToken] = {}
        # Client assertions seen (RFC 7523 jti, "client/jti" -> expiry): each works once.
        self.assertion_ids: dict[str, float] = {}
        # APIs a client may name as ``resource`` (RFC 8707): URI -> the audience it checks.
        self.resources: dict[str, str] = {}
        # Every /token request, masked: shows step 3 and proves a client aborted before it.
        self.token_log: list[dict[str, str]] = []

    @property
    def token_requests(self) -> int:
        return len(self.token_log)

    def add_user(self, user: User) -> None:
        self.users[user.user_id] = user

    def add_client(self, client: Client) -> None:
        self.clients[client.client_id] = client

    def add_resource(self, uri: str, audience: str) -> None:
        self.resources[uri] = audience

    def user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username == username), None)

    def family_tokens(self, family: str) -> list[IssuedToken]:
        return [t for t in self.tokens.values() if t.family == family]

    def revoke_family(self, family: str) -> int:
        """Revoke every token of one grant (code replay, refresh-token reuse)."""
        with self.lock:
            victims = [t for t in self.family_tokens(family) if not t.revoked]
            for token in victims:
                token.revoked = True
            return len(victims)
