"""The AgentCore part of the lab: moto (KMS, Secrets Manager) plus the Identity emulator,
wired to the lab's identity provider."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from botocore.client import BaseClient
from botocore.loaders import Loader

from .. import aws, processes
from ..cast import audiences
from ..cast.deployable import code_zip
from ..clock import LabClock
from ..horizon import Horizon
from ..idp import seed
from ..idp.models import Client, Store
from ..serving import ports_to_bind_later
from . import principals, resource_metadata
from .emulator import AgentCoreIdentity
from .inbound import TrustedIssuer

# The OAuth client AgentCore uses at the lab IdP to fetch outbound tokens for agents.
OUTBOUND_CLIENT_ID = "agentcore-outbound"
MCP_RUNTIME = "fitness_mcp"  # the MCP server's runtime, in notebooks 05 and 10 and serve
OUTBOUND_SCOPE = "openid offline_access activities:read"
INBOUND_AUDIENCES = (audiences.AGENT,)  # what the agent's JWT authorizer accepts
CODE_BUCKET = "fitness-runtime-code"  # where the lab's own runtimes keep their code zips
FRESH_PORT_TRIES = 5


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
        # MCP clients name it by its URL (RFC 8707): registered as an API at the IdP when
        # the course was set up, for the runtime the course names fitness_mcp.
        idp_store.add_resource(self.runtime_url(MCP_RUNTIME), audiences.MCP)
        self.identity.start()
        self.mcp_url: str | None = None  # the MCP runtime's, once create_mcp_runtime made it

    def _emulator_preferring(self, ports: tuple[int, int]) -> AgentCoreIdentity:
        """The emulator on ``ports`` (control, data plane) when they are free.

        start_lab passes the previous lab's: the bedrock-agentcore SDK reads its endpoint
        variables once, at import, so a re-run start cell that moved the endpoints would
        leave an imported SDK talking to a stopped server.
        """
        if ports != (0, 0):
            try:
                return self._emulator(ports)
            except OSError:  # taken by something else meanwhile: fresh ones will do
                pass
        return self._emulator_on_fresh_ports()

    def _emulator_on_fresh_ports(self) -> AgentCoreIdentity:
        """The emulator on two ports below the ephemeral range (ports_to_bind_later).

        A port the OS hands out for port 0 comes from the range it also gives every
        outgoing connection: once this lab stops, any process may take it before a re-run
        start cell binds it again, and the imported SDK would then talk to a stranger.
        """
        for _ in range(FRESH_PORT_TRIES):
            first = ports_to_bind_later(2)
            with contextlib.suppress(OSError):  # bound by another process since
                return self._emulator((first, first + 1))
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
        """The coach agent as runtime ``fitness_coach``, created through the control plane
        as notebooks 03-05 do it; returns its ARN.

        Its workload identity is the one AgentCore makes with the runtime, and
        ``return_url`` becomes that identity's allowed return URL. With ``provider_name``
        the coach reads the fitness API itself; with ``mcp_arn`` and ``obo_provider_name``
        it calls the MCP runtime with a token AgentCore Identity exchanges for the user.
        ``authorizer="IAM"``: no JWT authorizer, callers sign with SigV4.
        """
        env = {
            "COACH_ACTIVITIES_URL": activities_url,
            "COACH_PROVIDER_NAME": provider_name,
            "COACH_MCP_URL": mcp_arn and self.invocation_url(mcp_arn),
            "COACH_OBO_PROVIDER_NAME": obo_provider_name,
            "COACH_RETURN_URL": return_url,
        }
        audience = audiences.AGENT if authorizer == "JWT" else None
        runtime = self._create_runtime(
            "fitness_coach", "coach", "fitness-agent-runtime", env, audience
        )
        self._allow_return(runtime, return_url)
        return runtime["agentRuntimeArn"]

    def _allow_return(self, runtime: dict, return_url: str | None) -> None:
        """Users come back to ``return_url`` after consenting for this runtime's code."""
        if return_url:
            self._control().update_workload_identity(
                name=self.identity.runtime.runtimes[runtime["agentRuntimeArn"]].workload,
                allowedResourceOauth2ReturnUrls=self.horizon.both(return_url),
            )

    def deploy_mcp(
        self,
        *,
        provider_name: str,
        activities_url: str,
        stride_provider_name: str | None = None,
        stride_activities_url: str | None = None,
        return_url: str | None = None,
    ) -> str:
        """The fitness MCP server as runtime ``fitness_mcp`` (server protocol MCP), created
        through the control plane; returns its ARN. Its JWT authorizer admits tokens for
        fitness-mcp only; it reads the fitness API with tokens AgentCore Identity exchanges
        at ``provider_name``, signed with the MCP runtime role's credentials. It asks for
        ``activities:read``, and says so to MCP clients (RFC 9728).

        With ``stride_provider_name`` it also reads Stride, with each user's consent there
        (USER_FEDERATION); ``return_url`` becomes its workload identity's allowed return URL.
        """
        env = {
            "MCP_PROVIDER_NAME": provider_name,
            "MCP_ACTIVITIES_URL": activities_url,
            "MCP_STRIDE_PROVIDER_NAME": stride_provider_name,
            "MCP_STRIDE_ACTIVITIES_URL": stride_activities_url,
            "MCP_RETURN_URL": return_url,
        }
        runtime = self._create_runtime(
            MCP_RUNTIME, "mcp", "fitness-mcp-runtime", env, audiences.MCP, protocol="MCP",
            scopes=["activities:read"],
        )  # fmt: skip
        self._allow_return(runtime, return_url)
        return runtime["agentRuntimeArn"]

    def create_mcp_runtime(self, *, activities_url: str) -> str:
        """The fitness MCP server on its runtime, with its provider ``fitness-mcp-obo`` (made
        here when missing); returns the invocation URL, where an MCP client connects."""
        control, provider = self._control(), f"{seed.MCP_CLIENT_ID}-obo"
        providers = control.list_oauth2_credential_providers()["credentialProviders"]
        if provider not in {p["name"] for p in providers}:
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
        arn = self.deploy_mcp(provider_name=provider, activities_url=activities_url)
        self.mcp_url = self.invocation_url(arn)
        return self.mcp_url

    def invocation_url(self, arn: str) -> str:
        """Where a bearer-token caller invokes a runtime: InvokeAgentRuntime's URI."""
        return resource_metadata.resource_url(self.identity.data_server.url, arn)

    def runtime_url(self, name: str) -> str:
        """The invocation URL the runtime called ``name`` has, or will have once created:
        the lab derives runtime ids from the account and the name."""
        runtime_id = self.identity.runtimes.id_for(name)
        return self.invocation_url(self.identity.runtime.arn(runtime_id))

    def _control(self) -> BaseClient:
        return aws.client(
            "bedrock-agentcore-control", self.identity.control_server.url, aws.OPERATOR, self.loader
        )

    def _create_runtime(
        self,
        name: str,
        kind: str,
        role: str,
        env: dict[str, str | None],
        audience: str | None,
        protocol: str = "HTTP",
        scopes: list[str] | None = None,
    ) -> dict:
        """Upload ``kind``'s code, CreateAgentRuntime, wait until READY: what a learner does."""
        s3 = aws.client("s3", self.moto.url, aws.OPERATOR, self.loader)
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=CODE_BUCKET)
        s3.put_object(Bucket=CODE_BUCKET, Key=f"{kind}.zip", Body=code_zip(kind))
        jwt = {"discoveryUrl": self.discovery_url, "allowedAudience": [audience]}
        if scopes:
            jwt["allowedScopes"] = scopes
        control = self._control()
        created = control.create_agent_runtime(
            agentRuntimeName=name,
            agentRuntimeArtifact={
                "codeConfiguration": {
                    "code": {"s3": {"bucket": CODE_BUCKET, "prefix": f"{kind}.zip"}},
                    "runtime": "PYTHON_3_11",
                    "entryPoint": ["main.py"],
                }
            },
            roleArn=f"arn:aws:iam::{self.account_id}:role/{role}",
            protocolConfiguration={"serverProtocol": protocol},
            # Behind a JWT authorizer the code gets the caller's token (to exchange it).
            **(
                {
                    "authorizerConfiguration": {"customJWTAuthorizer": jwt},
                    "requestHeaderConfiguration": {"requestHeaderAllowlist": ["Authorization"]},
                }
                if audience
                else {}
            ),
            environmentVariables={key: value for key, value in env.items() if value},
        )
        return aws.wait_for_runtime(control, created["agentRuntimeId"])

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
        self.identity.stop()
        self.moto.stop()  # last: the emulator's calls to KMS may still be finishing
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
