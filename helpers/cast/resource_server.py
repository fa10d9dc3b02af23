"""What every API of the cast does with a bearer token before doing anything else.

1. Validate the JWT locally against the IdP's published keys (signature, alg, typ, iss,
   aud, time, scope) — see ``helpers.jwt_check``.
2. Ask the IdP whether it is still active (RFC 7662), because a JWT cannot un-sign
   itself: revocation after a code replay or a refresh-token reuse is only visible there.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import requests
from flask import g, jsonify, request

from ..clock import LabClock
from ..jwt_check import TokenRejected, bearer_challenge, verify_jwt


class ResourceServer:
    def __init__(
        self,
        *,
        name: str,
        audience: str,
        issuer: str,
        introspection_auth: tuple[str, str],
        clock: LabClock,
    ) -> None:
        self.name, self.audience, self.issuer, self.clock = name, audience, issuer, clock
        self._introspection_auth = introspection_auth
        self._jwks: dict | None = None
        self._lock = threading.Lock()

    def _keys(self, refresh: bool = False) -> dict:
        with self._lock:
            if self._jwks is None or refresh:
                self._jwks = requests.get(f"{self.issuer}/jwks", timeout=5).json()
            return self._jwks

    def check(self, token: str, scope: str | None) -> dict:
        """Claims of a token this API may honour, or :class:`TokenRejected`."""
        verify = functools.partial(
            verify_jwt,
            token,
            issuer=self.issuer,
            audience=self.audience,
            now=self.clock.now(),
            required_scope=scope,
        )
        try:
            claims = verify(jwks=self._keys())
        except TokenRejected as exc:
            if exc.reason != "unknown_kid":
                raise
            claims = verify(jwks=self._keys(refresh=True))  # the IdP may have rotated its key
        if not self._active(token):
            raise TokenRejected("revoked", "The identity provider says this token was revoked.")
        return claims

    def _active(self, token: str) -> bool:
        resp = requests.post(
            f"{self.issuer}/introspect",
            data={"token": token},
            auth=self._introspection_auth,
            timeout=5,
        )
        return resp.ok and resp.json().get("active") is True

    def protect(self, scope: str | None) -> Callable:
        """Flask view decorator: 401/403 with RFC 6750 errors, claims in ``flask.g.claims``."""

        def decorate(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                header = request.headers.get("Authorization", "")
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return _refuse(None, self.name, 401)
                try:
                    g.claims = self.check(token.strip(), scope)
                except TokenRejected as exc:
                    return _refuse(
                        exc, self.name, 403 if exc.error == "insufficient_scope" else 401
                    )
                return view(*args, **kwargs)

            return wrapper

        return decorate


def _refuse(exc: TokenRejected | None, realm: str, status: int) -> Any:
    # RFC 6750 §3.1: a request with no credentials at all gets no error code.
    body = (
        {"error": exc.error, "error_description": exc.explanation}
        if exc
        else {"error_description": "Send 'Authorization: Bearer <token>'."}
    )
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["WWW-Authenticate"] = bearer_challenge(exc, realm)
    return resp
