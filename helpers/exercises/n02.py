"""Check yourself, notebook 02 · What a leak costs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..jwt_check import TokenRejected, decode_unverified
from .base import UNANSWERED, Verdict, hands_on, lacking, unanswered, verdict

if TYPE_CHECKING:
    from ..idp.models import IssuedToken
    from ..lab import Lab

__all__ = [
    "LEAK_CHOICES",
    "check_access_limits",
    "check_leak_costs",
    "check_refresh_revoked",
    "show_leak_choices",
]


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
    if unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return verdict(False, "", "Answer with a dict: credential name → letter.")
    given = {str(k).lower(): str(v).strip().upper() for k, v in answers.items()}
    wrong = sorted(k for k, letter in _LEAK_KEY.items() if given.get(k) != letter)
    return verdict(
        not wrong,
        "You know what each credential is worth to an attacker.",
        f"look again at: {', '.join(wrong)}",
    )


def _issued(lab: Lab, token: object, kind: str) -> IssuedToken | None:
    """The IdP's record of ``token`` if it issued one of that kind, else None."""
    if not isinstance(token, str):
        return None
    record = lab.idp.store.tokens.get(token)
    return record if record is not None and record.kind == kind else None


@hands_on
def check_refresh_revoked(lab: Lab, refresh_token: object, introspection: object) -> Verdict:
    """02: revoke a stolen refresh token (RFC 7009), then show introspection says inactive."""
    if unanswered(refresh_token) or unanswered(introspection):
        return UNANSWERED
    if (missing := lacking(lab, "idp")) is not None:
        return missing
    record = _issued(lab, refresh_token, "refresh_token")
    if record is None:
        return verdict(
            False,
            "",
            "the first argument is not a refresh token this lab's IdP issued: pass"
            " stolen_refresh from the setup cell (re-run it if you changed it).",
        )
    if record.rotated:
        return verdict(
            False,
            "",
            "this refresh token was already spent on a refresh, so new tokens came from it:"
            " revoking it now is too late. Re-run the setup cell and revoke the new"
            " stolen_refresh without refreshing with it.",
        )
    if not record.revoked:
        return verdict(
            False,
            "",
            "the IdP still holds this refresh token as live. POST it (form field 'token') to"
            " the 'revocation_endpoint' of the discovery document, authenticated as the"
            " frontend (auth=client_auth).",
        )
    if not isinstance(introspection, dict):
        return verdict(
            False,
            "",
            "pass the introspection endpoint's JSON answer as a dict: requests.post(...).json().",
        )
    if "error" in introspection:
        return verdict(
            False,
            "",
            f"that is an error answer ({introspection['error']!r}), not an introspection:"
            " authenticate as the frontend (auth=client_auth) at the 'introspection_endpoint'.",
        )
    if "active" not in introspection:
        return verdict(
            False,
            "",
            "an introspection answer (RFC 7662) always has an 'active' member; this dict has"
            " none. POST the token to the 'introspection_endpoint' and pass its .json().",
        )
    if not isinstance(introspection["active"], bool):
        return verdict(
            False,
            "",
            "'active' is a JSON boolean in a real introspection answer: pass the .json() of"
            " the introspection endpoint's response itself, not a dict you typed.",
        )
    if introspection["active"]:
        return verdict(
            False,
            "",
            "your introspection answer still says the token is active: it was taken before the"
            " revocation. Introspect again, after revoking.",
        )
    return verdict(
        True,
        "Revoked on the spot: the IdP now answers active: false, so the next refresh with this"
        " token fails, without waiting for reuse detection to catch the thief.",
        "",
    )


def _audience_list(audience: object) -> list[str] | None:
    """The learner's audience as a list of strings, or None if it is not one."""
    if isinstance(audience, str):
        return [audience]
    if isinstance(audience, list | tuple | set | frozenset) and all(
        isinstance(a, str) for a in audience
    ):
        return list(audience)
    return None


def check_access_limits(lab: Lab, token: object, audience: object, minutes: object) -> Verdict:
    """02: read what bounds a stolen access token: its audience and its lifetime in minutes."""
    if unanswered(token) or unanswered(audience) or unanswered(minutes):
        return UNANSWERED
    if (missing := lacking(lab, "idp")) is not None:
        return missing
    record = _issued(lab, token, "access_token")
    if record is None:
        return verdict(
            False,
            "",
            "the first argument is not an access token this lab's IdP issued: pass"
            " stolen_access from the setup cell.",
        )
    try:
        claims = decode_unverified(record.value)[1]
    except TokenRejected:  # every access token of the lab is a JWT; kept for safety
        return verdict(False, "", "this access token cannot be decoded: re-run the setup cell.")
    given = _audience_list(audience)
    if given is None:
        return verdict(
            False, "", "give the audience as a list of strings: the services named in 'aud'."
        )
    expected = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    extra = sorted(set(given) - set(expected))
    if extra:
        return verdict(
            False,
            "",
            f"this token's audience does not include {', '.join(map(repr, extra))}: a service"
            " not named in 'aud' refuses it. Read the aud claim (decode_unverified, notebook 01).",
        )
    if set(given) != set(expected):
        return verdict(
            False,
            "",
            "your audience leaves out a service the token names: read every entry of its aud"
            " claim.",
        )
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return verdict(False, "", "give the lifetime as a number of minutes, e.g. 5.")
    lifetime = (claims["exp"] - claims["iat"]) / 60
    if minutes == lifetime * 60:
        return verdict(False, "", "that is the lifetime in seconds: the answer is in minutes.")
    return verdict(
        minutes == lifetime,
        "Audience and expiry are the blast radius of a stolen access token: it works at"
        " those services, for anyone, until exp — or until it is revoked, at services that"
        " ask the IdP.",
        "the lifetime is wrong: subtract the token's 'iat' claim from its 'exp' claim"
        " (seconds), then convert to minutes.",
    )
