"""The AgentCore Runtime front door: ``InvokeAgentRuntime`` for agents the lab hosts.

Inbound, a runtime accepts one kind of caller:
- JWT: ``Authorization: Bearer <user token>`` checked by the discovery-URL authorizer;
  the user is the token's ``iss`` + ``sub``;
- IAM: a SigV4-signed call; the ``X-Amzn-Bedrock-AgentCore-Runtime-User-Id`` header is
  honoured only when the signer may ``InvokeAgentRuntimeForUser`` — a trusted backend
  that took the id from *its own* authenticated caller, never from user input.
Either way the front door mints the WAT for (runtime's workload, user) and forwards the
invocation to the real ``BedrockAgentCoreApp`` with the ``WorkloadAccessToken`` header.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import requests
from werkzeug.wrappers import Request

from .. import aws
from .errors import AwsError
from .inbound import InboundAuthorizer
from .protocol import Call, Handler
from .sigv4 import Principal
from .workload_tokens import WorkloadTokens, user_from_id, user_from_jwt

FOR_USER = "bedrock-agentcore:InvokeAgentRuntimeForUser"


@dataclass(frozen=True)
class AgentRuntime:
    name: str
    workload: str  # its workload identity
    url: str  # where the BedrockAgentCoreApp listens
    authorizer: Literal["JWT", "IAM"]
    oauth2_return_url: str | None = None  # handed to the SDK for USER_FEDERATION consent

    @property
    def arn(self) -> str:
        return f"arn:aws:bedrock-agentcore:{aws.REGION}:{aws.ACCOUNT_ID}:runtime/{self.name}"


@dataclass(frozen=True)
class BearerCaller:
    token: str


class RuntimeFrontDoor:
    def __init__(self, tokens: WorkloadTokens, inbound: InboundAuthorizer) -> None:
        self.tokens, self.inbound = tokens, inbound
        self.runtimes: dict[str, AgentRuntime] = {}

    def host(self, runtime: AgentRuntime) -> str:
        self.runtimes[runtime.arn] = runtime
        return runtime.arn

    def handlers(self) -> dict[str, Handler]:
        return {"InvokeAgentRuntime": self.invoke}

    def bearer(self, request: Request) -> BearerCaller:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AwsError(
                "AccessDeniedException",
                "Sign the request (SigV4) or send a bearer "
                "token, as the runtime's authorizer requires.",
            )
        return BearerCaller(token.strip())

    def invoke(self, p: dict, call: Call) -> dict:
        runtime = self.runtimes.get(p["agentRuntimeArn"])
        if runtime is None:
            raise AwsError("ResourceNotFoundException", f"No agent runtime {p['agentRuntimeArn']}.")
        user = self._user(runtime, p, call.principal)
        # A verified JWT caller's token stays with the WAT: the agent may exchange it (OBO).
        user_token = call.principal.token if isinstance(call.principal, BearerCaller) else None
        session_id = p.get("runtimeSessionId") or f"lab-session-{uuid.uuid4()}"
        headers = {
            "Content-Type": p.get("contentType", "application/json"),
            "WorkloadAccessToken": self.tokens.mint(runtime.workload, user, user_token),
            "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session_id,
        }
        if runtime.oauth2_return_url:
            headers["OAuth2CallbackUrl"] = runtime.oauth2_return_url
        if isinstance(call.principal, BearerCaller):  # forwarded, as a header allow-list would
            headers["Authorization"] = f"Bearer {call.principal.token}"
        resp = requests.post(
            f"{runtime.url}/invocations", data=p.get("payload", b""), headers=headers, timeout=60
        )
        return {
            "response": resp.content,
            "statusCode": resp.status_code,
            "contentType": resp.headers.get("Content-Type", "application/json"),
            "runtimeSessionId": session_id,
        }

    def _user(self, runtime: AgentRuntime, p: dict, caller: Principal | BearerCaller) -> str | None:
        if runtime.authorizer == "JWT":
            if not isinstance(caller, BearerCaller):
                raise AwsError(
                    "AccessDeniedException",
                    f"Runtime {runtime.name} authorizes callers by JWT, not SigV4.",
                )
            if "runtimeUserId" in p:  # the user is the token's, never a header's
                raise AwsError(
                    "AccessDeniedException",
                    "A runtime-user-id header is not accepted with a JWT caller.",
                )
            return user_from_jwt(*self.inbound.user_of(caller.token))
        if isinstance(caller, BearerCaller):
            raise AwsError(
                "AccessDeniedException",
                f"Runtime {runtime.name} authorizes callers by IAM (SigV4).",
            )
        if "runtimeUserId" not in p:
            return None
        if not caller.may(FOR_USER):
            raise AwsError(
                "AccessDeniedException",
                f"User: {caller.arn} is not authorized to perform: {FOR_USER}",
            )
        return user_from_id(p["runtimeUserId"])
