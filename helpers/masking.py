"""Show secrets without showing them: enough to recognise one, never enough to use it.

The format is fixed (``abcd…wxyz``, ``…``, ``<empty>``) because the notebooks' output
sanitiser normalises it with a regex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_MIN_REVEAL_LENGTH = 16
_EDGE = 4


def mask(secret: str) -> str:
    """First and last 4 characters of long secrets; nothing at all of short ones."""
    if not secret:
        return "<empty>"
    if len(secret) < _MIN_REVEAL_LENGTH:
        return "…"
    return f"{secret[:_EDGE]}…{secret[-_EDGE:]}"


def mask_in_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by its mask."""
    # Longest first, so a secret containing another is masked whole; one pass, so a mask
    # is never itself rewritten.
    unique = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not unique:
        return text
    pattern = re.compile("|".join(re.escape(s) for s in unique))
    return pattern.sub(lambda match: mask(match.group()), text)
