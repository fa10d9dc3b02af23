"""Inbound JWT authorization: which user tokens the emulator accepts, by discovery URL.

Like AgentCore's JWT authorizer, it trusts an issuer only through its OIDC discovery
document and only for the audiences configured for it; the user is ``iss`` + ``sub``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from ..clock import LabClock
from ..jwt_check import TokenRejected, decode_unverified, verify_jwt
from .errors import AwsError


@dataclass(frozen=True)
class TrustedIssuer:
    discovery_url: str
    audiences: tuple[str, ...]


class InboundAuthorizer:
    def __init__(self, trusted: list[TrustedIssuer], clock: LabClock) -> None:
        self.trusted, self.clock = trusted, clock
        self._metadata: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _discover(self, issuer: TrustedIssuer, refresh: bool = False) -> dict:
        with self._lock:
            if refresh or issuer.discovery_url not in self._metadata:
                doc = requests.get(issuer.discovery_url, timeout=5).json()
                doc["jwks"] = requests.get(doc["jwks_uri"], timeout=5).json()
                self._metadata[issuer.discovery_url] = doc
            return self._metadata[issuer.discovery_url]

    def user_of(self, token: str) -> tuple[str, str]:
        """(issuer, subject) of a valid user token, or AccessDeniedException saying why."""
        try:
            claimed_issuer = decode_unverified(token)[1].get("iss")
        except TokenRejected as exc:
            raise _denied(exc.explanation) from None
        for issuer in self.trusted:
            if self._discover(issuer)["issuer"] == claimed_issuer:
                return claimed_issuer, self._verify(token, issuer)["sub"]
        raise _denied(f"The token's issuer {claimed_issuer!r} is not trusted.")

    def _verify(self, token: str, issuer: TrustedIssuer) -> dict:
        last: TokenRejected | None = None
        for audience in issuer.audiences:
            for refresh in (False, True):  # a key rotation at the IdP shows up as unknown kid
                meta = self._discover(issuer, refresh)
                try:
                    return verify_jwt(
                        token,
                        jwks=meta["jwks"],
                        issuer=meta["issuer"],
                        audience=audience,
                        now=self.clock.now(),
                        typ=None,
                    )
                except TokenRejected as exc:
                    last = exc
                    if exc.reason != "unknown_kid":
                        break
        raise _denied(last.explanation if last else "No audience configured.")


def _denied(why: str) -> AwsError:
    return AwsError("AccessDeniedException", f"User token rejected: {why}")
