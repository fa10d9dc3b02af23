"""OAuth 2.0 Token Exchange (RFC 8693) at the lab IdP: one more hop, one more token.

A middle tier (the coach agent, the MCP server) holds a user's token that was minted for
*it*. To call the next service it must not forward that token (the next service would
rightly refuse it, or worse, accept a token meant for someone else). It trades the token
here instead, authenticated as a confidential client, and gets a new one:

- ``aud``: exactly the one audience it named; an audience the IdP does not know is
  ``invalid_target``;
- ``scope``: what it asked for, never more than the client may pass on (``DELEGATES`` in
  seed.py) and the user granted: a user token carrying the scope that names the client
  (``agent:invoke`` for the coach) is the user's consent to let that client act for them,
  within what it may pass on; a token that is already delegated can only be narrowed;
- ``sub``: still the user; ``act``: the client now acting, wrapping any earlier actor
  (RFC 8693 §4.1), so the last service in the chain sees every hop;
- no refresh token: the middle tier exchanges again while the user's token lives.

The subject token must be an access token of this IdP, still active, whose audience
names the exchanging client: in the lab a resource server's client id is its audience.
A bad subject token is ``invalid_request``, as RFC 8693 §2.2.2 requires.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from ..jwt_check import TokenRejected, verify_jwt
from ..rfc8693 import ACCESS_TOKEN_TYPE, GRANT_TYPE
from .grants import CONFIDENTIAL_AUTH_METHODS
from .keys import KeyRing
from .models import Client, Store, User
from .resources import InvalidTargetError
from .tokens import JwtAccessTokenGenerator


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS
    # Bound per IdP (grants.bound): two labs in one process must not share them.
    store: Store
    tokens: JwtAccessTokenGenerator
    keys: KeyRing
    issuer: str

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(GRANT_TYPE):
            raise UnauthorizedClientError(f"{client.client_id} may not exchange tokens.")
        self.request.client = client
        data = self.request.payload.data
        _check_token_types(data)
        self.audience = self._target()
        subject = self._subject(data["subject_token"], client)
        self.request.user = self._user(subject)
        self.scope = self._scope(client, subject)
        self.act = {"sub": client.client_id}
        if "act" in subject:  # RFC 8693 §4.1: earlier actors nest inside the current one
            self.act["act"] = subject["act"]

    def create_token_response(self) -> tuple[int, dict, list]:
        token = self.tokens.exchanged(
            self.client, GRANT_TYPE, self.request.user, self.scope, self.audience, self.act
        )
        token["issued_token_type"] = ACCESS_TOKEN_TYPE
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def _target(self) -> str:
        datalist = self.request.payload.datalist
        targets = datalist.get("audience", []) + datalist.get("resource", [])
        if not targets:
            raise InvalidRequestError("Name the service the token is for: audience (or resource).")
        if len(targets) > 1:
            raise InvalidTargetError(description="One audience per token.")
        if not self.tokens.realm.knows(targets[0]):
            raise InvalidTargetError(description=f"{targets[0]!r} is not a known audience.")
        return targets[0]

    def _subject(self, token: str, client: Client) -> dict:
        """Claims of a token of ours, still active, that was meant for the caller itself."""
        try:
            claims = verify_jwt(
                token,
                jwks=self.keys.jwks(),
                issuer=self.issuer,
                audience=client.client_id,
                now=self.store.clock.now(),
            )
        except TokenRejected as exc:
            raise InvalidRequestError(f"subject_token: {exc.explanation}") from None
        record = self.store.tokens.get(token)
        if record is None or record.kind != "access_token" or record.is_revoked():
            raise InvalidRequestError("subject_token is not active: revoked, or never issued.")
        return claims

    def _user(self, subject: dict) -> User:
        user = self.store.users.get(subject["sub"])
        if user is None:
            raise InvalidRequestError("subject_token does not name a user to act for.")
        return user

    def _scope(self, client: Client, subject: dict) -> str:
        requested = (self.request.payload.scope or "").split()
        if not requested:
            raise InvalidScopeError("Ask for the scopes the next hop needs, and no more.")
        delegable = set(client.scope.split())
        granted = set(str(subject.get("scope", "")).split())
        invokes = self.tokens.realm.invoking(client.client_id)
        if "act" not in subject and granted & invokes:
            # The user's own token, with the scope that lets this client act for them
            # (agent:invoke): consent to what the IdP lets the client pass on, no more.
            granted |= delegable
        allowed = delegable & granted
        if not set(requested) <= allowed:
            raise InvalidScopeError(
                f"Only {' '.join(sorted(allowed)) or 'nothing'} can be delegated here."
            )
        return " ".join(requested)


def _check_token_types(data: dict) -> None:
    if data.get("subject_token_type") != ACCESS_TOKEN_TYPE or not data.get("subject_token"):
        raise InvalidRequestError(f"Send a subject_token of type {ACCESS_TOKEN_TYPE}.")
    if data.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError("This IdP only issues access tokens.")
    if "actor_token" in data:
        # The actor is the authenticated client; a second credential would only blur who.
        raise InvalidRequestError("actor_token is not supported: the client is the actor.")
