"""What every API of the cast does with a bearer token before doing anything else.

1. Validate the JWT locally against the IdP's published keys (signature, alg, typ, iss,
   aud, time, scope) — see ``helpers.jwt_check``.
2. Ask the IdP whether it is still active (RFC 7662), because a JWT cannot un-sign
   itself: revocation after a code replay or a refresh-token reuse is only visible there.
   A provider that offers no introspection leaves the API with step 1 alone.

Both addresses come from the IdP's discovery document (``jwks_uri``,
``introspection_endpoint``): each provider lays out its paths its own way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import requests
from flask import g, jsonify, request

from ..bearer import bearer_token, refusal
from ..clock import LabClock
from ..jwks import Documents, FetchFailed, KeySet, endpoint_in, verify_with
from ..jwt_check import TokenRejected, verify_jwt


class ResourceServer:
    def __init__(
        self,
        *,
        name: str,
        audience: str,
        issuer: str,
        discovery_url: str,
        introspection_auth: tuple[str, str],
        clock: LabClock,
    ) -> None:
        self.name, self.audience, self.issuer, self.clock = name, audience, issuer, clock
        self.discovery_url = discovery_url
        self._introspection_auth = introspection_auth
        self._discovery = Documents()  # read at the first token, not while the IdP starts
        self.keys = KeySet(lambda: endpoint_in(self._provider(), "jwks_uri", discovery_url))

    def _provider(self) -> dict:
        return self._discovery.get(self.discovery_url)

    def check(self, token: str, scope: str | None) -> dict:
        """Claims of a token this API may honour, or :class:`TokenRejected`.

        Raises :class:`~helpers.jwks.FetchFailed` when the IdP's keys cannot be read.
        """
        verify = functools.partial(
            verify_jwt,
            token,
            issuer=self.issuer,
            audience=self.audience,
            now=self.clock.now(),
            required_scope=scope,
        )
        claims = verify_with(self.keys, lambda jwks: verify(jwks=jwks))
        if not self._active(token):
            raise TokenRejected("revoked", "The identity provider says this token was revoked.")
        return claims

    def _active(self, token: str) -> bool:
        url = self._provider().get("introspection_endpoint")
        if url is None:  # RFC 7662 is optional: the signature and claims are all there is
            return True
        try:
            resp = requests.post(
                url, data={"token": token}, auth=self._introspection_auth, timeout=5
            )
            return resp.ok and resp.json().get("active") is True
        except (requests.RequestException, ValueError) as exc:
            why = type(exc).__name__
            raise FetchFailed(f"Could not ask {url} whether the token is active ({why}).") from None

    def protect(self, scope: str | None) -> Callable:
        """Flask view decorator: 401/403 with RFC 6750 errors, claims in ``flask.g.claims``."""

        def decorate(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    token = bearer_token(request.headers.get("Authorization"))
                    if token is None:
                        return refusal(None, self.name)
                    g.claims = self.check(token, scope)
                except TokenRejected as exc:
                    return refusal(exc, self.name)
                except FetchFailed as exc:  # not the caller's fault: say so, and when to retry
                    resp = jsonify(error="temporarily_unavailable", error_description=str(exc))
                    resp.status_code, resp.headers["Retry-After"] = 503, "5"
                    return resp
                return view(*args, **kwargs)

            return wrapper

        return decorate
