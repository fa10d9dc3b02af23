"""Exponential backoff with full jitter, as in the AWS Architecture Blog post
"Exponential Backoff And Jitter": before retry ``n`` (counting from 0), sleep a random
time in ``[0, min(cap, base * 2**n)]``.

Why full jitter: a fleet throttled at the same instant and sleeping exactly ``base * 2**n``
comes back at the same instant, and is throttled again. Spreading each sleep over the
whole interval spreads the retries too, and costs the least total work of the blog's
variants.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# One generator for callers that do not inject theirs; its methods are safe to share
# between threads.
_RNG = random.Random()


def ceiling(attempt: int, *, base: float, cap: float) -> float:
    """The longest sleep before retry ``attempt``: the exponential curve, capped."""
    return min(cap, base * 2**attempt)


def schedule(*, base: float, cap: float, max_attempts: int) -> list[float]:
    """The ceiling of every sleep a call may take: ``max_attempts - 1`` of them, since
    there is no sleep after the last attempt."""
    return [ceiling(n, base=base, cap=cap) for n in range(max_attempts - 1)]


def retry(
    call: Callable[[], T],
    *,
    retryable: Callable[[Exception], bool],
    base: float,
    cap: float,
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random = _RNG,
) -> T:
    """``call()``, retried on errors that ``retryable`` accepts, at most ``max_attempts``
    times in all; the last error (or the first one not retryable) propagates."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    for top in schedule(base=base, cap=cap, max_attempts=max_attempts):
        try:
            return call()
        except Exception as exc:
            if not retryable(exc):
                raise
        sleep(rng.uniform(0, top))
    return call()  # the last attempt: its error is the caller's to handle
