"""An in-process secret cache built for a fleet: what an agent needs between itself and a
secret store that throttles.

:class:`SecretCache` combines five behaviours, each against one failure of a plain TTL
cache (:class:`NaiveTtlCache`, kept for comparison):

- TTL with jitter: each value goes stale somewhere in ``[ttl * (1 - jitter), ttl]``, so a
  fleet started together does not refresh together;
- single flight: readers of a key that is not cached share one backend call;
- stale-while-revalidate: past the soft TTL, readers get the cached value at once while
  one background refresh runs; while a value may be served, no reader waits for the
  backend;
- stale-if-error: a failed refresh keeps the old value in service, up to ``hard_ttl``
  after it was fetched and never past it (a revoked secret must stop working somewhere);
- negative caching: a failure is remembered for ``negative_ttl`` and re-raised, so a key
  that keeps failing costs one backend call per window instead of one per reader.

At most one backend call per key is in progress at any time, whichever path started it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from types import TracebackType
from typing import NoReturn

# Background refreshes of every cache that brings no executor of its own. Single flight
# bounds them to one per key; the pool bounds them per process.
_REFRESHERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="secret-refresh")

_NEVER = float("-inf")


@dataclass
class CacheStats:
    """What a cache has done so far: a copy, safe to keep while the cache goes on."""

    backend_calls: int = 0  # fetches started, in the foreground or in the background
    hits: int = 0  # reads answered with a fresh value
    stale_serves: int = 0  # reads answered with a value past its soft TTL
    coalesced: int = 0  # reads that waited on a fetch another reader had started
    errors: int = 0  # fetches that failed
    negative_hits: int = 0  # reads answered with a remembered failure, no backend call


@dataclass(frozen=True)
class _Failure:
    error: BaseException
    traceback: TracebackType | None

    @classmethod
    def of(cls, error: BaseException) -> _Failure:
        return cls(error, error.__traceback__)

    def reraise(self) -> NoReturn:
        # Raise from the original traceback every time: raising one exception object again
        # appends frames to its __traceback__, and a negative cache raises it many times.
        raise self.error.with_traceback(self.traceback)


@dataclass(frozen=True)
class _Entry:
    value: str = ""  # meaningful only while now < expires_at
    stale_at: float = _NEVER  # soft TTL (jittered): refresh from here on
    expires_at: float = _NEVER  # hard TTL: never served from here on
    failure: _Failure | None = None  # the last fetch's error, if it failed
    retry_at: float = _NEVER  # no backend call for this key before this


_COLD = _Entry()


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


class _Flight:
    """One backend call in progress: whoever started it and whoever joined share its outcome."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._outcome: str | _Failure = ""

    def settle(self, outcome: str | _Failure) -> None:
        self._outcome = outcome
        self._done.set()

    def wait(self) -> str:
        self._done.wait()
        if isinstance(self._outcome, _Failure):
            self._outcome.reraise()
        return self._outcome


class SecretCache:
    """Secrets by key, fetched with ``fetch(key)`` and cached; safe to share between threads.

    ``clock`` measures TTLs (monotonic seconds; inject a fake one to test). Background
    refreshes run on ``executor``, which must run them on other threads and stay open
    while the cache is in use; by default a small pool shared by all caches.
    """

    def __init__(
        self,
        fetch: Callable[[str], str],
        *,
        ttl: float,
        hard_ttl: float,
        negative_ttl: float,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        executor: Executor | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not (ttl > 0 and 0 <= jitter < 1 and hard_ttl >= ttl and negative_ttl >= 0):
            raise ValueError("need ttl > 0, 0 <= jitter < 1, hard_ttl >= ttl, negative_ttl >= 0")
        self._fetch = fetch
        self._ttl = ttl
        self._hard_ttl = hard_ttl
        self._negative_ttl = negative_ttl
        self._jitter = jitter
        self._clock = clock
        self._executor = executor or _REFRESHERS
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._flights: dict[str, _Flight] = {}
        self._stats = CacheStats()

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return replace(self._stats)

    def stale_at(self, key: str) -> float | None:
        """When the cached value of ``key`` goes stale on ``clock``; None if none is cached."""
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None or entry.expires_at == _NEVER else entry.stale_at

    def get(self, key: str) -> str:
        """The secret for ``key``: a cached value if one may be served, else fetched now."""
        # Decide under the lock, act outside it: fetching and waiting must not hold it.
        with self._lock:
            step = self._plan(key, self._clock())
        return step()

    def _plan(self, key: str, now: float) -> Callable[[], str]:
        entry = self._entries.get(key, _COLD)
        if now < entry.stale_at:
            self._stats.hits += 1
            return _constant(entry.value)
        if now < entry.expires_at:
            self._stats.stale_serves += 1
            return self._plan_stale(key, entry, now)
        if entry.failure is not None and now < entry.retry_at:
            self._stats.negative_hits += 1
            return entry.failure.reraise
        flight, leads = self._lead_or_join(key)
        return partial(self._fetch_and_wait, key, flight) if leads else flight.wait

    def _plan_stale(self, key: str, entry: _Entry, now: float) -> Callable[[], str]:
        # A refresh already running, or one that failed moments ago: just serve.
        if key in self._flights or now < entry.retry_at:
            return _constant(entry.value)
        flight = self._flights[key] = self._launch()
        return partial(self._revalidate, key, flight, entry.value)

    def _lead_or_join(self, key: str) -> tuple[_Flight, bool]:
        """Under the lock: the fetch a cold reader waits on, and whether it runs it."""
        flight = self._flights.get(key)
        if flight is not None:
            self._stats.coalesced += 1
            return flight, False
        flight = self._flights[key] = self._launch()
        return flight, True

    def _launch(self) -> _Flight:
        self._stats.backend_calls += 1
        return _Flight()

    def _fetch_and_wait(self, key: str, flight: _Flight) -> str:
        self._load(key, flight)
        return flight.wait()

    def _revalidate(self, key: str, flight: _Flight, stale: str) -> str:
        try:
            self._executor.submit(self._load, key, flight)
        except RuntimeError as exc:
            # A shut-down executor: record a failed refresh (stale-if-error applies) rather
            # than leave a flight that cold readers would wait on forever.
            self._settle(key, flight, _Failure.of(exc))
        return stale

    def _load(self, key: str, flight: _Flight) -> None:
        try:
            outcome: str | _Failure = self._fetch(key)
        except Exception as exc:
            outcome = _Failure.of(exc)
        except BaseException as exc:
            # Ctrl+C in a notebook: release the waiters, but cache nothing, so the next
            # read tries again instead of replaying the interrupt.
            self._release(key, flight, _Failure.of(exc))
            raise
        self._settle(key, flight, outcome)

    def _settle(self, key: str, flight: _Flight, outcome: str | _Failure) -> None:
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key, _COLD)
            if isinstance(outcome, _Failure):
                self._stats.errors += 1
                # The old value stays, within its hard TTL: that is stale-if-error.
                entry = replace(entry, failure=outcome, retry_at=now + self._negative_ttl)
            else:
                entry = _Entry(outcome, now + self._jittered_ttl(), now + self._hard_ttl)
            self._entries[key] = entry
        self._release(key, flight, outcome)

    def _release(self, key: str, flight: _Flight, outcome: str | _Failure) -> None:
        # The entry is stored first: a reader that finds no flight finds the new entry.
        with self._lock:
            self._flights.pop(key, None)
        flight.settle(outcome)

    def _jittered_ttl(self) -> float:
        # Only ever shorter than ttl: ttl stays a promise about the age of a fresh value.
        return self._ttl * (1 - self._jitter * self._rng.random())


class NaiveTtlCache(SecretCache):
    """A plain TTL cache, for comparison: every reader that finds the key missing or
    expired calls the backend itself, failures are not remembered, nothing is served
    stale, and every value expires exactly ``ttl`` after it was fetched."""

    def __init__(
        self,
        fetch: Callable[[str], str],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(fetch, ttl=ttl, hard_ttl=ttl, negative_ttl=0, jitter=0, clock=clock)

    def _lead_or_join(self, key: str) -> tuple[_Flight, bool]:
        # No single flight: each reader's flight is its own, and nobody else can join it.
        return self._launch(), True
