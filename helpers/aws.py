"""AWS for the lab: moto's server on 127.0.0.1, lab credentials, and clients bound to it.

moto answers the real AWS wire protocols, so learners use the real boto3 clients. moto
keeps its state in process memory: every MotoServer in one Python process shares the same
accounts and keys, and that state outlives ``stop()``; a server started again finds the
KMS keys it had.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from .serving import LOOPBACK, wait_until_ok

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: every ARN it mints carries it


@dataclass(frozen=True)
class LabCredentials:
    """An access key pair in the real format; moto accepts any, none of these is real."""

    access_key_id: str
    secret_access_key: str


AGENT_RUNTIME = LabCredentials("AKIALABAGENTRUNTIME1", "labAgentRuntimeSecretNotARealAwsKey00001")
OPERATOR = LabCredentials("AKIALABOPERATOR00001", "labOperatorSecretNotARealAwsKey000000001")
MCP_RUNTIME = LabCredentials("AKIALABMCPRUNTIME001", "labMcpRuntimeSecretNotARealAwsKey0000001")
FRONTEND_APP = LabCredentials("AKIALABFRONTENDAPP01", "labFrontendAppSecretNotARealAwsKey00001")
UNTRUSTED_APP = LabCredentials("AKIALABPARTNERAPP001", "labPartnerAppSecretNotARealAwsKey000001")

# A local server either answers at once or is down: fail fast instead of retrying with
# back-off, so a stopped lab shows up as an error rather than as a hung cell.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=10
)


def client(
    service: str, url: str, credentials: LabCredentials = AGENT_RUNTIME, **kw: Any
) -> BaseClient:
    """A boto3 client for ``service`` that talks to the lab's moto server at ``url``."""
    kw.setdefault("region_name", REGION)
    kw.setdefault("config", _CLIENT_CONFIG)
    # A session of its own: the default session is shared and not thread-safe, and it
    # must never pick up the learner's real AWS credentials.
    session = boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
    )
    return session.client(service, endpoint_url=url, **kw)


class MotoServer:
    """moto's threaded server on a free loopback port, from :meth:`start` to :meth:`stop`."""

    def __init__(self) -> None:
        # Imported here: agents and the other child processes use this module's clients and
        # credentials, and must not pay for loading moto.
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("MotoServer is not running: call start() first")
        return self._url

    def start(self, deadline_s: float = 10.0) -> MotoServer:
        if self._url is not None:
            return self
        # moto serves through werkzeug's request handler, which logs every request at INFO;
        # errors still reach the log at ERROR.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()  # returns once the socket is bound
        host, port = self._server.get_host_and_port()  # port=0: the port the OS picked
        self._url = f"http://{host}:{port}"
        try:
            # The first request also loads moto's backends, which takes a moment.
            wait_until_ok(f"{self._url}/moto-api/data.json", "moto", deadline_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; werkzeug closes the socket as its loop ends."""
        if self._url is None:
            return
        self._server.stop()
        self._url = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
