"""The AgentCore part of the lab: moto (KMS, Secrets Manager) plus the Identity emulator,
wired to the lab's identity provider."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from urllib.parse import quote

from botocore.loaders import Loader

from .. import aws, processes
from ..cast import audiences
from ..cast.agent_process import AgentProcess
from ..cast.deployable import code_zip
from ..clock import LabClock
from ..horizon import Horizon
from ..idp import seed
from ..idp.models import Client, Store
from ..serving import stop_together
from . import principals
from .emulator import AgentCoreIdentity
from .inbound import TrustedIssuer
from .runtime import AgentRuntime

# The OAuth client AgentCore uses at the lab IdP to fetch outbound tokens for agents.
OUTBOUND_CLIENT_ID = "agentcore-outbound"
OUTBOUND_SCOPE = "openid offline_access activities:read"
INBOUND_AUDIENCES = (audiences.AGENT,)  # what the agent's JWT authorizer accepts
CODE_BUCKET = "fitness-runtime-code"  # where the lab's own runtimes keep their code zips


class AgentCorePart:
    def __init__(
        self,
        *,
        clock: LabClock,
        idp_store: Store,
        discovery_url: str,
        state_dir: Path | None = None,
        ports: tuple[int, int] = (0, 0),
        loader: Loader | None = None,
        horizon: Horizon | None = None,
    ) -> None:
        self._owns_state = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else processes.state_dir("agentcore")
        self.clock, self.discovery_url, self.idp_store = clock, discovery_url, idp_store
        self.loader, self.horizon = loader, horizon or Horizon()
        self.moto = aws.MotoServer().start()
        self.identity = self._emulator_preferring(ports)
        idp_store.add_client(
            Client(
                OUTBOUND_CLIENT_ID,
                seed.new_secret(),
                "AgentCore Identity (outbound)",
                self.horizon.both(self.identity.data.callback_url),
                ["authorization_code", "refresh_token", "client_credentials"],
                OUTBOUND_SCOPE,
            )
        )
        # The MCP server is a resource server of the IdP like the agent and the API.
        idp_store.add_client(seed.resource_server_client(seed.MCP_CLIENT_ID, "Fitness MCP server"))
        self.identity.start()
        self.agents: list[AgentProcess] = []
        self.mcp_url: str | None = None  # the MCP runtime's, once create_mcp_runtime made it

    def _emulator_preferring(self, ports: tuple[int, int]) -> AgentCoreIdentity:
        """The emulator on ``ports`` (control, data plane) when they are free.

        start_lab passes the previous lab's: the bedrock-agentcore SDK reads its endpoint
        variables once, at import, so a re-run start cell that moved the endpoints would
        leave an imported SDK talking to a stopped server.
        """
        try:
            return self._emulator(ports)
        except OSError:  # taken by something else meanwhile: any free ports will do
            return self._emulator()

    @property
    def account_id(self) -> str:
        """The AWS account this lab's moto and emulator answer as (see aws.MotoApp)."""
        return self.moto.account_id

    @property
    def ports(self) -> tuple[int, int]:
        return self.identity.control_server.port, self.identity.data_server.port

    def _emulator(self, ports: tuple[int, int] = (0, 0)) -> AgentCoreIdentity:
        return AgentCoreIdentity(
            state_dir=self.state_dir,
            clock=self.clock,
            moto_url=self.moto.url,
            trusted=[TrustedIssuer(self.discovery_url, INBOUND_AUDIENCES)],
            principals=principals.for_account(self.account_id),
            account_id=self.account_id,
            ports=ports,
            loader=self.loader,
            horizon=self.horizon,
        )

    def deploy_coach(
        self,
        *,
        activities_url: str,
        provider_name: str | None = None,
        return_url: str | None = None,
        authorizer: str = "JWT",
        mcp_arn: str | None = None,
        obo_provider_name: str | None = None,
    ) -> str:
        """Deploy the coach agent as runtime ``fitness_coach``; returns its ARN.

        Like AgentCore Runtime, the agent runs as its own process with its execution
        role's credentials, and its workload identity is ``fitness-agent``. With
        ``provider_name`` it reads the fitness API itself. With ``mcp_arn`` and
        ``obo_provider_name`` it calls the MCP runtime through its front door, with a
        token that AgentCore Identity exchanges on the user's behalf at that provider.
        """
        env = {
            "COACH_ACTIVITIES_URL": activities_url,
            "COACH_PROVIDER_NAME": provider_name,
            "COACH_MCP_URL": mcp_arn and self.invocation_url(mcp_arn),
            "COACH_OBO_PROVIDER_NAME": obo_provider_name,
        }
        agent = self._start("fitness_coach", "coach", aws.AGENT_RUNTIME, "/ping", env)
        return self.identity.runtime.host(
            AgentRuntime("fitness_coach", "fitness-agent", agent.url, authorizer, return_url)
        )

    def deploy_mcp(self, *, provider_name: str, activities_url: str) -> str:
        """Deploy the fitness MCP server as runtime ``fitness_mcp``; returns its ARN.

        A runtime with server protocol MCP, workload identity ``fitness-mcp`` and a JWT
        authorizer for audience fitness-mcp only. Like the coach it holds no client
        secret: it reads the fitness API with tokens AgentCore Identity exchanges at
        ``provider_name``, signed with the MCP runtime role's credentials.
        """
        env = {"MCP_PROVIDER_NAME": provider_name, "MCP_ACTIVITIES_URL": activities_url}
        server = self._start("fitness_mcp", "mcp", aws.MCP_RUNTIME, audiences.MCP_PING_PATH, env)
        return self.identity.runtime.host(
            AgentRuntime(
                "fitness_mcp",
                audiences.MCP,  # the workload identity is named after the audience it serves
                server.url,
                "JWT",
                protocol="MCP",
                allowed_audiences=(audiences.MCP,),
            )
        )

    def create_mcp_runtime(self, *, activities_url: str) -> str:
        """The fitness MCP server as a runtime created through the control plane, the way
        notebook 05 creates it; returns its invocation URL, where an MCP client connects.

        It reads the fitness API with tokens AgentCore Identity exchanges at provider
        ``fitness-mcp-obo`` (made here when missing), and admits JWTs for fitness-mcp only.
        """
        control = aws.client(
            "bedrock-agentcore-control", self.identity.control_server.url, aws.OPERATOR, self.loader
        )
        s3 = aws.client("s3", self.moto.url, aws.OPERATOR, self.loader)
        provider = f"{seed.MCP_CLIENT_ID}-obo"
        if provider not in {
            p["name"] for p in control.list_oauth2_credential_providers()["credentialProviders"]
        }:
            control.create_oauth2_credential_provider(
                name=provider,
                credentialProviderVendor="CustomOauth2",
                oauth2ProviderConfigInput={
                    "customOauth2ProviderConfig": {
                        "oauthDiscovery": {"discoveryUrl": self.discovery_url},
                        "clientId": seed.MCP_CLIENT_ID,
                        "clientSecret": self.idp_store.clients[seed.MCP_CLIENT_ID].client_secret,
                    }
                },
            )
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=CODE_BUCKET)
        s3.put_object(Bucket=CODE_BUCKET, Key="mcp.zip", Body=code_zip("mcp"))
        created = control.create_agent_runtime(
            agentRuntimeName="fitness_mcp",
            agentRuntimeArtifact={
                "codeConfiguration": {
                    "code": {"s3": {"bucket": CODE_BUCKET, "prefix": "mcp.zip"}},
                    "runtime": "PYTHON_3_11",
                    "entryPoint": ["main.py"],
                }
            },
            roleArn=f"arn:aws:iam::{self.account_id}:role/fitness-mcp-runtime",
            protocolConfiguration={"serverProtocol": "MCP"},
            authorizerConfiguration={
                "customJWTAuthorizer": {
                    "discoveryUrl": self.discovery_url,
                    "allowedAudience": [audiences.MCP],
                }
            },
            requestHeaderConfiguration={"requestHeaderAllowlist": ["Authorization"]},
            environmentVariables={
                "MCP_PROVIDER_NAME": provider,
                "MCP_ACTIVITIES_URL": activities_url,
            },
        )
        aws.wait_for_runtime(control, created["agentRuntimeId"])
        self.mcp_url = self.invocation_url(created["agentRuntimeArn"])
        return self.mcp_url

    def invocation_url(self, arn: str) -> str:
        """Where a bearer-token caller invokes a runtime: InvokeAgentRuntime's URI."""
        return f"{self.identity.data_server.url}/runtimes/{quote(arn, safe='')}/invocations"

    def _start(
        self,
        name: str,
        kind: str,
        creds: aws.LabCredentials,
        ready_path: str,
        env: dict[str, str | None],
    ) -> AgentProcess:
        configured = {key: value for key, value in env.items() if value}  # unset: not deployed
        process = AgentProcess(
            name, kind, {**self._runtime_env(creds), **configured}, self.state_dir
        )
        self.agents.append(process)
        process.wait_ready(ready_path, deadline_s=30)
        return process

    def _runtime_env(self, creds: aws.LabCredentials) -> dict[str, str]:
        dp = self.identity.data_server.url
        return {
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_REGION": aws.REGION,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": dp,
            "BEDROCK_AGENTCORE_DP_ENDPOINT": dp,
        }

    def restart(self) -> None:
        """Stop and start the emulator over the same state and ports, as after a reboot."""
        ports, hosted = self.ports, list(self.identity.runtime.runtimes.values())
        created = self.identity.runtimes.hand_over()
        self.identity.stop()
        self.identity = self._emulator(ports)
        for runtime in hosted:  # deployed agents keep running; the front door must know them
            self.identity.runtime.host(runtime)
        self.identity.runtimes.adopt(created)
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
            # Where a runtime's code zip goes for direct code deployment.
            "AWS_ENDPOINT_URL_S3": self.moto.url,
            # Who the credentials belong to: GetCallerIdentity names the account.
            "AWS_ENDPOINT_URL_STS": self.moto.url,
            "AWS_ACCESS_KEY_ID": aws.OPERATOR.access_key_id,
            "AWS_SECRET_ACCESS_KEY": aws.OPERATOR.secret_access_key,
            "AWS_REGION": aws.REGION,
            "AWS_DEFAULT_REGION": aws.REGION,
            **({"LAB_MCP_URL": self.mcp_url} if self.mcp_url else {}),
        }

    def stop(self) -> None:
        stop_together([*self.agents, self.identity])
        self.moto.stop()  # last: the emulator's calls to KMS may still be finishing
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
