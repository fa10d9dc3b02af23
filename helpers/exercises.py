"""The "check yourself" exercises at the end of each notebook, and their checkers.

A checker never raises on a learner's answer: it prints a verdict with a hint and
returns True or False, so the same cell works in class, alone and under nbval.
"""

from __future__ import annotations

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .lab import Lab


def _verdict(ok: bool, praise: str, hint: str) -> bool:
    print(f"✅ {praise}" if ok else f"❌ Not yet. Hint: {hint}")
    return ok


def _unanswered(answer: object) -> bool:
    if answer is None or answer is Ellipsis:
        print("✏️  Replace the placeholder with your answer, then run this cell again.")
        return True
    return False


def check_issuer(lab: Lab, issuer: object) -> bool:
    """00: find the issuer by reading the discovery document the lab exports."""
    if _unanswered(issuer):
        return False
    return _verdict(
        issuer == lab.urls.issuer,
        "That is the issuer every token of this lab carries in its `iss` claim.",
        "GET the URL in os.environ['LAB_OIDC_DISCOVERY_URL'] and read its 'issuer' field.",
    )


def check_pkce_pair(verifier: object, challenge: object) -> bool:
    """01: build a valid S256 PKCE pair yourself."""
    if _unanswered(verifier) or _unanswered(challenge):
        return False
    if not isinstance(verifier, str) or not 43 <= len(verifier) <= 128:
        return _verdict(False, "", "RFC 7636 wants a verifier of 43 to 128 characters.")
    return _verdict(
        create_s256_code_challenge(verifier) == challenge,
        "The IdP will accept this verifier for this challenge, and nobody can go backwards.",
        "challenge = BASE64URL(SHA256(verifier)) without '=' padding.",
    )


# What a thief can do with each stolen credential (notebook 02), offered as lettered
# choices in an order that does not give the pairing away.
LEAK_CHOICES = {
    "A": "mint new access tokens until the family is revoked",
    "B": "learn who the user is, but call no API",
    "C": "act as the app until the secret is rotated by a redeploy",
    "D": "nothing without the client secret and the PKCE verifier",
    "E": "call the APIs in its audience until it expires",
}
_LEAK_KEY = {
    "authorization code": "D",
    "id token": "B",
    "access token": "E",
    "refresh token": "A",
    "client secret": "C",
}


def show_leak_choices() -> None:
    for letter, outcome in LEAK_CHOICES.items():
        print(f"{letter}. {outcome}")


def check_leak_costs(answers: object) -> bool:
    """02: match each credential to what its theft allows (a letter each)."""
    if _unanswered(answers):
        return False
    if not isinstance(answers, dict):
        return _verdict(False, "", "Answer with a dict: credential name → letter.")
    given = {str(k).lower(): str(v).strip().upper() for k, v in answers.items()}
    wrong = sorted(k for k, letter in _LEAK_KEY.items() if given.get(k) != letter)
    return _verdict(
        not wrong,
        "You know what each credential is worth to an attacker.",
        f"look again at: {', '.join(wrong)}",
    )
