"""The lab clock: wall time plus an offset that a notebook can fast-forward.

Every expiry check in the lab (codes, tokens, sessions) reads this clock instead of
``time.time()``, so "ten minutes later" is one call instead of a ten-minute wait.
"""

from __future__ import annotations

import threading
import time


class LabClock:
    """Seconds since the epoch, as the lab sees them."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Jump the lab forward (never backward: time in the lab only moves on)."""
        if seconds < 0:
            raise ValueError("the lab clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    @property
    def offset(self) -> float:
        return self._offset
