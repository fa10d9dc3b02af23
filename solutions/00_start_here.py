"""Notebook 00 · Start here: worked solutions."""

import os

import requests

from helpers.exercises import Verdict, check_issuer, check_signing_kid
from helpers.lab import Lab


def issuer(lab: Lab) -> Verdict:
    """Read the issuer from the discovery document the lab exports."""
    discovery = requests.get(os.environ["LAB_OIDC_DISCOVERY_URL"], timeout=5).json()
    return check_issuer(lab, discovery["issuer"])


def signing_kid(lab: Lab) -> Verdict:
    """The discovery document names every other endpoint, the key set (JWKS) among them: its
    ``jwks_uri``. That document is ``{"keys": [...]}``, one JWK per published key, each named
    by its ``kid``; the IdP publishes one key until it rotates, and signs with it."""
    discovery = requests.get(os.environ["LAB_OIDC_DISCOVERY_URL"], timeout=5).json()
    jwks = requests.get(discovery["jwks_uri"], timeout=5).json()
    (key,) = jwks["keys"]  # one key: the lab has not rotated it
    return check_signing_kid(lab, key["kid"])
