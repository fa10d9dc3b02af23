"""The inspector wired to a running lab: its IdP's keys, issuer, audiences and clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..jwks import endpoint_in, fetch_json
from ..stopped import LabStopped
from .jwt_inspector import JwtInspector, TokenReport, inspect_token

if TYPE_CHECKING:  # the lab itself is never imported here: it loads every server library
    from ..lab import Lab


def running(lab: Lab) -> Lab:
    """``lab``, or :class:`LabStopped` when it was stopped (a re-run start cell does that)."""
    if lab.stopped:
        raise LabStopped()
    return lab


def _jwks(lab: Lab) -> dict:
    # Fetched over HTTP at every look, like a relying party with no cache: a key rotation
    # shows up at once. The keys are where the discovery document says, at any provider.
    url = running(lab).urls.discovery
    jwks_uri = endpoint_in(fetch_json(url, "discovery document"), "jwks_uri", url)
    return fetch_json(jwks_uri, "identity provider's keys (JWKS)")


def inspector_for(lab: Lab, tokens: dict[str, str]) -> JwtInspector:
    return JwtInspector(
        tokens,
        jwks_source=lambda: _jwks(lab),
        issuer=lab.urls.issuer,
        audiences=lab.audiences,
        clock=lab.clock,
    )


def inspect_for(lab: Lab, token: str) -> TokenReport:
    """Judge a token against the audience it claims among the lab's services."""
    return inspect_token(
        token, jwks=_jwks(lab), issuer=lab.urls.issuer, audience=None, now=lab.clock.now()
    )
