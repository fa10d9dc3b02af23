"""The inspector wired to a running lab: its JWKS endpoint, issuer, audiences and clock."""

from __future__ import annotations

import requests

from ..cast import agent, fitness_api
from ..idp.seed import FRONTEND_CLIENT_ID
from ..lab import Lab
from .jwt_inspector import JwtInspector, TokenReport, inspect_token

# Who a token can be shown to in the lab, and the audience each one insists on.
LAB_AUDIENCES = {
    "the agent": agent.AUDIENCE,
    "the fitness API": fitness_api.AUDIENCE,
    "the frontend (id tokens)": FRONTEND_CLIENT_ID,
}


def _jwks(lab: Lab) -> dict:
    # Fetched over HTTP like any relying party would, so a key rotation shows up.
    return requests.get(f"{lab.urls.issuer}/jwks", timeout=5).json()


def inspector_for(lab: Lab, tokens: dict[str, str]) -> JwtInspector:
    return JwtInspector(
        tokens,
        jwks_source=lambda: _jwks(lab),
        issuer=lab.urls.issuer,
        audiences=LAB_AUDIENCES,
        clock=lab.clock,
    )


def inspect_for(lab: Lab, token: str) -> TokenReport:
    """Judge a token against the audience it claims among the lab's services."""
    return inspect_token(
        token, jwks=_jwks(lab), issuer=lab.urls.issuer, audience=None, now=lab.clock.now()
    )
