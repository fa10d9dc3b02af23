"""The one JWT validator every resource server in the lab uses.

PyJWT does the cryptography and the iss/aud comparison; this module adds the checks PyJWT
leaves to the caller (alg "none" in any case, ``crit`` we don't understand, ``typ``, required
claims, scope) and turns every failure into a stable reason key plus one sentence a learner
can read. Time claims are compared against the lab clock, so notebooks can fast-forward.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import math
import re
from typing import Any

import jwt
from jwt.utils import base64url_decode

ALLOWED_ALGS = ["RS256"]
_JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BASE_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
_ACCESS_TOKEN_CLAIMS = ("jti", "client_id")


class TokenRejected(Exception):
    """Why a token was refused: an RFC 6750 error code, a stable reason key, a sentence."""

    def __init__(self, reason: str, explanation: str, *, error: str = "invalid_token") -> None:
        super().__init__(f"{reason}: {explanation}")
        self.error = error
        self.reason = reason
        self.explanation = explanation


def describe_duration(seconds: float) -> str:
    """Round a duration to two units in words ("59 min 58 s"), so outputs stay readable."""
    total = int(abs(seconds))
    for unit, size, sub_unit, sub_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "min", 60),
        ("min", 60, "s", 1),
    ):
        if total >= size:
            rest = (total % size) // sub_size
            return f"{total // size} {unit}" + (f" {rest} {sub_unit}" if rest else "")
    return f"{total} s"


def decode_unverified(token: str) -> tuple[dict, dict]:
    """Header and claims WITHOUT checking anything: for display, never for decisions."""
    if not token:
        raise TokenRejected("malformed", "There is no token: the string is empty.")
    if not _JWS_COMPACT.fullmatch(token):
        raise TokenRejected("malformed", _shape_problem(token))
    header_b64, claims_b64, _ = token.split(".")
    return _json_part(header_b64, "header"), _json_part(claims_b64, "claims")


def _shape_problem(token: str) -> str:
    parts = token.count(".") + 1
    if parts == 5:
        return "The token has 5 parts: that is an encrypted JWE, not a signed JWT."
    if parts != 3:
        return f"A JWT is three base64url parts joined by dots; this has {parts}."
    if any(not part for part in token.split(".")[:2]):
        return "The header or claims part of the token is empty."
    return "The token contains characters a JWT never has (only A-Z a-z 0-9 - _ and dots)."


def _json_part(segment: str, name: str) -> dict:
    try:
        value = json.loads(base64url_decode(segment))
    except (binascii.Error, ValueError, RecursionError):
        raise TokenRejected(
            "malformed", f"The {name} part is not base64url-encoded JSON."
        ) from None
    if not isinstance(value, dict):
        raise TokenRejected("malformed", f"The {name} part is JSON but not an object {{...}}.")
    return value


def verify_jwt(
    token: str,
    *,
    jwks: dict,
    issuer: str,
    audience: str | None,
    now: float,
    typ: str | None = "at+jwt",
    required_scope: str | None = None,
    max_length: int = 8192,
) -> dict:
    """Return the claims of a valid token, or raise TokenRejected saying why not.

    ``now`` is the lab clock; ``typ=None`` skips the token-type check; ``audience=None``
    takes any audience, or none (a JWT authorizer without ``allowedAudience``).
    """
    if len(token) > max_length:
        raise TokenRejected(
            "too_large",
            f"The token is {len(token)} characters; we refuse anything over {max_length} "
            "before parsing it, so nobody can make us chew on megabytes.",
        )
    header, unverified = decode_unverified(token)
    _check_alg(header.get("alg"))
    _check_crit(header)
    key = _find_key(header.get("kid"), jwks)
    # PyJWT checks iss/aud only inside decode, and typ must be judged between the signature
    # and them; so decode twice: signature alone, then signature + iss + aud.
    claims = _pyjwt_decode(token, key, unverified)
    if typ is not None:
        _check_typ(header, typ)
    checks = {"issuer": issuer} | ({"audience": audience} if audience is not None else {})
    _pyjwt_decode(token, key, unverified, **checks)
    _check_time(claims, now)
    base = _BASE_CLAIMS if audience is not None else tuple(c for c in _BASE_CLAIMS if c != "aud")
    _check_required(claims, base + (_ACCESS_TOKEN_CLAIMS if _is_at(typ) else ()))
    if required_scope:
        _check_scope(claims.get("scope"), required_scope)
    return claims


def _check_alg(alg: Any) -> None:
    if isinstance(alg, str) and alg.strip().lower() == "none":
        raise TokenRejected(
            "alg_none",
            f'The header says alg "{alg}": an unsigned token that anyone could have written.',
        )
    if alg not in ALLOWED_ALGS:
        raise TokenRejected(
            "alg_not_allowed",
            f"The header asks for alg {alg!r} but we only accept RS256. Letting the token pick "
            "HS256 is the key-confusion attack: the attacker signs with our PUBLIC key as the "
            "shared secret and we would accept the forgery.",
        )


def _check_crit(header: dict) -> None:
    if "crit" not in header:
        return
    crit = header["crit"]
    if not isinstance(crit, list) or not crit:
        raise TokenRejected("unknown_crit", "The crit header must be a non-empty list.")
    raise TokenRejected(
        "unknown_crit",
        f"The token marks {crit!r} as critical extensions we must understand; we understand "
        "none, so we must refuse it.",
    )


def _find_key(kid: Any, jwks: dict) -> jwt.PyJWK:
    if not isinstance(kid, str):
        raise TokenRejected(
            "unknown_kid", "The header has no kid (key id), so we can't tell which key to use."
        )
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    for jwk in keys if isinstance(keys, list) else []:
        if isinstance(jwk, dict) and jwk.get("kid") == kid and jwk.get("kty") == "RSA":
            try:
                return jwt.PyJWK(jwk, algorithm="RS256")
            except jwt.PyJWTError:
                break
    raise TokenRejected(
        "unknown_kid",
        f"No usable key with kid {kid!r} in the identity provider's JWKS "
        "(forged, or signed with a key that was rotated out).",
    )


def _pyjwt_decode(token: str, key: jwt.PyJWK, unverified: dict, **checks: str) -> dict:
    """Let PyJWT verify signature (always) and iss/aud (when passed); time is ours."""
    options = {
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
        "verify_iss": "issuer" in checks,
        "verify_aud": "audience" in checks,
    }
    try:
        return jwt.decode(token, key, algorithms=ALLOWED_ALGS, options=options, **checks)
    except jwt.PyJWTError as exc:
        raise _explain_pyjwt(exc, unverified, checks) from None


def _explain_pyjwt(exc: jwt.PyJWTError, claims: dict, checks: dict) -> TokenRejected:
    if isinstance(exc, jwt.InvalidSignatureError):
        return TokenRejected(
            "bad_signature",
            "The signature does not match: the token was altered or signed by someone else.",
        )
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return TokenRejected("missing_claim", f"The token has no {exc.claim!r} claim.")
    if isinstance(exc, jwt.InvalidIssuerError):
        return TokenRejected(
            "wrong_issuer",
            f"The token was issued by {claims.get('iss')!r}, but we only trust "
            f"{checks['issuer']!r}.",
        )
    if isinstance(exc, jwt.InvalidAudienceError):
        return TokenRejected(
            "wrong_audience",
            f"The token is meant for {claims.get('aud')!r}, not for us ({checks['audience']!r}).",
        )
    # Anything else (sub/jti not strings, undecodable parts) is a broken token.
    return TokenRejected("malformed", f"The token is malformed: {str(exc).rstrip('.')}.")


def typ_matches(found: object, expected: str) -> bool:
    """Compare ``typ`` values case-insensitively, "application/" optional (RFC 9068 section 4)."""

    def normalise(value: str) -> str:
        return value.lower().removeprefix("application/")

    return isinstance(found, str) and normalise(found) == normalise(expected)


def _is_at(typ: str | None) -> bool:
    return typ is not None and typ_matches(typ, "at+jwt")


def _check_typ(header: dict, expected: str) -> None:
    found = header.get("typ", "JWT")  # no typ at all means a plain JWT (RFC 7519)
    if typ_matches(found, expected):
        return
    shown = repr(found) if "typ" in header else "not set"
    hint = ""
    if _is_at(expected):
        hint = " An ID token tells the app who logged in; it is not a key to call APIs."
    raise TokenRejected(
        "wrong_type", f"The token's type is {shown} but we require {expected!r}.{hint}"
    )


def claim_time(claims: dict, name: str) -> float | None:
    """A time claim as finite seconds, None when absent; anything else is a broken token."""
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int in Python; NaN would make every comparison False, i.e. "never expires".
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):
            seconds = float(value)
            if math.isfinite(seconds):
                return seconds
    raise TokenRejected("malformed", f"The {name!r} claim must be a number of seconds.")


def _check_time(claims: dict, now: float) -> None:
    exp = claim_time(claims, "exp")
    nbf = claim_time(claims, "nbf")
    claim_time(claims, "iat")  # type-checked only: exp and nbf decide validity
    if exp is not None and exp <= now:
        raise TokenRejected(
            "expired", f"The token expired {describe_duration(now - exp)} ago (lab clock)."
        )
    if nbf is not None and nbf > now:
        raise TokenRejected(
            "not_yet_valid",
            f"The token only becomes valid in {describe_duration(nbf - now)} (lab clock).",
        )


def _check_required(claims: dict, names: tuple[str, ...]) -> None:
    missing = [name for name in names if claims.get(name) in (None, "", [])]
    if missing:
        raise TokenRejected(
            "missing_claim", f"The token lacks required claim(s): {', '.join(missing)}."
        )


def _check_scope(granted: Any, required: str) -> None:
    have = granted.split() if isinstance(granted, str) else []
    lacking = [scope for scope in required.split() if scope not in have]
    if lacking:
        raise TokenRejected(
            "insufficient_scope",
            f"This needs scope {' '.join(lacking)!r}; the token only grants {' '.join(have)!r}.",
            error="insufficient_scope",
        )
