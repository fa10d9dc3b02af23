"""The three secret-delivery patterns side by side, measured in one run (notebook 09).

:func:`measure_patterns` puts a weather API key in the lab's Secrets Manager and delivers
it to an agent in each of the three ways of notebooks 06–08, rotating it in the store once
per pattern and timing how long the agent takes to use the new key:

1. deploy time (06): the pipeline reads the store, seals the key with KMS and renders it
   into the environment of a deployed agent. The running agent never sees a rotation
   (checked: it still uses the old key after :data:`PICKUP_DEADLINE_S`); the delay is the
   pipeline run and the redeploy that follow;
2. mounted volume (07): an operator polls the store every :data:`OPERATOR_INTERVAL_S` and
   swaps the volume; the same agent process reads the file at every request;
3. direct API call (08): the agent reads the store through a
   :class:`~helpers.secrets.cache.SecretCache` whose TTL is :data:`CACHE_TTL_S`.

The lines of application code are counted from the reference functions below
(:func:`deploy_time_app`, :func:`volume_app`, :func:`direct_api_app`): what the agent
itself writes in each pattern. Change one, and the table changes with it.
"""

from __future__ import annotations

import ast
import base64
import inspect
import os
import secrets
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from ..display import table
from ..masking import mask
from .backoff import retry
from .cache import SecretCache
from .deploy_time import (
    SEALED_TEMPLATE,
    SEALED_VAR,
    WEATHER_PARAM,
    encryption_context,
    render,
    runtime_env,
    seal,
)
from .deployed_agent import DeployedAgent, deploy, redeploy
from .throttled_backend import is_throttling
from .volume import (
    KEY_FILE,
    MOUNT_VAR,
    SecretsOperator,
    Source,
    secrets_manager_source,
    wait_until,
)

SECRET_ID = "fitness/weather-api-key-compared"  # a prefix: one secret per pattern
OPERATOR_INTERVAL_S = 0.5  # pattern 2: how often the operator polls the store
CACHE_TTL_S = 0.25  # pattern 3: how long the agent's cache keeps a value fresh
# Patterns 2 and 3 deliver within about half a second: the deploy-time agent gets twice
# that to show it never will without help (a longer wait would prove nothing more)...
PICKUP_DEADLINE_S = 1.0
# ...while a pattern that must deliver may take its time on a busy machine: waiting for
# it ends as soon as it has.
DELIVERY_DEADLINE_S = 10.0


# -- what the agent writes, pattern by pattern (the lines the table counts) ---------------


def deploy_time_app() -> str:
    """Pattern 1, sealed (notebook 06): decrypt the injected ciphertext once, at start-up."""
    kms = boto3.client("kms")  # the runtime's execution role signs the call
    blob = base64.b64decode(os.environ[SEALED_VAR])
    context = encryption_context(WEATHER_PARAM)
    answer = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    return answer["Plaintext"].decode()


def volume_app() -> str:
    """Pattern 2 (notebook 07): read the file the operator keeps in sync, at every request."""
    return Path(os.environ[MOUNT_VAR], KEY_FILE).read_text()


def direct_api_app(secret_id: str, ttl: float) -> Callable[[], str]:
    """Pattern 3 (notebook 08): at start-up, a client and a cache; at every request, the
    key through the cache, read from the store with backoff when it throttles."""
    no_sdk_retries = Config(retries={"total_max_attempts": 1})  # fetch does the retrying
    sm = boto3.client("secretsmanager", config=no_sdk_retries)  # signed as the runtime's role

    def fetch(name: str) -> str:
        read = partial(sm.get_secret_value, SecretId=name)
        answer = retry(read, retryable=is_throttling, base=0.05, cap=1.0, max_attempts=3)
        return answer["SecretString"]

    cache = SecretCache(fetch, ttl=ttl, hard_ttl=5 * ttl, negative_ttl=ttl / 6)  # as in 08
    return partial(cache.get, secret_id)


def lines_of_code(function: Callable[..., object]) -> int:
    """Lines of ``function``'s body that do something: its docstring, blank lines and
    comment lines left out; a nested function's ``def`` line counts."""
    source = textwrap.dedent(inspect.getsource(function))
    definition = ast.parse(source).body[0]
    body = definition.body[1:] if ast.get_docstring(definition) is not None else definition.body
    lines = source.splitlines()[body[0].lineno - 1 : body[-1].end_lineno]
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))


# -- the facts that come from notebooks 06-08, not from a measurement -------------------


@dataclass(frozen=True)
class Pattern:
    name: str
    app_code: Callable[..., object]
    app_needs: str  # what the agent's code depends on besides those lines
    runs_on: str
    delay_set_by: str  # what the rotation delay is made of, here
    delay_in_production: str
    exposure: tuple[str, ...]  # where the plaintext can be found, besides the store


PATTERNS = (
    Pattern(
        "1 · deploy time, sealed",
        deploy_time_app,
        "boto3",
        "anywhere",
        "the redeploy",
        "a pipeline run and a rollout: minutes, and nothing happens without one",
        (
            "the agent's memory, from start to exit",
            "its log, unless a handler redacts it",
            "any process given both the ciphertext and the role's kms:Decrypt,"
            " such as a child that inherits the environment",
        ),
    ),
    Pattern(
        "2 · mounted volume",
        volume_app,
        "no library",
        "Kubernetes, not AgentCore",
        f"the poll, every {OPERATOR_INTERVAL_S:g} s",
        "the operator's poll: about 1 min for the kubelet, 2 min for the CSI driver",
        (
            "the agent's memory, while it uses the key",
            "the file: every process of the pod, root on the node",
            "the operator, which holds a credential for the store",
        ),
    ),
    Pattern(
        "3 · direct API call",
        direct_api_app,
        "boto3, a cache",
        "anywhere the store is reachable",
        f"the TTL, {CACHE_TTL_S:g} s",
        "the cache TTL you choose: as long as a revoked key may still be used",
        (
            "the agent's memory: its cache, up to the hard TTL",
            "anything acting as the agent's role, which may read the store",
        ),
    ),
)


@dataclass(frozen=True)
class PatternRow:
    """One pattern as measured: the delay and the redeploy come from this run."""

    pattern: Pattern
    rotation_delay_s: float  # from the new value in the store to the agent using it
    needs_redeploy: bool  # the running agent did not use the new value by the deadline
    app_code_lines: int


# -- the measurement ----------------------------------------------------------------------


def new_key() -> str:
    return "wk-" + secrets.token_hex(16)  # as the weather service issues them


def _rotate(sm: BaseClient, secret_id: str) -> str:
    """A new key in the store, as the weather service's rotation puts it there."""
    key = new_key()
    sm.put_secret_value(SecretId=secret_id, SecretString=key)
    return key


def _current(sm: BaseClient, secret_id: str) -> str:
    return sm.get_secret_value(SecretId=secret_id)["SecretString"]


def _uses(agent: DeployedAgent, key: str) -> bool:
    return agent.current_key() == mask(key)


def _picked_up(uses_new_key: Callable[[], bool], deadline_s: float) -> float | None:
    """Seconds until the running agent uses the new key; None if it has not by then."""
    try:
        return wait_until(uses_new_key, deadline_s)
    except TimeoutError:
        return None


def _without_redeploy(uses_new_key: Callable[[], bool]) -> tuple[float, bool]:
    delay = _picked_up(uses_new_key, DELIVERY_DEADLINE_S)
    if delay is None:
        raise RuntimeError(f"the running agent missed a rotation for {DELIVERY_DEADLINE_S} s")
    return delay, False


def _measure_deploy_time(sm: BaseClient, kms: BaseClient, secret_id: str) -> tuple[float, bool]:
    metadata = kms.create_key(Description="notebook 09: deploy-time parameters")["KeyMetadata"]
    role = runtime_env(kms.meta.endpoint_url)

    def pipeline() -> dict[str, str]:  # read the store, seal, render: the agent's environment
        sealed = seal(kms, metadata["Arn"], WEATHER_PARAM, _current(sm, secret_id))
        return render(SEALED_TEMPLATE, {WEATHER_PARAM: sealed}) | role

    agent = deploy(pipeline())
    try:
        key = _rotate(sm, secret_id)
        missed = _picked_up(partial(_uses, agent, key), PICKUP_DEADLINE_S) is None
        began = time.monotonic()  # at best, a pipeline starts as the store changes
        agent, _ = redeploy(agent, pipeline())
        wait_until(partial(_uses, agent, key))
        return time.monotonic() - began, missed
    finally:
        agent.stop()


def _measure_volume(sm: BaseClient, secret_id: str) -> tuple[float, bool]:
    polled = threading.Event()
    source = _signalling(secrets_manager_source(sm, {KEY_FILE: secret_id}), polled)
    with tempfile.TemporaryDirectory(prefix="fitness-agent-") as pod:
        operator = SecretsOperator(source, Path(pod) / "secrets", OPERATOR_INTERVAL_S)
        with operator, deploy({MOUNT_VAR: str(operator.target)}) as agent:
            polled.clear()
            if not polled.wait(DELIVERY_DEADLINE_S):
                raise TimeoutError(f"the operator did not read the store: {operator.last_error}")
            # The worst moment to rotate: the operator has just read the old key.
            key = _rotate(sm, secret_id)
            return _without_redeploy(partial(_uses, agent, key))


def _signalling(source: Source, polled: threading.Event) -> Source:
    """``source``, setting ``polled`` each time it has answered."""

    def read() -> Mapping[str, str]:
        values = source()
        polled.set()
        return values

    return read


def _measure_direct_api(sm: BaseClient, secret_id: str) -> tuple[float, bool]:
    weather_api_key = direct_api_app(secret_id, CACHE_TTL_S)
    weather_api_key()  # the worst moment: the cache has just read the old key
    key = _rotate(sm, secret_id)
    return _without_redeploy(lambda: weather_api_key() == key)


@contextmanager
def _weather_secrets(sm: BaseClient, secret_ids: list[str]) -> Iterator[None]:
    try:
        for secret_id in secret_ids:
            sm.create_secret(Name=secret_id, SecretString=new_key())
        yield
    finally:  # moto keeps its state per process: leave none behind for the next run
        for secret_id in secret_ids:
            with suppress(sm.exceptions.ResourceNotFoundException):
                sm.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)


def measure_patterns() -> list[PatternRow]:
    """Deliver and rotate one key in each pattern; a row per pattern, in order.

    Runs against the Secrets Manager and KMS the standard AWS configuration names, with its
    credentials, as the agents' own code does: ``start_lab(agentcore=True)`` exports the
    lab's; in AWS mode boto3 finds AWS's own.
    """
    session = boto3.session.Session()
    # All boto3 needs besides the endpoints, which it finds by itself: fail with one
    # sentence here rather than in a thread, halfway through deploying an agent.
    if session.region_name is None or session.get_credentials() is None:
        raise ValueError(
            "needs AWS credentials and a region: start_lab(agentcore=True) exports the"
            " lab's; in AWS mode they come from your AWS configuration"
        )
    sm, kms = session.client("secretsmanager"), session.client("kms")
    measures = [
        partial(_measure_deploy_time, sm, kms),
        partial(_measure_volume, sm),
        partial(_measure_direct_api, sm),
    ]
    # A secret per pattern: the three rotations are independent, so they are measured at
    # once (the deploy-time pattern alone waits a second to show the agent misses one).
    secret_ids = [f"{SECRET_ID}-{number}" for number in range(1, len(measures) + 1)]
    with _weather_secrets(sm, secret_ids), ThreadPoolExecutor(len(measures)) as pool:
        measured = list(pool.map(lambda measure, sid: measure(sid), measures, secret_ids))
    return [
        PatternRow(pattern, delay, redeploy, lines_of_code(pattern.app_code))
        for pattern, (delay, redeploy) in zip(PATTERNS, measured, strict=True)
    ]


# -- what the notebook shows --------------------------------------------------------------


def show_app_code() -> None:
    """The reference functions, as counted."""
    for pattern in PATTERNS:
        print(f"# {pattern.name}: {_lines(lines_of_code(pattern.app_code))}")
        print(inspect.getsource(pattern.app_code))


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def show_patterns(rows: list[PatternRow]) -> None:
    """The measured comparison: a column per pattern."""
    facts = {
        "rotation delay": [f"≈ {row.rotation_delay_s:.2f} s" for row in rows],
        "made of": [row.pattern.delay_set_by for row in rows],
        "needs a redeploy": ["yes" if row.needs_redeploy else "no" for row in rows],
        "agent code": [f"{_lines(row.app_code_lines)}, {row.pattern.app_needs}" for row in rows],
        "runs on": [row.pattern.runs_on for row in rows],
    }
    headers = ["", *(row.pattern.name for row in rows)]
    print(table(([fact, *cells] for fact, cells in facts.items()), headers))
    print(f"needs a redeploy: the running agent kept the old key for {PICKUP_DEADLINE_S:g} s")


def show_details(rows: list[PatternRow]) -> None:
    """Per pattern: the rotation delay in production, and where the plaintext is."""
    for row in rows:
        print(row.pattern.name)
        print(f"  in production: {row.pattern.delay_in_production}")
        print(f"  plaintext in:  {row.pattern.exposure[0]}")
        for place in row.pattern.exposure[1:]:
            print(f"                 {place}")
