"""Check yourself, notebook 01 · The browser login."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ..jwt_check import TokenRejected, decode_unverified, typ_matches, verify_jwt
from .base import UNANSWERED, Verdict, hands_on, lacking, unanswered, verdict

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["LOGIN_THREATS", "check_bobs_access_token", "check_login_guards", "check_pkce_pair"]

# RFC 7636 §4.1: a verifier uses only the "unreserved" characters of URIs.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def _challenge_hint(verifier: str, challenge: str) -> str:
    """What is wrong with a challenge that is not BASE64URL(SHA256(verifier))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if challenge == verifier:
        return "that is the 'plain' method (the verifier itself); S256 sends its SHA-256 hash."
    if challenge == digest.hex():
        return "that is the hash as hex; S256 base64url-encodes the 32 raw bytes of the hash."
    if challenge.rstrip("=") == create_s256_code_challenge(verifier):
        return "drop the '=' padding at the end: PKCE uses base64url without padding."
    if challenge.rstrip("=") == base64.b64encode(digest).decode().rstrip("="):
        return "that is standard base64 ('+' and '/'); PKCE uses base64url ('-' and '_')."
    return "challenge = BASE64URL(SHA256(verifier)) without '=' padding."


@hands_on
def check_pkce_pair(verifier: object, challenge: object) -> Verdict:
    """01: build a valid S256 PKCE pair yourself."""
    if unanswered(verifier) or unanswered(challenge):
        return UNANSWERED
    if not isinstance(verifier, str) or not 43 <= len(verifier) <= 128:
        return verdict(False, "", "RFC 7636 wants a verifier string of 43 to 128 characters.")
    if not _VERIFIER.fullmatch(verifier):
        return verdict(
            False,
            "",
            "the verifier may only use letters, digits and - . _ ~ (RFC 7636 §4.1): "
            "secrets.token_urlsafe makes such strings.",
        )
    if not isinstance(challenge, str):
        return verdict(False, "", "The challenge must be a string: BASE64URL(SHA256(verifier)).")
    return verdict(
        create_s256_code_challenge(verifier) == challenge,
        "The IdP will accept this verifier for this challenge, and nobody can go backwards.",
        _challenge_hint(verifier, challenge),
    )


# -- Exercise 2: sign Bob in, hand over the access token the frontend keeps for him -------
BOB = "user-2-bob"
AGENT = "fitness-agent"
FRONTEND = "fitness-frontend"


def _token_problem(lab: Lab, token: str) -> str | None:
    """Why ``token`` is not an access token for the agent that acts for Bob; None if it is."""
    try:
        header, claims = decode_unverified(token)
    except TokenRejected as exc:
        return (
            f"that is not a JWT ({exc.explanation}) The refresh token is an opaque string; "
            "the access token is a JWT: take the tokens' 'access_token' value."
        )
    if not typ_matches(header.get("typ"), "at+jwt"):
        return (
            "that token's type is not at+jwt: it is an id token, for the frontend (aud "
            f"{claims.get('aud')!r}). Hand over the 'access_token', the one the agent accepts."
        )
    if claims.get("sub") != BOB:
        return (
            f"this access token is for {claims.get('sub')!r}, not Bob ({BOB}): sign in as bob "
            "in a new browser, with his password."
        )
    try:
        verify_jwt(
            token,
            jwks=lab.idp.keys.jwks(),
            issuer=lab.urls.issuer,
            audience=AGENT,
            now=lab.clock.now(),
            required_scope="agent:invoke",
        )
    except TokenRejected as exc:
        return f"the agent would refuse this token: {exc.explanation}"
    if claims.get("client_id") != FRONTEND:
        return f"this token was issued to {claims.get('client_id')!r}, not to the frontend."
    issued = lab.idp.store.tokens.get(token)
    if issued is None or issued.revoked:
        return "the identity provider does not know this token as active: sign Bob in again."
    return None


@hands_on
def check_bobs_access_token(lab: Lab, token: object) -> Verdict:
    """01: sign Bob in with the scripted browser and hand over his access token."""
    if unanswered(token):
        return UNANSWERED
    if (missing := lacking(lab, "idp")) is not None:
        return missing
    if not isinstance(token, str):
        return verdict(
            False,
            "",
            "Hand over the access token as a string: the 'access_token' value of the tokens "
            "the frontend keeps for Bob's session.",
        )
    problem = _token_problem(lab, token.strip())
    return verdict(
        problem is None,
        "The agent would act for Bob with this token: signed by the lab's IdP, for the agent, "
        "with Bob as its subject. Bob's browser never held it, only a session cookie.",
        problem or "",
    )


# -- Exercise 3: which step-1 parameter stops which attack --------------------------------
LOGIN_THREATS = (
    "login CSRF",
    "a replayed id token",
    "an intercepted authorization code",
    "a code delivered to the attacker's site",
)
_GUARDS = dict(
    zip(LOGIN_THREATS, ("state", "nonce", "code_challenge", "redirect_uri"), strict=True)
)
# Wrong answers that deserve their own hint.
_NEAR_MISSES = {
    "code_challenge_method": "code_challenge_method only names the hash function",
    "pkce": "PKCE is the mechanism: which parameter carries it",
    "code_verifier": "the verifier never travels in step 1",
    "client_secret": "the client secret never travels in step 1",
    "client_id": "client_id is public: it names the app and proves nothing",
}


def _parameter(value: object) -> str:
    return str(value).strip().strip("`'\"").lower()


def check_login_guards(answers: object) -> Verdict:
    """01: name the step-1 parameter that defeats each attack on the login."""
    if unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return verdict(False, "", "Answer with a dict: each threat → a parameter name (a string).")
    given = {str(k).strip().lower(): v for k, v in answers.items()}
    missing = [t for t in LOGIN_THREATS if t.lower() not in given]
    if missing:
        return verdict(
            False, "", f"keep every threat as a key of the dict; missing: {', '.join(missing)}."
        )
    if all(unanswered(given[t.lower()]) for t in LOGIN_THREATS):
        return UNANSWERED
    open_ = [t for t in LOGIN_THREATS if unanswered(given[t.lower()])]
    if open_:
        return verdict(False, "", f"fill in every threat; still a placeholder: {', '.join(open_)}.")
    wrong = [t for t in LOGIN_THREATS if _parameter(given[t.lower()]) != _GUARDS[t]]
    if not wrong:
        return verdict(
            True,
            "state, nonce, PKCE and the exact redirect URI: each closes one door, and only "
            "together do they make the browser hop safe.",
            "",
        )
    notes = [
        f"{t} ({_NEAR_MISSES[_parameter(given[t.lower()])]})"
        if _parameter(given[t.lower()]) in _NEAR_MISSES
        else t
        for t in wrong
    ]
    return verdict(
        False,
        "",
        f"look again at: {'; '.join(notes)}. Use parameter names from step 1's table, and "
        "reread what the list under it and section 6 say each one is for.",
    )
