"""Inbound JWT authorization: which user tokens the emulator accepts, by discovery URL.

Like AgentCore's JWT authorizer, it trusts an issuer only through its OIDC discovery
document and only for the audiences configured for it; the user is ``iss`` + ``sub``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import LabClock
from ..jwks import Documents, FetchFailed, KeySet, verify_with
from ..jwt_check import TokenRejected, decode_unverified, verify_jwt
from .errors import AwsError


@dataclass(frozen=True)
class TrustedIssuer:
    discovery_url: str
    audiences: tuple[str, ...]  # empty: any audience (no allowedAudience)


class InboundAuthorizer:
    def __init__(self, trusted: list[TrustedIssuer], clock: LabClock) -> None:
        self.trusted, self.clock = trusted, clock
        self._discovery = Documents()
        self._keys = {t.discovery_url: self._key_set(t.discovery_url) for t in trusted}

    def _key_set(self, discovery_url: str) -> KeySet:
        return KeySet(lambda: self._discovery.get(discovery_url)["jwks_uri"])

    def issuers(self) -> list[str]:
        """The issuer identifiers it trusts, as their discovery documents name them (or, when
        a document cannot be fetched, as its URL implies: what a client is told stays right
        while the IdP is down, and every token is refused meanwhile)."""
        named = []
        for trusted in self.trusted:
            try:
                named.append(self._discovery.get(trusted.discovery_url)["issuer"])
            except (FetchFailed, KeyError):
                named.append(issuer_implied_by(trusted.discovery_url))
        return named

    def user_of(self, token: str) -> tuple[str, str]:
        """(issuer, subject) of a valid user token, or AccessDeniedException saying why."""
        claims = self.claims_of(token)
        return claims["iss"], claims["sub"]

    def claims_of(self, token: str) -> dict:
        """The verified claims of a valid user token, or AccessDeniedException saying why."""
        try:
            claimed_issuer = decode_unverified(token)[1].get("iss")
            for issuer in self.trusted:
                if self._discovery.get(issuer.discovery_url)["issuer"] == claimed_issuer:
                    return self._verify(token, issuer)
        except TokenRejected as exc:
            raise _denied(exc.explanation) from None
        except (FetchFailed, KeyError) as exc:  # fail closed when the IdP cannot be asked
            raise _denied(f"the issuer's discovery document or keys are unusable: {exc}") from None
        raise _denied(f"The token's issuer {claimed_issuer!r} is not trusted.")

    def _verify(self, token: str, issuer: TrustedIssuer) -> dict:
        metadata = self._discovery.get(issuer.discovery_url)
        last: TokenRejected | None = None
        for audience in issuer.audiences or (None,):  # None: no allowedAudience, any audience
            try:
                return verify_with(
                    self._keys[issuer.discovery_url],
                    lambda jwks, audience=audience: verify_jwt(
                        token,
                        jwks=jwks,
                        issuer=metadata["issuer"],
                        audience=audience,
                        now=self.clock.now(),
                        typ=None,
                    ),
                )
            except TokenRejected as exc:
                last = exc
        assert last is not None  # the loop ran at least once
        raise last


def issuer_implied_by(discovery_url: str) -> str:
    """The issuer a discovery URL is built from: OpenID Connect Discovery §4 appends the
    well-known path to the issuer, RFC 8414 §3 inserts it between host and path."""
    base, _, well_known = discovery_url.partition("/.well-known/")
    path = well_known.partition("/")[2]
    return f"{base}/{path}" if path else base


def _denied(why: str) -> AwsError:
    return AwsError("AccessDeniedException", f"User token rejected: {why}")
