"""AWS for the lab: moto's server on 127.0.0.1, lab credentials, and clients bound to it.

moto answers the real AWS wire protocols, so learners use the real boto3 clients. moto
keeps its state in process memory; each MotoServer answers as an account of its own
(:class:`MotoApp`), and its state goes when it stops.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .aws_mode import AwsMode, AwsModeError
from .stopped import OneLine

if TYPE_CHECKING:  # imported where used: agents read this module's names, not boto3
    import botocore.session
    from botocore.client import BaseClient
    from botocore.loaders import Loader

    from .serving import BackgroundServer

T = TypeVar("T")
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: a lab running alone has this one


@dataclass(frozen=True)
class LabCredentials:
    """An access key pair in the real format; moto accepts any, none of these is real.
    In AWS mode, a profile's may be temporary: then a session token comes with them."""

    access_key_id: str
    # Not in the repr: in AWS mode these are a profile's real ones.
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


AGENT_RUNTIME = LabCredentials("AKIALABAGENTRUNTIME1", "labAgentRuntimeSecretNotARealAwsKey00001")
OPERATOR = LabCredentials("AKIALABOPERATOR00001", "labOperatorSecretNotARealAwsKey000000001")
MCP_RUNTIME = LabCredentials("AKIALABMCPRUNTIME001", "labMcpRuntimeSecretNotARealAwsKey0000001")
FRONTEND_APP = LabCredentials("AKIALABFRONTENDAPP01", "labFrontendAppSecretNotARealAwsKey00001")
UNTRUSTED_APP = LabCredentials("AKIALABPARTNERAPP001", "labPartnerAppSecretNotARealAwsKey000001")
# The course's principals by name: in AWS mode an AWS profile acts as each (helpers.aws_mode).
PRINCIPALS = {
    "agent_runtime": AGENT_RUNTIME,
    "operator": OPERATOR,
    "mcp_runtime": MCP_RUNTIME,
    "frontend_app": FRONTEND_APP,
    "untrusted_app": UNTRUSTED_APP,
}


def botocore_session(loader: Loader | None = None) -> botocore.session.Session:
    """A botocore session; with ``loader``, one that shares its parsed service models.

    Every session parses the JSON models of the services it makes clients for (the two
    AgentCore models alone are ~10 MiB once parsed): the parts of one lab share a loader
    (``botocore.loaders.create_loader()``), so each model is parsed once per lab, not
    once per client.
    """
    import botocore.session

    session = botocore.session.Session()
    if loader is not None:
        session.register_component("data_loader", loader)
    return session


def new_loader() -> Loader:
    """A loader of botocore's service models, to share (see :func:`botocore_session`)."""
    from botocore.loaders import create_loader

    return create_loader()


def use_as_default_session(loader: Loader) -> None:
    """A fresh default session for ``boto3.client(...)``, sharing ``loader``'s models.

    boto3's default session resolves credentials once and keeps them: a new one picks up
    the environment as it is now (a re-run start cell).
    """
    import boto3

    boto3.setup_default_session(botocore_session=botocore_session(loader))


def forget_default_session() -> None:
    """Drop boto3's default session (if boto3 is loaded at all): the next client made
    from the environment resolves credentials afresh (a learner's own, once the lab has
    put them back)."""
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None


def configured_region() -> str:
    """The region the standard AWS settings name (AWS_REGION, the profile), as boto3 reads
    them; the lab's when they name none."""
    import boto3

    return boto3.session.Session().region_name or REGION


def client(
    service: str,
    url: str | None = None,
    credentials: LabCredentials = AGENT_RUNTIME,
    loader: Loader | None = None,
    **kw: Any,
) -> BaseClient:
    """A boto3 client for ``service`` acting as one of the course's principals.

    ``url`` is the endpoint; without it boto3 finds it the standard way
    (``AWS_ENDPOINT_URL_<SERVICE>``, which the lab exports, or AWS's own). In AWS mode the
    AWS profile the configuration names acts as the principal (helpers.aws_mode).
    Without ``loader`` it shares the models boto3's default session has parsed (start_lab
    gives that session the lab's loader), as a plain ``boto3.client`` call would.
    """
    from botocore.config import Config

    profile = _profile_of(credentials)
    if profile is None:
        kw.setdefault("region_name", REGION)
        # A local server either answers at once or is down: fail fast instead of retrying
        # with back-off, so a stopped lab shows up as an error rather than as a hung cell.
        kw.setdefault(
            "config",
            Config(
                retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=10
            ),
        )
    return _session(profile, credentials, loader).client(service, endpoint_url=url, **kw)


def session(credentials: LabCredentials = AGENT_RUNTIME, loader: Loader | None = None) -> Any:
    """The boto3 session :func:`client` makes its client from. A caller making many clients
    in a row keeps one: a client from a session that made one before costs milliseconds,
    where a new session's set-up costs tens of them."""
    return _session(_profile_of(credentials), credentials, loader)


def acting_as(credentials: LabCredentials = AGENT_RUNTIME) -> tuple[LabCredentials, str]:
    """The credentials that act as the principal with ``credentials``, and their region:
    those themselves and the lab's region, or in AWS mode what the principal's AWS
    profile resolves to (a role's temporary credentials included), for a process the
    lab starts with them in its environment, as a runtime hands its role's to its code."""
    profile = _profile_of(credentials)
    if profile is None:
        return credentials, REGION
    session = _session(profile, credentials, None)
    found = session.get_credentials()
    if found is None:
        raise AwsModeError(f"the AWS profile {profile} has no credentials")
    frozen = found.get_frozen_credentials()
    resolved = LabCredentials(frozen.access_key, frozen.secret_key, frozen.token)
    return resolved, session.region_name or configured_region()


def _session(profile: str | None, credentials: LabCredentials, loader: Loader | None) -> Any:
    import boto3

    if loader is None and boto3.DEFAULT_SESSION is not None:
        loader = boto3.DEFAULT_SESSION._session.get_component("data_loader")
    if profile is not None:
        return boto3.session.Session(
            profile_name=profile, botocore_session=botocore_session(loader)
        )
    # A session of its own: the default session is shared and not thread-safe, and it
    # must never pick up the learner's real AWS credentials.
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        botocore_session=botocore_session(loader),
    )


def _profile_of(credentials: LabCredentials) -> str | None:
    """In AWS mode, the AWS profile acting as the principal with ``credentials``."""
    mode = AwsMode.from_env()
    principal = next((n for n, c in PRINCIPALS.items() if c == credentials), None)
    return None if mode is None or principal is None else mode.profile_for(principal)


class MotoApp:
    """moto's WSGI app answering as one AWS account of its own, until :meth:`close`.

    moto keeps its state per process, partitioned by account. Each MotoApp claims an
    account no other running one holds (the first, :data:`ACCOUNT_ID`, when it runs
    alone) and sends every request to moto as that account (moto's ``x-moto-account-id``
    header), so two labs in one process never see each other's keys or secrets. Closing
    it forgets that account's state, so a lab started later begins empty.
    """

    def __init__(self) -> None:
        # Imported here: agents and the other child processes use this module's clients and
        # credentials, and must not pay for loading moto.
        from moto.server import create_backend_app

        self._moto = _dispatcher()(create_backend_app)
        self.account_id = _accounts.claim()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_id
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target is not None and not _json_body_as_aws_reads_it(environ, target):
            return _not_json(start_response)
        return self._moto(environ, start_response)

    def close(self) -> None:
        _accounts.release(self.account_id)


# KMS operations that take "the key ID or key ARN", for which moto 5.2.5 looks the KeyId up
# as given: a key ARN crashes it (KeyError, an HTML 500). The lab hands it the key ID.
KMS_BY_KEY_ID_ONLY = frozenset(
    f"TrentService.{operation}"
    for operation in ("EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion")
)


def _json_body_as_aws_reads_it(environ: dict, target: str) -> bool:
    """Whether a JSON-protocol request's body is a JSON object (or empty), as AWS requires;
    moto answers any other with an HTML 500. A key ARN in ``KeyId`` becomes the key ID for
    :data:`KMS_BY_KEY_ID_ONLY`. The body is put back for moto to read."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        params = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):  # invalid UTF-8, nesting deeper than Python's stack
        params = None
    key = params.get("KeyId") if isinstance(params, dict) else None
    if target in KMS_BY_KEY_ID_ONLY and isinstance(key, str) and key.startswith("arn:"):
        params["KeyId"] = key.split(":key/", 1)[-1]
        body = json.dumps(params).encode()
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return isinstance(params, dict)


def _not_json(start_response: Callable) -> list[bytes]:
    """AWS's answer to a JSON-protocol body it cannot read."""
    message = "The request body is not a JSON object."
    body = json.dumps({"__type": "SerializationException", "message": message}).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(body))),
            ("x-amzn-ErrorType", "SerializationException"),
        ],
    )
    return [body]


@functools.cache
def _dispatcher() -> type:
    """moto's dispatcher, remembering which service a host name is for.

    To find it, moto's ``DomainDispatcherApplication`` lists its own package directory
    (about 180 ``stat`` calls) and then tries its URL patterns, on every request: 40 % of
    the time it takes to answer one. The answer depends on the host name alone (service
    and region, from the request's signature), so it is remembered for the last few.
    """
    from moto.server import DomainDispatcherApplication

    class Dispatcher(DomainDispatcherApplication):
        def __init__(self, create_app: Callable) -> None:
            super().__init__(create_app)
            # Bounded: the region in a request's signature is the caller's to choose.
            self._backend_for = functools.lru_cache(maxsize=64)(super().get_backend_for_host)

        def get_backend_for_host(self, host: str | None) -> Any:
            return self._backend_for(host)

    return Dispatcher


class _Accounts:
    """The moto accounts the running MotoApps of this process hold.

    The one piece of process-wide state in the lab, and only because moto's own state is
    process-wide: it hands each MotoApp an account of its own.
    """

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def claim(self) -> str:
        with self._lock:
            number = int(ACCOUNT_ID)
            while str(number) in self._held:
                number += 1
            self._held.add(str(number))
            return str(number)

    def release(self, account_id: str) -> None:
        from moto.core.base_backend import BackendDict, backend_lock

        with self._lock:
            if account_id not in self._held:
                return
            with backend_lock:  # what moto's own reset holds; BackendDict lists its services
                for backends in BackendDict._instances:
                    if account_id in backends:
                        backends[account_id].reset()
                        del backends[account_id]
            self._held.discard(account_id)


_accounts = _Accounts()


class MotoServer:
    """moto on a free loopback port as one account of its own, from :meth:`start` to
    :meth:`stop`."""

    def __init__(self) -> None:
        self._app: MotoApp | None = None
        self._server: BackgroundServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("MotoServer is not running: call start() first")
        return self._server.url

    @property
    def account_id(self) -> str:
        if self._app is None:
            raise RuntimeError("MotoServer is not running: call start() first")
        return self._app.account_id

    def start(self, deadline_s: float = 10.0) -> MotoServer:
        if self._server is not None:
            return self
        from .serving import BackgroundServer, aws_refusal

        self._app = MotoApp()
        self._server = BackgroundServer("moto", refusal=aws_refusal).start(self._app)
        try:
            # The first request also loads moto's backends, which takes a moment.
            self._server.wait_ready("/moto-api/data.json", deadline_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, then forget this account's state: nothing outlives the server."""
        if self._server is None:
            return
        self._server.stop()
        self._app.close()
        self._server = self._app = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


CODE_BUCKET = "fitness-runtime-code"  # followed by the account id: see code_bucket


def code_bucket(s3: BaseClient, account: str) -> str:
    """The account's bucket for agent runtime code zips, made if it is missing. S3's
    bucket names are global, so the name carries the account id; outside us-east-1,
    S3 wants to be told the client's Region."""
    name = f"{CODE_BUCKET}-{account}"
    region = s3.meta.region_name
    where = {} if region == "us-east-1" else {"LocationConstraint": region}
    # Already there: made by an earlier notebook that did not get to its clean-up.
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": where} if where else {}))
    return name


def wait_for_runtime(control: BaseClient, runtime_id: str, timeout_s: float = 120.0) -> dict:
    """``GetAgentRuntime`` until the runtime has settled: READY, or an error saying why
    not. boto3 has no waiter for agent runtimes; this is the loop one writes instead."""
    deadline = time.monotonic() + timeout_s
    while True:
        runtime = control.get_agent_runtime(agentRuntimeId=runtime_id)
        if runtime["status"] == "READY":
            return runtime
        if runtime["status"].endswith("FAILED"):
            raise RuntimeError(f"{runtime_id} {runtime['status']}: {runtime.get('failureReason')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{runtime_id} still {runtime['status']} after {timeout_s:.0f} s")
        time.sleep(0.1)


class NotYet(OneLine):
    """What AWS had still not made true when the wait ran out, said in one line."""


def until(
    attempt: Callable[[], T],
    done: Callable[[T], bool],
    *,
    what: str,
    timeout_s: float = 300.0,
    every_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()``, again every ``every_s`` until ``done`` accepts its result: that result.

    For what AWS makes true eventually, not at once: a KMS key's new state takes seconds, at
    times minutes, to reach all of KMS (the KMS Developer Guide, "AWS KMS eventual
    consistency"). The lab is consistent at once, so there the first attempt is the answer
    and nothing is printed; on AWS one line says that it waits. :class:`NotYet` if
    ``timeout_s`` runs out, with the last result.
    """
    result = attempt()
    if done(result):
        return result
    print(f"Waiting up to {timeout_s:.0f} s for {what}: AWS applies the change eventually…")
    for _ in range(max(1, round(timeout_s / every_s))):
        sleep(every_s)
        result = attempt()
        if done(result):
            return result
    raise NotYet(f"Gave up waiting for {what} after {timeout_s:.0f} s; the last answer: {result}")
