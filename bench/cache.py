"""Our secret cache beside aws-secretsmanager-caching, against one throttled Secrets Manager.

    .venv/bin/python bench/cache.py [--repeat N]

Both caches read the same secret from the same :class:`ThrottledSecretsManager` (moto
behind a token bucket, 100 ms per call: the herd experiment's backend), each through a
boto3 client of its own with botocore's retries off:

- cold readers: 100 threads read an empty cache at once (the herd experiment's run, same
  backoff for both); API calls that reached the backend, and the p99 of the first read;
- after TTL expiry: reader threads read without pause while the TTL (the same for both)
  runs out; the p99 latency of the reads in flight while the cache's refresh call is.
  Ours serves the stale value and refreshes in the background; the AWS library holds its
  lock through the refresh, and every reader waits for it;
- hit path: the median time of one read from a warm cache, in one thread.

Each figure is the median over ``--repeat`` runs; the ratio is ours over the AWS
library's. Targets: ratio <= 1.0 for each.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from importlib.metadata import version

from aws_secretsmanager_caching import SecretCache as AwsSecretCache
from aws_secretsmanager_caching import SecretCacheConfig
from botocore.client import BaseClient

from helpers.secrets.cache import SecretCache
from helpers.secrets.herd import HERD_SECRET, Reader, ensure_secret, herd_backend, run_herd
from helpers.secrets.throttled_backend import ThrottledSecretsManager

OURS, AWS = "ours", "aws-secretsmanager-caching"
COLD_READERS = 100
# Whole seconds: the AWS library draws its refresh time with randint(ttl / 2, ttl).
TTL = 2
EXPIRY_READERS = 16
HIT_READS = 10_000


def our_cache(client: BaseClient, ttl: int) -> Reader:
    def fetch(secret_id: str) -> str:
        return client.get_secret_value(SecretId=secret_id)["SecretString"]

    return SecretCache(fetch, ttl=ttl, hard_ttl=4 * ttl, negative_ttl=1).get


def aws_cache(client: BaseClient, ttl: int) -> Reader:
    cache = AwsSecretCache(config=SecretCacheConfig(secret_refresh_interval=ttl), client=client)
    return cache.get_secret_string


CACHES: dict[str, Callable[[BaseClient, int], Reader]] = {OURS: our_cache, AWS: aws_cache}


class CallSpans:
    """When each API call of one client started and ended, from botocore's own events."""

    def __init__(self, client: BaseClient) -> None:
        self.spans: list[tuple[float, float]] = []
        client.meta.events.register("before-call.secrets-manager", self._started)
        client.meta.events.register("after-call.secrets-manager", self._ended)

    @staticmethod
    def _started(context: dict, **_: object) -> None:
        context["bench_started"] = time.perf_counter()

    def _ended(self, context: dict, **_: object) -> None:
        self.spans.append((context["bench_started"], time.perf_counter()))


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def cold_readers(backend: ThrottledSecretsManager, cache: str) -> tuple[int, float]:
    """API calls that reached the backend, and the p99 of the first read."""
    result = run_herd(COLD_READERS, cache, backend)
    return result.backend_calls, result.p99


def after_expiry(backend: ThrottledSecretsManager, cache: str) -> float:
    """p99 seconds of the reads in flight while a refresh call is, once the TTL ran out."""
    client = backend.client()
    backend.reset()
    try:
        read = CACHES[cache](client, TTL)
        read(HERD_SECRET)  # the cold read, not measured
        calls = CallSpans(client)
        reads = _read_until_refreshed(read, calls, deadline=time.perf_counter() + 2 * TTL + 5)
    finally:
        client.close()
    in_flight = [
        end - start
        for start, end in reads
        if any(start <= call_end and end >= call_start for call_start, call_end in calls.spans)
    ]
    return p99(in_flight)


def _read_until_refreshed(
    read: Reader, calls: CallSpans, deadline: float
) -> list[tuple[float, float]]:
    """Readers read without pause until a refresh call has ended (and a little after)."""
    reads: list[tuple[float, float]] = []  # appends are atomic: the readers share it
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            began = time.perf_counter()
            read(HERD_SECRET)
            reads.append((began, time.perf_counter()))
            time.sleep(0.001)  # a reader that does some work between reads

    threads = [threading.Thread(target=reader) for _ in range(EXPIRY_READERS)]
    for thread in threads:
        thread.start()
    while not calls.spans and time.perf_counter() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # reads that started during the refresh finish
    done.set()
    for thread in threads:
        thread.join()
    if not calls.spans:
        raise RuntimeError("the cache never refreshed: nothing to measure")
    return reads


def hit_path(backend: ThrottledSecretsManager, cache: str) -> float:
    """Seconds per read from a warm cache, over HIT_READS reads in one thread."""
    client = backend.client()
    try:
        read = CACHES[cache](client, 3600)  # nothing expires while we measure
        read(HERD_SECRET)
        began = time.perf_counter()
        for _ in range(HIT_READS):
            read(HERD_SECRET)
        return (time.perf_counter() - began) / HIT_READS
    finally:
        client.close()


def duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.3f} s"


def row(name: str, ours: float, theirs: float, shown: Callable[[float], str], target: bool) -> str:
    ratio = ours / theirs
    goal = f"≤ 1.0× {'✓' if ratio <= 1.0 else '✗'}" if target else ""
    return f"{name:<36} {shown(ours):>10} {shown(theirs):>10} {ratio:>8.2g}×  {goal}"


def compare_caches(repeat: int) -> None:
    """Print the table: each measurement for both caches, their ratio and its target."""
    runs: dict[str, list[tuple[float, ...]]] = {OURS: [], AWS: []}
    with herd_backend() as backend:
        client = backend.client()
        ensure_secret(client)
        client.close()
        for _ in range(repeat):
            for cache, figures in runs.items():
                calls, cold_p99 = cold_readers(backend, cache)
                figures.append(
                    (calls, cold_p99, after_expiry(backend, cache), hit_path(backend, cache))
                )
    medians = {
        cache: [statistics.median(column) for column in zip(*figures, strict=True)]
        for cache, figures in runs.items()
    }
    measurements = [
        (f"cold readers ({COLD_READERS}): backend calls", lambda n: f"{n:.0f}", True),
        (f"cold readers ({COLD_READERS}): p99 read", duration, False),
        (f"after TTL expiry ({TTL} s): p99 read", duration, True),
        ("hit path: one read", duration, True),
    ]
    print(
        f"\nSecretCache vs aws-secretsmanager-caching {version('aws-secretsmanager-caching')},"
        f" backend {backend.latency * 1000:.0f} ms per call, median of {repeat}"
    )
    print(f"{'measurement':<36} {'ours':>10} {'aws':>10} {'ratio':>9}  target")
    for i, (name, shown, target) in enumerate(measurements):
        print(row(name, medians[OURS][i], medians[AWS][i], shown, target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    compare_caches(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
