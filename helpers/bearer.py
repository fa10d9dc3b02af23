"""RFC 6750 on the server side: the token in ``Authorization: Bearer …``, and the challenge
a refusal carries back.

Every service of the lab that accepts bearer tokens reads them with :func:`bearer_token`,
so they all agree on what counts as one: the scheme is case-insensitive, the token is a
``b64token`` (RFC 6750 §2.1), and anything else after "Bearer" is a malformed token,
refused before any parsing.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .jwt_check import TokenRejected

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header value; None when it carries no bearer token
    (no header, another scheme, or "Bearer" with nothing after it).

    Raises :class:`TokenRejected` (``invalid_token``: RFC 6750 §3.1 counts a malformed
    token as one) when the scheme is Bearer but what follows is not one ``b64token``.
    """
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = credentials.strip()
    if not token:
        return None
    if not _B64TOKEN.fullmatch(token):
        raise TokenRejected(
            "malformed",
            "After 'Bearer ' comes exactly one token: letters, digits and - . _ ~ + / only.",
        )
    return token


def forwarded_bearer(authorization: str | None) -> str | None:
    """The token in a header that a front door already verified and passed on; None if
    there is none (a service behind the front door reads it, it does not judge it)."""
    try:
        return bearer_token(authorization)
    except TokenRejected:
        return None


def status_for(exc: TokenRejected) -> int:
    """The HTTP status RFC 6750 §3.1 gives each error code."""
    return {"invalid_request": 400, "insufficient_scope": 403}.get(exc.error, 401)


def bearer_challenge(exc: TokenRejected | None, realm: str | None, **params: str) -> str:
    """The WWW-Authenticate value for a 401/403 (RFC 6750 section 3), with any further
    parameters (RFC 9728's ``resource_metadata``, the ``scope`` to ask for)."""
    pairs = [("realm", realm)] if realm else []
    if exc is not None:
        pairs += [("error", exc.error), ("error_description", exc.explanation)]
    pairs += [(name, value) for name, value in params.items() if value]
    return "Bearer " + ", ".join(f'{name}="{_quotable(value)}"' for name, value in pairs)


def refusal(exc: TokenRejected | None, realm: str) -> Response:
    """A refused request as RFC 6750 §3 has it: the status for the error, a JSON body
    saying why, and the challenge. No token at all gets 401 and no error code (§3.1)."""
    # Imported here: agents behind the runtime read tokens with this module, not refuse them.
    from werkzeug.wrappers import Response

    body = (
        {"error": exc.error, "error_description": exc.explanation}
        if exc
        else {"error_description": "Send 'Authorization: Bearer <token>'."}
    )
    return Response(
        json.dumps(body),
        status=status_for(exc) if exc else 401,
        content_type="application/json",
        headers={"WWW-Authenticate": bearer_challenge(exc, realm)},
    )


def _quotable(text: str) -> str:
    """RFC 6750 allows printable ASCII except '"' and '\\' inside these quoted strings."""
    text = text.replace('"', "'").replace("\\", "/")
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)
