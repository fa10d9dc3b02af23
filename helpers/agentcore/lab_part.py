"""The AgentCore part of the lab: moto (KMS, Secrets Manager) plus the Identity emulator,
wired to the lab's identity provider."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .. import aws
from ..clock import LabClock
from ..idp.models import Client, Store
from ..idp.seed import new_secret
from . import principals
from .emulator import AgentCoreIdentity
from .inbound import TrustedIssuer

# The OAuth client AgentCore uses at the lab IdP to fetch outbound tokens for agents.
OUTBOUND_CLIENT_ID = "agentcore-outbound"
OUTBOUND_SCOPE = "openid offline_access activities:read"
INBOUND_AUDIENCES = ("fitness-agent",)  # what the agent's JWT authorizer accepts


class AgentCorePart:
    def __init__(
        self,
        *,
        clock: LabClock,
        idp_store: Store,
        discovery_url: str,
        state_dir: Path | None = None,
    ) -> None:
        self._owns_state = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="agent-identity-lab-"))
        self.clock, self.discovery_url = clock, discovery_url
        self.moto = aws.MotoServer().start()
        self.identity = self._emulator()
        idp_store.add_client(
            Client(
                OUTBOUND_CLIENT_ID,
                new_secret(),
                "AgentCore Identity (outbound)",
                [self.identity.data.callback_url],
                ["authorization_code", "refresh_token", "client_credentials"],
                OUTBOUND_SCOPE,
            )
        )
        self.identity.start()

    def _emulator(self, ports: tuple[int, int] = (0, 0)) -> AgentCoreIdentity:
        return AgentCoreIdentity(
            state_dir=self.state_dir,
            clock=self.clock,
            moto_url=self.moto.url,
            trusted=[TrustedIssuer(self.discovery_url, INBOUND_AUDIENCES)],
            principals=principals.ALL,
            ports=ports,
        )

    def restart(self) -> None:
        """Stop and start the emulator over the same state and ports, as after a reboot."""
        ports = (self.identity.control_server.port, self.identity.data_server.port)
        self.identity.stop()
        self.identity = self._emulator(ports)
        self.identity.start()

    def frontend_env(self) -> dict[str, str]:
        """What the frontend's deployment adds: the data plane and its own credentials."""
        return {
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": self.identity.data_server.url,
            "AWS_ACCESS_KEY_ID": aws.FRONTEND_APP.access_key_id,
            "AWS_SECRET_ACCESS_KEY": aws.FRONTEND_APP.secret_access_key,
            "AWS_REGION": aws.REGION,
        }

    def env(self) -> dict[str, str]:
        """The standard variables boto3 and the bedrock-agentcore SDK read."""
        cp, dp = self.identity.control_server.url, self.identity.data_server.url
        return {
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": dp,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": cp,
            "BEDROCK_AGENTCORE_DP_ENDPOINT": dp,  # read by the SDK at import time
            "BEDROCK_AGENTCORE_CP_ENDPOINT": cp,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.moto.url,
            "AWS_ENDPOINT_URL_KMS": self.moto.url,
            "AWS_ACCESS_KEY_ID": aws.OPERATOR.access_key_id,
            "AWS_SECRET_ACCESS_KEY": aws.OPERATOR.secret_access_key,
            "AWS_REGION": aws.REGION,
            "AWS_DEFAULT_REGION": aws.REGION,
        }

    def stop(self) -> None:
        self.identity.stop()
        self.moto.stop()
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
