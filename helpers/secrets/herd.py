"""The thundering herd: a fleet of agents cold-starts at once and every agent reads the
same secret from a Secrets Manager that throttles.

The model, and its limits. The ``n_agents`` agents are threads of this one process,
released together by a barrier. They run on ``hosts`` hosts (1 by default): the agents
of a host share one boto3 client and, for the caching strategies, one cache, as they
would behind a caching sidecar on the host (the AWS Secrets Manager Agent is one) or
inside one multi-threaded agent server. Every cache starts empty. A cache can only
combine the reads that go through it: with ``hosts=K`` single flight makes K cold calls,
not 1, and with one agent per process (``hosts=n_agents``) every strategy makes one cold
call per agent, so only the backoff tells the strategies apart.

Fair comparison: every client has botocore's retries off (``total_max_attempts=1``) and
every strategy reads through the same backoff (:data:`HERD_BACKOFF`, full jitter) when
throttled:

- ``no cache``: GetSecretValue with the backoff, by every agent;
- ``naive TTL``: :class:`~helpers.secrets.cache.NaiveTtlCache` around that same call;
- ``aws-secretsmanager-caching``: the AWS library's ``SecretCache`` on the host's client
  (a cold secret costs it DescribeSecret then GetSecretValue), its reads in the backoff;
- ``ours``: :class:`~helpers.secrets.cache.SecretCache` around the same call as
  ``no cache``: one agent per host calls, the others wait for its answer.

An agent's latency is the time from the barrier to its read's outcome: the secret, or
the error it gave up with (counted in ``errors``).

What one process cannot model: agents, boto3 and the server share this machine's cores,
so "at once" is only as simultaneous as the process can make it. Under load it releases
about one agent per millisecond (``start_spread`` says how long the last one waited),
the way agents on one host contend for its CPU. Up to a few hundred agents most start
before the first read's answer; at 1,000 the last ones start after it has filled a shared
cache, which flatters ``naive TTL``. Latencies include the process's own queue for the
CPU, not only the backend's answers.

Cost: every call is a boto3 request and a moto answer in this process, a few milliseconds
of CPU each, and a cold fleet without single flight makes about two calls per agent. The
sweep's largest fleet is 300, not 1,000: the same conclusion, in a third of the time.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from aws_secretsmanager_caching import SecretCache as AwsSecretCache
from aws_secretsmanager_caching import SecretCacheConfig
from botocore.client import BaseClient
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .backoff import retry
from .cache import NaiveTtlCache, SecretCache
from .throttled_backend import ThrottledSecretsManager, is_throttling

HERD_SECRET = "lab/herd/model-api-key"
# Three attempts in all, as botocore's "standard" retry mode makes.
HERD_BACKOFF = {"base": 0.05, "cap": 1.0, "max_attempts": 3}
# Secrets Manager's real quotas are thousands of reads per second; this process serves a
# couple of hundred (boto3 and the server share its two cores), so the lab's quota sits
# below that, or nothing would ever be throttled. 100 ms per call: a backend a network hop
# away and busy, which is also longer than this process takes to release a few dozen
# agents (about one per millisecond under load; see HerdResult.start_spread).
HERD_BACKEND = {"rate": 100.0, "burst": 20, "latency": 0.1}
# Long enough that nothing expires during a run: a cold start is all we measure.
CACHE_TTL = 300.0

Reader = Callable[[str], str]
Progress = Callable[[int, int], None]  # (agents done, agents in all)


@dataclass(frozen=True)
class HerdResult:
    strategy: str
    n_agents: int
    backend_calls: int  # API calls that reached the backend, throttled ones included
    throttled: int  # of which the backend throttled
    errors: int  # agents that gave up without the secret
    p50: float  # seconds from the start to an agent's first read's outcome
    p99: float
    start_spread: float  # seconds between the first agent's start and the last one's
    seconds: float  # wall time of the run, starting the agents' threads included


def _with_backoff(call: Callable[[], str]) -> str:
    return retry(call, retryable=is_throttling, **HERD_BACKOFF)


def _direct(client: BaseClient) -> Reader:
    def read(secret_id: str) -> str:
        return _with_backoff(lambda: client.get_secret_value(SecretId=secret_id)["SecretString"])

    return read


def _naive(client: BaseClient) -> Reader:
    return NaiveTtlCache(_direct(client), ttl=CACHE_TTL).get


def _aws_library(client: BaseClient) -> Reader:
    cache = AwsSecretCache(config=SecretCacheConfig(), client=client)
    return lambda secret_id: _with_backoff(partial(cache.get_secret_string, secret_id))


def _ours(client: BaseClient) -> Reader:
    cache = SecretCache(_direct(client), ttl=CACHE_TTL, hard_ttl=4 * CACHE_TTL, negative_ttl=1)
    return cache.get


# A strategy turns a host's client into the read its agents make.
STRATEGIES: dict[str, Callable[[BaseClient], Reader]] = {
    "no cache": _direct,
    "naive TTL": _naive,
    "aws-secretsmanager-caching": _aws_library,
    "ours": _ours,
}


def herd_backend() -> ThrottledSecretsManager:
    """The throttled Secrets Manager the experiment runs against (not started yet)."""
    return ThrottledSecretsManager(**HERD_BACKEND)


def ensure_secret(client: BaseClient, value: str = "sk-lab-herd-0001") -> None:
    # An earlier run against the same backend may have made it.
    with contextlib.suppress(client.exceptions.ResourceExistsException):
        client.create_secret(Name=HERD_SECRET, SecretString=value)


def run_herd(
    n_agents: int,
    strategy: str,
    backend: ThrottledSecretsManager,
    *,
    hosts: int = 1,
    progress: Progress | None = None,
    make_secret: bool = True,
) -> HerdResult:
    """Start ``n_agents`` agents at once on ``hosts`` hosts; each reads :data:`HERD_SECRET`
    once through ``strategy`` (a key of :data:`STRATEGIES`). ``make_secret=False`` when an
    earlier run against ``backend`` made it: the call costs a round trip to the backend."""
    clients = [backend.client(pool=math.ceil(n_agents / hosts)) for _ in range(hosts)]
    try:
        if make_secret:
            ensure_secret(clients[0])
        backend.reset()
        began = time.perf_counter()
        readers = [STRATEGIES[strategy](client) for client in clients]
        outcomes = _release(n_agents, readers, progress)
    finally:
        for client in clients:
            client.close()
    stats = backend.stats
    latencies = sorted(o.latency for o in outcomes)
    starts = [o.started for o in outcomes]
    return HerdResult(
        strategy=strategy,
        n_agents=n_agents,
        backend_calls=stats.total_calls,
        throttled=stats.total_throttled,
        errors=sum(not o.ok for o in outcomes),
        p50=_percentile(latencies, 0.50),
        p99=_percentile(latencies, 0.99),
        start_spread=max(starts) - min(starts),
        seconds=time.perf_counter() - began,
    )


def sweep(
    backend: ThrottledSecretsManager,
    sizes: Sequence[int] = (10, 100, 300),
    strategies: Iterable[str] = STRATEGIES,
    *,
    progress: Progress | None = None,
) -> list[HerdResult]:
    """:func:`run_herd` for every fleet size and strategy; ``progress`` counts agents
    across the whole sweep."""
    runs = [(n, strategy) for n in sizes for strategy in strategies]
    total, done, results = sum(n for n, _ in runs), 0, []
    for n, strategy in runs:
        report = None if progress is None else partial(_offset, progress, done, total)
        results.append(run_herd(n, strategy, backend, progress=report, make_secret=not results))
        done += n
    return results


def _offset(progress: Progress, before: int, total: int, done: int, _: int) -> None:
    progress(before + done, total)


class _Outcome(NamedTuple):
    started: float
    latency: float
    ok: bool


def _release(n_agents: int, readers: list[Reader], progress: Progress | None) -> list[_Outcome]:
    """Agents take the hosts' readers in turn, then all start together."""
    barrier = threading.Barrier(n_agents, timeout=60)
    with ThreadPoolExecutor(max_workers=n_agents, thread_name_prefix="agent") as pool:
        agents = [pool.submit(_agent, readers[i % len(readers)], barrier) for i in range(n_agents)]
        return _collect(agents, progress)


def _agent(read: Reader, barrier: threading.Barrier) -> _Outcome:
    barrier.wait()
    started = time.perf_counter()
    try:
        read(HERD_SECRET)
        ok = True
    except Exception:
        ok = False  # the agent gave up: its latency is how long it tried
    return _Outcome(started, time.perf_counter() - started, ok)


def _collect(agents: list[Future[_Outcome]], progress: Progress | None) -> list[_Outcome]:
    # Progress is reported from this thread: a notebook widget need not be thread-safe.
    outcomes = []
    for done, agent in enumerate(as_completed(agents), start=1):
        outcomes.append(agent.result())
        if progress is not None:
            progress(done, len(agents))
    return outcomes


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# -- the figure ---------------------------------------------------------------------------

_COLOURS = {
    "no cache": "#dc2626",
    "naive TTL": "#ea580c",
    "aws-secretsmanager-caching": "#2563eb",
    "ours": "#059669",
}
_BAR = 0.8  # width of one fleet size's group of bars


def plot_herd(results: Sequence[HerdResult]) -> Figure:
    """Backend calls, throttling, failed agents and latency per fleet size and strategy."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    plt.close(fig)  # shown once, as the cell's value
    panels = [
        ("API calls that reached Secrets Manager", lambda r: r.backend_calls, None),
        ("of which throttled", lambda r: r.throttled, None),
        ("agents that gave up without the secret", lambda r: r.errors, None),
        (
            "first read, ms: p50 (solid) inside p99 (pale, labelled)",
            lambda r: r.p99 * 1000,
            lambda r: r.p50 * 1000,
        ),
    ]
    sizes = sorted({r.n_agents for r in results})
    for ax, (title, outer, inner) in zip(axes.flat, panels, strict=True):
        _bars(ax, results, outer, inner)
        _style(ax, title, sizes)
    handles = [Patch(color=colour, label=name) for name, colour in _COLOURS.items()]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=4)
    fig.suptitle("A cold fleet reads one secret at once", fontsize=14, y=0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def _slots(results: Sequence[HerdResult]) -> list[tuple[float, HerdResult]]:
    """Each result's x: its fleet size's group, then its strategy's place in the group."""
    sizes = sorted({r.n_agents for r in results})
    names = [name for name in _COLOURS if any(r.strategy == name for r in results)]
    step = _BAR / len(names)
    return [
        (sizes.index(r.n_agents) + (names.index(r.strategy) - (len(names) - 1) / 2) * step, r)
        for r in results
    ]


def _bars(
    ax: Axes,
    results: Sequence[HerdResult],
    outer: Callable[[HerdResult], float],
    inner: Callable[[HerdResult], float] | None,
) -> None:
    """One labelled bar per result; ``inner`` draws a narrower bar inside a paler one."""
    width = 0.9 * _BAR / len({r.strategy for r in results})
    for x, result in _slots(results):
        colour, value = _COLOURS[result.strategy], outer(result)
        ax.bar(x, value, width, color=colour, alpha=1 if inner is None else 0.35)
        if inner is not None:
            ax.bar(x, inner(result), width / 2, color=colour)
        ax.annotate(
            f"{value:,.0f}",
            (x, value),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    # symlog: a 0 (nothing throttled, a cache hit's microseconds) stays a visible 0, while
    # 1 and 1,000 still fit on one chart.
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(0, max(10, *(outer(r) for r in results)) * 4)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))


def _style(ax: Axes, title: str, sizes: list[int]) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xticks(range(len(sizes)), [f"{n:,} agents" for n in sizes])
    ax.grid(axis="y", color="#e5e7eb")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
