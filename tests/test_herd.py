"""The throttled Secrets Manager and the thundering-herd experiment run against it.

The backend is moto behind a real HTTP server on 127.0.0.1, reached with boto3; the
herd runs real threads. Assertions count calls and outcomes, never time.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import pytest
import requests
from botocore.exceptions import ClientError
from matplotlib.figure import Figure

from helpers.secrets.herd import STRATEGIES, HerdResult, plot_herd, run_herd, sweep
from helpers.secrets.throttled_backend import (
    ThrottledSecretsManager,
    TokenBucket,
    is_throttling,
)
from helpers.serving import LOOPBACK

TIMEOUT = 10
BURST = 3


@pytest.fixture(scope="module")
def strict() -> Iterator[ThrottledSecretsManager]:
    # A bucket that does not refill within a test: exactly BURST reads pass after reset().
    with ThrottledSecretsManager(rate=1e-6, burst=BURST) as backend:
        yield backend


@pytest.fixture
def secret(strict: ThrottledSecretsManager) -> str:
    name = f"lab/test/throttle-{uuid.uuid4().hex[:8]}"
    client = strict.client()
    client.create_secret(Name=name, SecretString="s3cr3t")
    client.close()
    strict.reset()
    return name


# -- the throttled backend ---------------------------------------------------------------


def test_over_the_limit_boto3_raises_throttling_exception(
    strict: ThrottledSecretsManager, secret: str
) -> None:
    client = strict.client()
    values = [client.get_secret_value(SecretId=secret)["SecretString"] for _ in range(BURST)]
    with pytest.raises(ClientError) as throttled:
        client.get_secret_value(SecretId=secret)
    with pytest.raises(ClientError):
        client.describe_secret(SecretId=secret)  # one bucket for both read calls
    client.close()

    assert values == ["s3cr3t"] * BURST
    error = throttled.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert is_throttling(throttled.value)
    stats = strict.stats
    assert stats.calls == {"GetSecretValue": BURST + 1, "DescribeSecret": 1}
    assert stats.throttled == {"GetSecretValue": 1, "DescribeSecret": 1}
    assert (stats.total_calls, stats.total_throttled) == (BURST + 2, 2)


def test_the_throttling_answer_is_the_aws_json_protocols(
    strict: ThrottledSecretsManager, secret: str
) -> None:
    while strict.bucket.take():  # spend what reset() filled
        pass
    answer = requests.post(
        strict.url,
        data=json.dumps({"SecretId": secret}),
        headers={
            "X-Amz-Target": "secretsmanager.GetSecretValue",
            "Content-Type": "application/x-amz-json-1.1",
        },
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert answer.json() == {"__type": "ThrottlingException", "message": "Rate exceeded"}


def test_other_calls_are_neither_throttled_nor_blocked(
    strict: ThrottledSecretsManager, secret: str
) -> None:
    client = strict.client()
    for _ in range(BURST * 2):
        client.put_secret_value(SecretId=secret, SecretString="rotated")
    client.close()
    assert strict.stats.throttled == {}


def test_another_error_is_not_throttling(strict: ThrottledSecretsManager) -> None:
    client = strict.client()
    with pytest.raises(ClientError) as missing:
        client.get_secret_value(SecretId="lab/test/no-such-secret")
    client.close()
    assert not is_throttling(missing.value)
    assert not is_throttling(ValueError("ThrottlingException"))


def test_the_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=4, clock=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [True] * 4 + [False]
    now[0] = 1.0  # two tokens back
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] = 100.0  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 4


def test_the_backend_stops_cleanly() -> None:
    backend = ThrottledSecretsManager(rate=10, burst=10).start()
    port = int(backend.url.rsplit(":", 1)[1])
    assert requests.get(f"{backend.url}/moto-api/data.json", timeout=TIMEOUT).ok
    backend.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((LOOPBACK, port), timeout=1)


# -- the herd ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def herd_backend() -> Iterator[ThrottledSecretsManager]:
    # Quota and latency small enough that 50 agents without a cache get throttled.
    with ThrottledSecretsManager(rate=20, burst=5, latency=0.02) as backend:
        yield backend


@pytest.fixture(scope="module")
def herds(herd_backend: ThrottledSecretsManager) -> dict[tuple[int, str], HerdResult]:
    return {(n, s): run_herd(n, s, herd_backend) for n in (10, 50) for s in STRATEGIES}


@pytest.mark.parametrize("n", [10, 50])
def test_caches_that_share_a_cold_read_spare_the_backend(
    herds: dict[tuple[int, str], HerdResult], n: int
) -> None:
    no_cache, ours = herds[n, "no cache"], herds[n, "ours"]
    aws = herds[n, "aws-secretsmanager-caching"]

    assert no_cache.backend_calls >= n  # every agent asked at least once
    assert ours.backend_calls == 1  # single flight: one call for the whole fleet
    assert aws.backend_calls == 2  # DescribeSecret, then GetSecretValue
    assert (ours.errors, aws.errors, ours.throttled, aws.throttled) == (0, 0, 0, 0)


def test_without_a_cache_fifty_agents_are_throttled(
    herds: dict[tuple[int, str], HerdResult],
) -> None:
    assert herds[50, "no cache"].throttled > 0


def test_every_run_accounts_for_every_agent(herds: dict[tuple[int, str], HerdResult]) -> None:
    for (n, strategy), result in herds.items():
        assert (result.n_agents, result.strategy) == (n, strategy)
        assert 0 <= result.errors <= n
        assert result.throttled <= result.backend_calls
        assert 0 <= result.p50 <= result.p99


def test_a_cache_per_host_makes_one_cold_call_per_host(
    herd_backend: ThrottledSecretsManager,
) -> None:
    result = run_herd(12, "ours", herd_backend, hosts=3)
    assert (result.backend_calls, result.errors) == (3, 0)


def test_a_sweep_on_a_fresh_backend_makes_the_secret_for_all_its_runs() -> None:
    with ThrottledSecretsManager(rate=1000, burst=100) as backend:
        results = sweep(backend, (3, 5), ["ours", "no cache"])
    summary = [(r.n_agents, r.strategy, r.backend_calls, r.errors) for r in results]
    assert summary == [
        (3, "ours", 1, 0),
        (3, "no cache", 3, 0),
        (5, "ours", 1, 0),
        (5, "no cache", 5, 0),
    ]


def test_progress_counts_every_agent_once(herd_backend: ThrottledSecretsManager) -> None:
    seen: list[tuple[int, int]] = []
    run_herd(10, "ours", herd_backend, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(done, 10) for done in range(1, 11)]


def test_the_figure_has_a_panel_per_measure(herds: dict[tuple[int, str], HerdResult]) -> None:
    figure = plot_herd(list(herds.values()))
    assert isinstance(figure, Figure)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == "API calls that reached Secrets Manager" and len(titles) == 4
