"""AgentCore Identity, assembled: two model-driven services sharing one state.

The control plane (``bedrock-agentcore-control``) and the data plane
(``bedrock-agentcore``) are separate endpoints, as in AWS, served by separate servers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from botocore.client import BaseClient
from botocore.loaders import Loader

from .. import aws
from ..clock import LabClock
from ..horizon import Horizon
from ..serving import BackgroundServer, aws_refusal, stop_together
from . import resource_metadata
from .client_assertions import AssertionSigner
from .control_plane import ControlPlane
from .data_plane import CALLBACK_PATH, DataPlane
from .directory import Directory
from .inbound import InboundAuthorizer, TrustedIssuer
from .managed_secrets import ManagedSecrets
from .runtime import RuntimeFrontDoor
from .runtimes import AgentRuntimes, FetchCode
from .service import AwsService
from .sigv4 import Principal
from .vault import TokenVault
from .workload_tokens import WorkloadTokens


class AgentCoreIdentity:
    def __init__(
        self,
        *,
        state_dir: Path,
        clock: LabClock,
        moto_url: str,
        trusted: list[TrustedIssuer],
        principals: list[Principal],
        account_id: str = aws.ACCOUNT_ID,
        ports: tuple[int, int] = (0, 0),
        loader: Loader | None = None,
        horizon: Horizon | None = None,
    ) -> None:
        self.control_server = BackgroundServer("agentcore-control", ports[0], aws_refusal)
        try:
            self.data_server = BackgroundServer("agentcore-data", ports[1], aws_refusal)
        except OSError:  # the caller may retry on other ports: free this one now
            self.control_server.stop()
            raise
        callback_url = self.data_server.url + CALLBACK_PATH
        # The service's own identity towards KMS and Secrets Manager.
        self.directory = Directory(state_dir / "agentcore-directory.sqlite3", clock, account_id)
        kms = aws.client("kms", moto_url, aws.OPERATOR, loader)
        self.vault = TokenVault(
            state_dir / "token-vault.sqlite3", clock, kms=kms, account_id=account_id
        )
        signer = AssertionSigner(kms)
        self.secrets = ManagedSecrets(aws.client("secretsmanager", moto_url, aws.OPERATOR, loader))
        by_key = {p.access_key: p for p in principals}
        self.control = ControlPlane(self.directory, self.secrets, self.vault, callback_url, signer)
        tokens = WorkloadTokens(
            self.data_server.url, clock, state_dir / "wat-signing-key.pem", account_id
        )
        inbound = InboundAuthorizer(trusted, clock)
        self.runtime = RuntimeFrontDoor(tokens, inbound, self.data_server.url, account_id)
        self.data = DataPlane(
            directory=self.directory,
            vault=self.vault,
            secrets=self.secrets,
            tokens=tokens,
            inbound=inbound,
            clock=clock,
            callback_url=callback_url,
            signer=signer,
            horizon=horizon,
        )
        self.runtimes = AgentRuntimes(
            directory=self.directory,
            front_door=self.runtime,
            fetch_code=_s3_reader(lambda: aws.client("s3", moto_url, aws.OPERATOR, loader)),
            roles={p.arn: _credentials(p) for p in principals},
            base_env={
                "AWS_REGION": aws.REGION,
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": self.data_server.url,
                "BEDROCK_AGENTCORE_DP_ENDPOINT": self.data_server.url,
                "DOCKER_CONTAINER": "1",  # the SDK must never fall back to local-dev mode
            },
            state_dir=state_dir,
            clock=clock.now,
        )
        self.control_service = AwsService(
            "bedrock-agentcore-control",
            {**self.control.handlers(), **self.runtimes.handlers()},
            by_key,
            aws.REGION,
            loader=loader,
        )
        self.data_service = AwsService(
            "bedrock-agentcore",
            {**self.data.handlers(), **self.runtime.handlers()},
            by_key,
            aws.REGION,
            custom_auth={"InvokeAgentRuntime": self.runtime.bearer},
            extra_routes={
                CALLBACK_PATH: self.data.callback,
                resource_metadata.PREFIX + "/": self.runtime.protected_resource,
            },
            loader=loader,
        )

    def start(self) -> None:
        self.control_server.start(self.control_service)
        self.data_server.start(self.data_service)
        for server in (self.control_server, self.data_server):
            server.wait_ready()

    def stop(self) -> None:
        stop_together([self.control_server, self.data_server, self.runtimes])
        self.directory.close()
        self.vault.close()


def _s3_reader(make_client: Callable[[], BaseClient]) -> FetchCode:
    """Reads a runtime's code zip from S3, as the service does with its own identity.

    The client is made at the first read: S3's model is large (0.3 s to load), and most
    labs never create a runtime."""
    made: list[BaseClient] = []

    def read(location: dict) -> bytes:
        if not made:
            made.append(make_client())
        extra = {"VersionId": location["versionId"]} if "versionId" in location else {}
        answer = made[0].get_object(Bucket=location["bucket"], Key=location["prefix"], **extra)
        return answer["Body"].read()

    return read


def _credentials(role: Principal) -> dict[str, str]:
    """What a runtime process of ``role`` gets in its environment."""
    return {"AWS_ACCESS_KEY_ID": role.access_key, "AWS_SECRET_ACCESS_KEY": role.secret_key}
