"""Check yourself, notebook 01 · The browser login."""

from __future__ import annotations

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .base import UNANSWERED, Verdict, hands_on, unanswered, verdict

__all__ = ["check_pkce_pair"]


@hands_on
def check_pkce_pair(verifier: object, challenge: object) -> Verdict:
    """01: build a valid S256 PKCE pair yourself."""
    if unanswered(verifier) or unanswered(challenge):
        return UNANSWERED
    if not isinstance(verifier, str) or not 43 <= len(verifier) <= 128:
        return verdict(False, "", "RFC 7636 wants a verifier of 43 to 128 characters.")
    return verdict(
        create_s256_code_challenge(verifier) == challenge,
        "The IdP will accept this verifier for this challenge, and nobody can go backwards.",
        "challenge = BASE64URL(SHA256(verifier)) without '=' padding.",
    )
