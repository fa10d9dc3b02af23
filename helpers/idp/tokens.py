"""Access and ID tokens signed on the lab clock.

authlib's stock generators read ``time.time()``; the lab must be able to fast-forward,
so these subclasses supply ``iat``/``exp`` from the lab clock and leave signing to joserfc.
"""

from __future__ import annotations

import functools
import uuid

from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oidc.core import OpenIDCode
from joserfc import jwt

from ..clock import LabClock
from .keys import KeyRing
from .models import Client, Store, User
from .realm import Realm

ACCESS_TOKEN_TTL = 3600
ID_TOKEN_TTL = 3600
REFRESH_TOKEN_TTL = 30 * 24 * 3600


def audiences_for(scope: str, issuer: str, realm: Realm) -> list[str]:
    auds = realm.audiences(scope)
    if "openid" in scope.split():
        auds.append(f"{issuer}/userinfo")
    return auds


class JwtAccessTokenGenerator(BearerTokenGenerator):
    """RFC 9068 access tokens: ``typ: at+jwt`` with iss, sub, aud, scope, client_id, jti."""

    def __init__(self, issuer: str, keys: KeyRing, clock: LabClock, realm: Realm) -> None:
        super().__init__(self._access_token, self._refresh_token, self._expires_in)
        self.issuer, self.keys, self.clock, self.realm = issuer, keys, clock, realm

    @staticmethod
    def _expires_in(client: Client, grant_type: str) -> int:
        return ACCESS_TOKEN_TTL

    @staticmethod
    def _refresh_token(**_: object) -> str:
        return uuid.uuid4().hex + uuid.uuid4().hex

    def _access_token(
        self,
        client: Client,
        grant_type: str,
        user: User | None,
        scope: str,
        audience: str | None = None,
        act: dict | None = None,
    ) -> str:
        now = int(self.clock.now())
        claims = {
            "iss": self.issuer,
            "sub": user.get_user_id() if user else client.get_client_id(),
            "aud": [audience] if audience else audiences_for(scope, self.issuer, self.realm),
            "scope": scope,
            "client_id": client.get_client_id(),
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_TTL,
            "jti": uuid.uuid4().hex,
        }
        if act:
            claims["act"] = act
        header = {"alg": "RS256", "typ": "at+jwt", "kid": self.keys.current_kid}
        return jwt.encode(header, claims, self.keys.current)

    def bound_to(self, audience: str, act: dict | None = None) -> BearerTokenGenerator:
        """Tokens for one named audience: an API named by ``resource`` (RFC 8707), or the
        next hop of a token exchange (RFC 8693, with its ``act`` claim).

        The audience is explicit: inferring it from the scope would hand a token meant for
        one API the audiences of every API the scope happens to name.
        """
        return BearerTokenGenerator(
            functools.partial(self._access_token, audience=audience, act=act),
            self._refresh_token,
            self._expires_in,
        )

    def exchanged(
        self, client: Client, grant_type: str, user: User, scope: str, audience: str, act: dict
    ) -> dict:
        """A token response for RFC 8693: one named audience, an ``act`` claim, no refresh."""
        generator = self.bound_to(audience, act)
        return generator.generate(grant_type, client, user, scope, include_refresh_token=False)


class LabOpenIDCode(OpenIDCode):
    """OIDC on top of the code grant: id_token with nonce, at_hash and user claims."""

    def __init__(self, issuer: str, keys: KeyRing, store: Store) -> None:
        super().__init__(require_nonce=True)
        self.issuer, self.keys, self.store = issuer, keys, store

    def exists_nonce(self, nonce: str, request) -> bool:  # noqa: ANN001 - authlib request
        # A nonce seen before in a code of this client is a replayed authorization request.
        client_id = request.payload.client_id
        return any(c.nonce == nonce and c.client_id == client_id for c in self.store.codes.values())

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def resolve_client_private_key(self, client: Client):  # noqa: ANN201 - joserfc key
        return self.keys.current

    def get_encode_header(self, client: Client) -> dict:
        return {"alg": "RS256", "typ": "JWT", "kid": self.keys.current_kid}

    def get_client_claims(self, client: Client) -> dict:
        now = int(self.store.clock.now())
        return {
            "iss": self.issuer,
            "aud": [client.get_client_id()],
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
            "azp": client.get_client_id(),
        }

    def generate_user_info(self, user: User, scope: str) -> dict:
        return user_claims(user, scope)


def user_claims(user: User, scope: str) -> dict:
    """Standard OIDC claims released for the granted scopes (also served at /userinfo)."""
    scopes = scope.split()
    claims: dict[str, str] = {"sub": user.get_user_id()}
    if "profile" in scopes:
        claims["name"] = user.name
        claims["preferred_username"] = user.username
    if "email" in scopes:
        claims["email"] = user.email
    return claims
