"""Notebook 01 · The browser login, step by step: worked solutions."""

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from helpers.exercises import Verdict, check_pkce_pair
from helpers.lab import Lab


def pkce_pair(lab: Lab) -> Verdict:
    """A verifier of 64 URL-safe characters and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return check_pkce_pair(verifier, create_s256_code_challenge(verifier))
