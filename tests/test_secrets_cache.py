"""The secret cache and the backoff under it: deterministic, with a fake clock, seeded
random numbers, and fetches that finish only when the test lets them.

No assertion here measures wall-clock time. Waits have timeouts only so that a broken
cache fails the test instead of hanging it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from functools import partial

import pytest

from helpers.secrets.backoff import retry, schedule
from helpers.secrets.cache import NaiveTtlCache, SecretCache

TIMEOUT = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ManualExecutor(Executor):
    """Holds background refreshes until the test runs them: no thread, no race."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], object]] = []

    def submit(self, fn: Callable, /, *args: object, **kwargs: object) -> Future:
        self.pending.append(partial(fn, *args, **kwargs))
        return Future()  # nobody waits on it: the cache keeps its own flights

    def run_pending(self) -> int:
        ran, self.pending = self.pending, []
        for task in ran:
            task()
        return len(ran)


class Backend:
    """A fake secret store that counts calls per key and answers from a script, the last
    answer over and over. ``held``: every fetch waits until the test opens ``gate``."""

    def __init__(self, *answers: str | BaseException, held: bool = False) -> None:
        self.answers = list(answers)
        self.calls: Counter[str] = Counter()
        self.gate = threading.Event()
        if not held:
            self.gate.set()
        self._lock = threading.Lock()

    def fetch(self, key: str) -> str:
        assert self.gate.wait(TIMEOUT), "the test never opened the gate"
        with self._lock:
            self.calls[key] += 1
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def wait_until(condition: Callable[[], bool]) -> None:
    until = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < until, "condition not reached"
        time.sleep(0.001)


def cache_for(backend: Backend, clock: FakeClock, **kw: object) -> SecretCache:
    options: dict = {"ttl": 10, "hard_ttl": 30, "negative_ttl": 2, "jitter": 0}
    return SecretCache(backend.fetch, clock=clock, **{**options, **kw})


# -- single flight ----------------------------------------------------------------------


def read_together(
    cache: SecretCache, backend: Backend, keys: list[str], until: Callable[[], bool]
) -> list[str]:
    """Every key read by its own thread, all started at once; the held backend answers
    only once ``until`` holds, so every reader is in before the first answer."""
    barrier = threading.Barrier(len(keys))

    def read(key: str) -> str:
        barrier.wait(TIMEOUT)
        return cache.get(key)

    with ThreadPoolExecutor(len(keys)) as pool:
        readers = [pool.submit(read, key) for key in keys]
        wait_until(until)
        backend.gate.set()
        return [reader.result(TIMEOUT) for reader in readers]


def test_cold_readers_of_a_key_share_exactly_one_backend_call() -> None:
    backend = Backend("v1", held=True)
    cache = SecretCache(backend.fetch, ttl=60, hard_ttl=120, negative_ttl=5)
    keys = ["db"] * 25 + ["api"] * 25

    values = read_together(cache, backend, keys, lambda: cache.stats.coalesced == len(keys) - 2)

    assert backend.calls == {"db": 1, "api": 1}
    assert values == ["v1"] * len(keys)
    assert cache.stats.backend_calls == 2


def test_the_naive_cache_calls_the_backend_once_per_cold_reader() -> None:
    backend = Backend("v1", held=True)
    cache = NaiveTtlCache(backend.fetch, ttl=60)
    keys = ["db"] * 20

    values = read_together(cache, backend, keys, lambda: cache.stats.backend_calls == len(keys))

    assert values == ["v1"] * len(keys)
    assert backend.calls["db"] == len(keys) and cache.stats.coalesced == 0


def test_a_failed_fetch_reaches_every_reader_that_waited_on_it() -> None:
    backend = Backend(ConnectionError("store down"), held=True)
    cache = SecretCache(backend.fetch, ttl=60, hard_ttl=120, negative_ttl=5)
    barrier = threading.Barrier(10)

    def read() -> BaseException | None:
        barrier.wait(TIMEOUT)
        try:
            cache.get("db")
        except ConnectionError as exc:
            return exc
        return None

    with ThreadPoolExecutor(10) as pool:
        readers = [pool.submit(read) for _ in range(10)]
        wait_until(lambda: cache.stats.coalesced == 9)
        backend.gate.set()
        errors = [reader.result(TIMEOUT) for reader in readers]

    assert all(isinstance(error, ConnectionError) for error in errors)
    assert backend.calls == {"db": 1}


# -- stale-while-revalidate --------------------------------------------------------------


def test_past_the_soft_ttl_readers_get_the_stale_value_while_one_refresh_runs() -> None:
    clock = FakeClock()
    refreshing, gate, refreshed = threading.Event(), threading.Event(), threading.Event()
    answers = iter(["v1", "v2"])

    def fetch(key: str) -> str:
        value = next(answers)
        if value == "v2":  # the refresh: held until the test lets it finish
            refreshing.set()
            assert gate.wait(TIMEOUT)
            refreshed.set()
        return value

    refresher = ThreadPoolExecutor(1)
    cache = SecretCache(
        fetch, ttl=10, hard_ttl=30, negative_ttl=2, jitter=0, clock=clock, executor=refresher
    )
    assert cache.get("db") == "v1"
    clock.now = 10.0

    stale = [cache.get("db") for _ in range(5)]
    assert refreshing.wait(TIMEOUT)  # the refresh is running, and blocked
    stale += [cache.get("db") for _ in range(5)]

    assert stale == ["v1"] * 10 and not refreshed.is_set()  # nobody waited on it
    assert cache.stats.stale_serves == 10 and cache.stats.backend_calls == 2
    gate.set()
    refresher.shutdown(wait=True)
    assert cache.get("db") == "v2"
    assert cache.stats.hits == 1


# -- stale-if-error ----------------------------------------------------------------------


def test_a_failing_refresh_serves_the_stale_value_up_to_hard_ttl_and_never_past_it() -> None:
    clock, refresher = FakeClock(), ManualExecutor()
    backend = Backend("v1", ConnectionError("store down"))
    cache = cache_for(backend, clock, executor=refresher)  # ttl 10, hard 30, negative 2
    assert cache.get("db") == "v1"

    served = []
    for now in (10.0, 11.0, 12.5, 20.0, 29.9):
        clock.now = now
        served.append(cache.get("db"))
        refresher.run_pending()  # each refresh fails
    assert served == ["v1"] * 5
    # A refresh at every read but the one at 11, within the last failure's 2 s window.
    assert backend.calls["db"] == 5 and cache.stats.errors == 4

    for now in (30.0, 45.0, 300.0):
        clock.now = now
        with pytest.raises(ConnectionError, match="store down"):
            cache.get("db")
        assert refresher.run_pending() == 0  # past hard TTL nothing refreshes behind


def test_a_refresh_that_succeeds_after_failures_starts_a_new_hard_ttl() -> None:
    clock, refresher = FakeClock(), ManualExecutor()
    backend = Backend("v1", ConnectionError("store down"), "v2")
    cache = cache_for(backend, clock, executor=refresher)
    cache.get("db")
    for now in (10.0, 25.0):  # the first refresh fails, the second one works
        clock.now = now
        assert cache.get("db") == "v1"
        refresher.run_pending()

    clock.now = 50.0  # past the first value's hard TTL, within the second's
    assert cache.get("db") == "v2"


def test_a_refresh_the_executor_refuses_counts_as_a_failed_refresh() -> None:
    clock, refresher = FakeClock(), ThreadPoolExecutor(1)
    cache = cache_for(Backend("v1"), clock, executor=refresher)
    cache.get("db")
    refresher.shutdown()
    clock.now = 15.0

    assert cache.get("db") == "v1"
    assert cache.stats.errors == 1


# -- negative caching --------------------------------------------------------------------


def test_a_failing_cold_key_costs_one_backend_call_per_negative_ttl() -> None:
    clock = FakeClock()
    backend = Backend(PermissionError("AccessDenied"))
    cache = cache_for(backend, clock, negative_ttl=5)

    for step in range(100):  # 20 seconds of reads, every 0.2 s
        clock.now = step * 0.2
        with pytest.raises(PermissionError):
            cache.get("db")

    assert backend.calls["db"] == 4  # at 0, 5, 10 and 15 s
    assert cache.stats.negative_hits == 96


def test_a_remembered_error_keeps_its_own_traceback() -> None:
    cache = cache_for(Backend(ValueError("bad secret id")), FakeClock())
    depths = []
    for _ in range(3):
        with pytest.raises(ValueError) as caught:
            cache.get("db")
        depths.append(len(caught.traceback))
    assert depths[1] == depths[2]  # re-raising does not pile up frames


def test_an_interrupted_fetch_is_not_remembered() -> None:
    backend = Backend(KeyboardInterrupt(), "v1")
    cache = cache_for(backend, FakeClock())

    with pytest.raises(KeyboardInterrupt):
        cache.get("db")
    assert cache.get("db") == "v1"  # tried again, not replayed


# -- jitter -------------------------------------------------------------------------------


def test_jitter_spreads_expiries_below_the_ttl() -> None:
    cache = SecretCache(
        lambda key: key,
        ttl=100,
        hard_ttl=200,
        negative_ttl=1,
        jitter=0.2,
        clock=FakeClock(),
        rng=random.Random(7),
    )
    keys = [f"agent-{n}" for n in range(200)]
    for key in keys:
        cache.get(key)

    expiries = sorted(cache.stale_at(key) or 0.0 for key in keys)
    assert expiries[0] >= 80 and expiries[-1] <= 100
    assert expiries[-1] - expiries[0] > 15  # spread over the window, not bunched
    assert len(set(expiries)) == len(keys)
    assert cache.stale_at("never-read") is None


def test_without_jitter_every_value_goes_stale_at_the_ttl() -> None:
    cache = cache_for(Backend("v1"), FakeClock())
    cache.get("db")
    assert cache.stale_at("db") == 10


@pytest.mark.parametrize(
    "options",
    [{"ttl": 0}, {"jitter": 1.0}, {"hard_ttl": 5}, {"negative_ttl": -1}],
)
def test_settings_that_cannot_work_are_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        cache_for(Backend("v1"), FakeClock(), **options)


# -- backoff -------------------------------------------------------------------------------


def test_the_schedule_doubles_from_base_up_to_the_cap() -> None:
    caps = schedule(base=0.1, cap=1.0, max_attempts=7)
    assert caps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert schedule(base=0.1, cap=1.0, max_attempts=1) == []


class Throttled(Exception):
    pass


def flaky(failures: int) -> tuple[Callable[[], str], list[int]]:
    """A call that raises Throttled ``failures`` times, then answers; and its call count."""
    calls = [0]

    def call() -> str:
        calls[0] += 1
        if calls[0] <= failures:
            raise Throttled
        return "ok"

    return call, calls


def test_every_sleep_is_drawn_from_zero_to_its_ceiling() -> None:
    call, calls = flaky(failures=5)
    sleeps: list[float] = []
    policy = {"base": 0.1, "cap": 1.0, "max_attempts": 6}

    result = retry(
        call,
        retryable=lambda e: isinstance(e, Throttled),
        sleep=sleeps.append,
        rng=random.Random(42),
        **policy,
    )

    assert result == "ok" and calls == [6]
    caps = schedule(**policy)
    assert all(0 <= slept <= top for slept, top in zip(sleeps, caps, strict=True))
    again = random.Random(42)
    assert sleeps == [again.uniform(0, top) for top in caps]  # the same seed, the same sleeps


def test_full_jitter_uses_the_whole_interval() -> None:
    rng, sleeps = random.Random(3), []
    for _ in range(300):
        call, _ = flaky(failures=1)
        retry(
            call,
            retryable=lambda e: True,
            base=1.0,
            cap=1.0,
            max_attempts=2,
            sleep=sleeps.append,
            rng=rng,
        )
    assert min(sleeps) < 0.05 and max(sleeps) > 0.95


def test_retry_gives_up_after_max_attempts_with_the_last_error() -> None:
    call, calls = flaky(failures=10)
    sleeps: list[float] = []
    with pytest.raises(Throttled):
        retry(
            call,
            retryable=lambda e: True,
            base=0.1,
            cap=1.0,
            max_attempts=4,
            sleep=sleeps.append,
            rng=random.Random(1),
        )
    assert calls == [4] and len(sleeps) == 3  # no sleep after the last attempt


def test_retry_does_not_retry_an_error_it_was_not_told_to() -> None:
    calls = [0]

    def call() -> str:
        calls[0] += 1
        raise PermissionError("AccessDenied")

    sleeps: list[float] = []
    with pytest.raises(PermissionError):
        retry(
            call,
            retryable=lambda e: isinstance(e, Throttled),
            base=0.1,
            cap=1.0,
            max_attempts=5,
            sleep=sleeps.append,
        )
    assert calls == [1] and sleeps == []


def test_retry_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError):
        retry(lambda: "ok", retryable=lambda e: True, base=0.1, cap=1.0, max_attempts=0)
