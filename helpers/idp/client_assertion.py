"""Client authentication with a signed JWT (``private_key_jwt``, RFC 7523 §2.2, OIDC Core §9).

The client proves who it is with a short-lived assertion signed by a private key that only
it can use; the IdP holds the public key its administrator registered (``Client.jwks``).
Nothing the IdP stores, and nothing that crosses the wire, lets anyone else sign one:
there is no shared secret to steal. authlib checks the signature and the claims (``iss`` =
``sub`` = the client, ``aud`` = this IdP's token endpoint or issuer, ``exp``); this module
says where the key is and remembers each ``jti`` until its assertion expires, so a
captured assertion cannot be replayed.
"""

from __future__ import annotations

import time

from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.jwk import KeySet

from .models import Client, Store

METHOD = "private_key_jwt"
SIGNING_ALGORITHMS = ["RS256", "PS256", "ES256"]  # what authlib verifies


class PrivateKeyJwt(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = METHOD

    def __init__(self, issuer: str, store: Store) -> None:
        super().__init__(validate_jti=True)
        self.issuer, self.store = issuer, store

    def get_audiences(self) -> list[str]:
        return [f"{self.issuer}/token", self.issuer]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        return KeySet.import_key_set(client.jwks or {"keys": []})

    def validate_jti(self, claims: dict, jti: str) -> bool:
        # Assertions are checked against the wall clock (authlib's), so their ids are too.
        now = time.time()
        seen = self.store.assertion_ids
        with self.store.lock:
            for old in [key for key, expires in seen.items() if expires < now]:
                del seen[old]
            key = f"{claims['sub']}/{jti}"
            if key in seen:
                return False
            seen[key] = float(claims["exp"])
            return True
