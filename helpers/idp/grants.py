"""Grants tightened to RFC 9700 (OAuth 2.0 Security BCP) where authlib's defaults are looser.

- PKCE is mandatory and S256-only: authlib accepts ``plain`` and lets a confidential
  client skip PKCE entirely.
- Codes live 60 s and are single-use; a replayed code revokes what it issued (RFC 6749 §4.1.2).
- Refresh tokens rotate; presenting a rotated one revokes the whole family (RFC 9700 §4.14).
- A grant made for one resource (RFC 8707, resources.py) yields tokens for that API only,
  refreshed tokens included.
- Public clients (``none``: an MCP client that registered itself) redeem codes and refresh
  with PKCE alone; a confidential client still has to authenticate.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge

from . import client_assertion, resources
from .models import AuthorizationCode, Client, IssuedToken, Store, User
from .tokens import JwtAccessTokenGenerator

CODE_TTL = 60

Grant = TypeVar("Grant", bound=grants.BaseGrant)


def bound(grant: type[Grant], **state: object) -> type[Grant]:
    """A subclass of ``grant`` that carries one IdP's state (its store, keys, issuer).

    authlib registers grant classes and instantiates one per request, so whatever a grant
    needs must live on the class; on a subclass of its own, two labs in one process never
    see each other's codes or tokens.
    """
    return type(grant.__name__, (grant,), state)


class S256Required(CodeChallenge):
    """PKCE for every client, S256 only (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri: str) -> None:  # noqa: ANN001
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            # An absent method means "plain" (RFC 7636 §4.3), which would put the
            # verifier itself in the URL.
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


# How a confidential client may authenticate at /token; each client has its one method.
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", client_assertion.METHOD]
# Where a user's grant is redeemed, a public client (PKCE alone) may too.
USER_GRANT_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]


class ResourceBound:
    """Tokens of a grant made for a resource carry that resource's audience alone."""

    store: Store  # bound per IdP (see bound)
    tokens: JwtAccessTokenGenerator

    def generate_token(
        self,
        user=None,
        scope=None,
        grant_type=None,
        expires_in=None,  # noqa: ANN001, ANN201
        include_refresh_token=True,
    ):
        resource = getattr(self.request, "resource", None)
        if resource is None:
            return super().generate_token(
                user, scope, grant_type, expires_in, include_refresh_token
            )
        generator = self.tokens.bound_to(self.store.resources[resource])
        return generator.generate(
            grant_type or self.GRANT_TYPE,
            self.request.client,
            user,
            scope,
            expires_in,
            include_refresh_token,
        )


class AuthorizationCodeGrant(ResourceBound, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = USER_GRANT_AUTH_METHODS

    def save_authorization_code(self, code: str, request) -> None:  # noqa: ANN001
        data = request.payload.data
        now = self.store.clock.now()
        self.store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            user_id=request.user.user_id,
            nonce=data.get("nonce"),
            auth_time=int(request.user_auth_time),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            expires_at=now + CODE_TTL,
            resource=request.resource,
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        with self.store.lock:
            found = self.store.codes.get(code)
            if found is None or found.client_id != client.client_id:
                return None
            if found.used:
                # Someone replays a redeemed code: assume it leaked and kill what it bought.
                if found.family:
                    self.store.revoke_family(found.family)
                return None
            if self.store.clock.now() >= found.expires_at:
                return None
            found.used = True  # claimed now, so two racing redemptions cannot both win
            return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Keep the spent code: its record is how a later replay is recognised.
        pass

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return self.store.users.get(authorization_code.user_id)


class RefreshTokenGrant(ResourceBound, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = USER_GRANT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        with self.store.lock:
            found = self.store.tokens.get(refresh_token)
            if found is None or found.kind != "refresh_token" or found.revoked:
                return None
            if found.rotated:
                # Reuse of a rotated token: either the client or a thief holds a stale
                # copy; we cannot tell which, so the whole family dies (RFC 9700 §4.14.2).
                self.store.revoke_family(found.family)
                return None
            if found.is_expired():
                return None
            return found

    def validate_token_request(self) -> None:
        super().validate_token_request()
        granted = self.request.refresh_token.resource
        resources.same_as_granted(self.request.payload.datalist, self.store, granted)
        self.request.resource = granted
        # Claim the token only once the client, scope and resource checked out: a refused
        # request (say, a scope too wide) must leave the client's refresh token usable.
        self._claim(self.request.refresh_token)

    def _claim(self, token: IssuedToken) -> None:
        with self.store.lock:
            if token.rotated or token.revoked:
                # A concurrent request claimed it between lookup and here: that is reuse too.
                self.store.revoke_family(token.family)
                raise InvalidGrantError()
            token.rotated = True

    def authenticate_user(self, refresh_token: IssuedToken) -> User | None:
        return self.store.users.get(refresh_token.user_id or "")

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        # The old refresh token is already marked rotated; its access token stays valid
        # until it expires, as with any bearer token already handed out.
        pass


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        # authlib would silently narrow the scope to what the client may have, and issue a
        # token with no scope at all; a machine asking for more than it may gets an error.
        requested = set((self.request.payload.scope or "").split())
        if not requested <= set(self.request.client.scope.split()):
            raise InvalidScopeError()
        super().validate_requested_scope()


def new_family() -> str:
    return uuid.uuid4().hex
