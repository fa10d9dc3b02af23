"""Notebook 02 · Where each credential lives, and what a leak costs: worked solutions."""

import os

import requests

from helpers.exercises import Verdict, check_access_limits, check_leak_costs, check_refresh_revoked
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab


def leak_costs(lab: Lab) -> Verdict:
    """A code is useless alone; an id token tells who, opens nothing; an access token works
    until it expires; a refresh token mints more; the client secret is the app itself."""
    return check_leak_costs(
        {
            "authorization code": "D",
            "id token": "B",
            "access token": "E",
            "refresh token": "A",
            "client secret": "C",
        }
    )


def refresh_revoked(lab: Lab) -> Verdict:
    """Alice signs in and Mallory copies her refresh token. The frontend, which owns it,
    revokes it at the IdP's revocation endpoint (RFC 7009) with its client credentials —
    both endpoints are in the discovery document — and introspection (RFC 7662) then
    answers active: false. Nobody refreshed with the token: it died unused."""
    alice = lab.browser()
    alice.sign_in(lab.urls.frontend + "/login", "alice", "alice-lab-password")
    stolen = lab.frontend.session_tokens(alice.session.cookies["frontend_session"])
    stolen_refresh = stolen["refresh_token"]
    frontend = ("fitness-frontend", lab.frontend_env()["OAUTH_CLIENT_SECRET"])
    discovery = requests.get(os.environ["LAB_OIDC_DISCOVERY_URL"], timeout=5).json()
    form = {"token": stolen_refresh, "token_type_hint": "refresh_token"}
    requests.post(discovery["revocation_endpoint"], data=form, auth=frontend, timeout=5)
    answer = requests.post(discovery["introspection_endpoint"], data=form, auth=frontend, timeout=5)
    introspection = answer.json()
    return check_refresh_revoked(lab, stolen_refresh, introspection)


def access_limits(lab: Lab) -> Verdict:
    """A stolen access token says itself where and how long it works: ``aud`` names every
    service that accepts it (the agent and the IdP's userinfo endpoint, not the fitness API),
    and ``exp - iat`` is its lifetime, 3600 s: 60 minutes."""
    alice = lab.browser()
    alice.sign_in(lab.urls.frontend + "/login", "alice", "alice-lab-password")
    stolen = lab.frontend.session_tokens(alice.session.cookies["frontend_session"])
    claims = decode_unverified(stolen["access_token"])[1]
    minutes = (claims["exp"] - claims["iat"]) // 60
    return check_access_limits(lab, stolen["access_token"], claims["aud"], minutes)
