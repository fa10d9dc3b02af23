"""A Secrets Manager endpoint that throttles: moto's own WSGI app behind a token bucket,
served on 127.0.0.1.

Over the limit, a request gets what AWS sends for the JSON protocol: HTTP 400 with
``x-amzn-ErrorType: ThrottlingException`` and ``{"__type": "ThrottlingException", ...}``,
which boto3 raises as ``ClientError`` with code ``ThrottlingException``. Under it, moto
answers as usual, as an account of this endpoint's own (:class:`helpers.aws.MotoApp`):
nothing created here shows in a lab's Secrets Manager, and it is gone once the endpoint
stops. :meth:`ThrottledSecretsManager.reset` clears only the counters.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from .. import aws
from ..serving import BackgroundServer, aws_refusal

# The calls an agent makes to read a secret (aws-secretsmanager-caching adds
# DescribeSecret); they share one bucket here. Other calls (CreateSecret in a set-up
# cell) pass unthrottled.
READ_OPERATIONS = frozenset({"GetSecretValue", "DescribeSecret"})

_THROTTLED_BODY = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})


def is_throttling(error: Exception) -> bool:
    """Whether boto3 raised ``error`` because the service throttled the call."""
    if not isinstance(error, ClientError):
        return False
    return error.response["Error"]["Code"] == "ThrottlingException"


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second; a call takes one or fails."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._lock = threading.Lock()
        self.refill()

    def refill(self) -> None:
        with self._lock:
            self._tokens, self._at = float(self.burst), self._clock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


@dataclass
class BackendStats:
    """API calls that reached the endpoint, by operation; throttled ones are among them."""

    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def total_throttled(self) -> int:
        return sum(self.throttled.values())


class ThrottledSecretsManager:
    """moto's Secrets Manager behind a token bucket, from :meth:`start` to :meth:`stop`.

    ``rate`` and ``burst`` set the bucket for :data:`READ_OPERATIONS`; ``latency`` is
    added to every API call before it reaches the bucket, to model a backend that is a
    network round trip away instead of in this process.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        latency: float = 0.0,
        throttled_operations: Iterable[str] = READ_OPERATIONS,
    ) -> None:
        self.bucket = TokenBucket(rate, burst)
        self.latency = latency
        self._throttled_operations = frozenset(throttled_operations)
        self._moto: aws.MotoApp | None = None  # claimed at start, released at stop
        self._server = BackgroundServer("secretsmanager-throttled", refusal=aws_refusal)
        self.url = self._server.url
        self._lock = threading.Lock()
        self._stats = BackendStats()
        self._session: Any = None  # one boto3 session makes every client: see client()

    @property
    def stats(self) -> BackendStats:
        with self._lock:
            return BackendStats(Counter(self._stats.calls), Counter(self._stats.throttled))

    def reset(self) -> None:
        """Zero the counters and fill the bucket: a fresh start for the next experiment."""
        with self._lock:
            self._stats = BackendStats()
        self.bucket.refill()

    def client(self, *, pool: int = 10) -> BaseClient:
        """A boto3 client for this endpoint with botocore's retries off: callers bring
        their own backoff, and every request they make shows in :attr:`stats`. ``pool``
        is how many connections it may hold: one per thread that shares it."""
        config = Config(
            retries={"total_max_attempts": 1},
            max_pool_connections=pool,
            connect_timeout=10,
            read_timeout=30,
        )
        with self._lock:  # a boto3 session makes one client at a time
            if self._session is None:
                self._session = aws.session()
            return self._session.client(
                "secretsmanager", endpoint_url=self.url, region_name=aws.REGION, config=config
            )

    def start(self) -> ThrottledSecretsManager:
        self._moto = aws.MotoApp()
        self._server.start(self._app)
        # The first request loads moto's backends, which takes a moment.
        self._server.wait_ready("/moto-api/data.json", deadline_s=10)
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._moto is not None:
            self._moto.close()
            self._moto = None

    def __enter__(self) -> ThrottledSecretsManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _app(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # JSON-protocol calls name their operation in X-Amz-Target: "secretsmanager.<Op>".
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target is None:  # not an API call: moto's own endpoints, readiness probes
            return self._moto(environ, start_response)
        operation = target.rpartition(".")[2]
        time.sleep(self.latency)
        if operation in self._throttled_operations and not self.bucket.take():
            self._count(operation, throttled=True)
            return self._throttle(environ, start_response)
        self._count(operation, throttled=False)
        return self._moto(environ, start_response)

    def _count(self, operation: str, *, throttled: bool) -> None:
        with self._lock:
            self._stats.calls[operation] += 1
            if throttled:
                self._stats.throttled[operation] += 1

    @staticmethod
    def _throttle(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        # Read the body we ignore: werkzeug closes the connection after each response, and
        # closing with unread bytes makes the kernel send a reset the client may see first.
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        body = _THROTTLED_BODY.encode()
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", "ThrottlingException"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [body]
