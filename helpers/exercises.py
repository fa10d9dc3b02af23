"""The "check yourself" exercises at the end of each notebook, and their checkers.

A checker never raises on a learner's answer: it returns a :class:`Verdict`, truthy or
not, that shows itself as a one-line message with a hint.
"""

from __future__ import annotations

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .lab import Lab


class Verdict:
    def __init__(self, ok: bool, message: str) -> None:
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message


UNANSWERED = Verdict(False, "✏️  Replace the placeholder with your answer, then run the cell again.")


def _verdict(ok: bool, praise: str, hint: str) -> Verdict:
    return Verdict(ok, f"✅ {praise}" if ok else f"❌ Not yet. Hint: {hint}")


def _unanswered(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def check_issuer(lab: Lab, issuer: object) -> Verdict:
    """00: find the issuer by reading the discovery document the lab exports."""
    if _unanswered(issuer):
        return UNANSWERED
    return _verdict(
        issuer == lab.urls.issuer,
        "That is the issuer every token of this lab carries in its `iss` claim.",
        "GET the URL in os.environ['LAB_OIDC_DISCOVERY_URL'] and read its 'issuer' field.",
    )


def check_pkce_pair(verifier: object, challenge: object) -> Verdict:
    """01: build a valid S256 PKCE pair yourself."""
    if _unanswered(verifier) or _unanswered(challenge):
        return UNANSWERED
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


def check_leak_costs(answers: object) -> Verdict:
    """02: match each credential to what its theft allows (a letter each)."""
    if _unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return _verdict(False, "", "Answer with a dict: credential name → letter.")
    given = {str(k).lower(): str(v).strip().upper() for k, v in answers.items()}
    wrong = sorted(k for k, letter in _LEAK_KEY.items() if given.get(k) != letter)
    return _verdict(
        not wrong,
        "You know what each credential is worth to an attacker.",
        f"look again at: {', '.join(wrong)}",
    )
