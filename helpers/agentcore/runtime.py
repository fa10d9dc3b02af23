"""The AgentCore Runtime front door: ``InvokeAgentRuntime`` for agents the lab hosts.

Inbound, a runtime accepts one kind of caller:
- JWT: ``Authorization: Bearer <user token>`` checked by the discovery-URL authorizer;
  the user is the token's ``iss`` + ``sub``;
- IAM: a SigV4-signed call; the ``X-Amzn-Bedrock-AgentCore-Runtime-User-Id`` header is
  honoured only when the signer may ``InvokeAgentRuntimeForUser`` — a trusted backend
  that took the id from *its own* authenticated caller, never from user input.
Either way the front door mints the WAT for (runtime's workload, user) and forwards the
invocation to the container with the ``WorkloadAccessToken`` header: an ``HTTP`` runtime's
``/invocations`` (a real ``BedrockAgentCoreApp``), an ``MCP`` runtime's ``/mcp`` (an MCP
server), as AgentCore Runtime does per server protocol. What an MCP client needs travels
both ways: the body as is, and the modeled ``Accept`` and ``Mcp-*`` headers.

An MCP runtime behind a JWT authorizer also speaks MCP authorization (2026-07-28): no token
or a bad one is 401 with a challenge that points at the runtime's Protected Resource
Metadata (resource_metadata.py), too few scopes is 403 ``insufficient_scope``. An HTTP
runtime answers as the service's model says: 403 AccessDeniedException.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Literal

import requests
from werkzeug.wrappers import Request, Response

from .. import aws
from ..bearer import bearer_challenge, bearer_token, status_for
from ..jwt_check import TokenRejected
from . import protocol, request_headers, resource_metadata
from .custom_claims import ClaimRule
from .errors import AwsError
from .inbound import InboundAuthorizer, TrustedIssuer
from .protocol import Call, Handler
from .sigv4 import Principal
from .workload_tokens import WorkloadTokens, user_from_id, user_from_jwt

FOR_USER = "bedrock-agentcore:InvokeAgentRuntimeForUser"
PATHS = {"HTTP": "/invocations", "MCP": "/mcp"}  # where each server protocol listens
# Modeled header members of InvokeAgentRuntime, forwarded to the container as sent...
FORWARDED = {
    "accept": "Accept",
    "mcpSessionId": "Mcp-Session-Id",
    "mcpProtocolVersion": "Mcp-Protocol-Version",
    "mcpMethod": "Mcp-Method",
    "mcpName": "Mcp-Name",
}
# ...and those the container's answer carries back to the caller.
RETURNED = {"mcpSessionId": "Mcp-Session-Id", "mcpProtocolVersion": "Mcp-Protocol-Version"}


@dataclass(frozen=True)
class AgentRuntime:
    name: str
    workload: str  # its workload identity
    url: str  # where the container listens
    authorizer: Literal["JWT", "IAM"]
    protocol: Literal["HTTP", "MCP"] = "HTTP"
    # Its customJWTAuthorizer: the discovery URL and audiences (None: the issuers and
    # audiences the emulator trusts), and the clients and scopes it admits (empty: any).
    issuer: TrustedIssuer | None = None
    allowed_clients: tuple[str, ...] = ()
    allowed_scopes: tuple[str, ...] = ()
    advertised_scopes: tuple[str, ...] = ()  # allowedScopes as advertisedScopeMapping names them
    custom_claims: tuple[ClaimRule, ...] = ()  # every one must match (customClaims)
    # The caller's headers that reach the code, lower-cased (requestHeaderAllowlist).
    passed_headers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BearerCaller:
    token: str | None  # None: the request carried no credential at all


class RuntimeFrontDoor:
    def __init__(
        self,
        tokens: WorkloadTokens,
        inbound: InboundAuthorizer,
        public_url: str,
        account_id: str = aws.ACCOUNT_ID,
    ) -> None:
        self.tokens, self.inbound, self.account_id = tokens, inbound, account_id
        self.public_url = public_url  # where callers reach the data plane
        self.runtimes: dict[str, AgentRuntime] = {}
        self._authorizers: dict[str, InboundAuthorizer] = {}

    def arn(self, runtime_id: str, account_id: str | None = None) -> str:
        account = account_id or self.account_id
        return f"arn:aws:bedrock-agentcore:{aws.REGION}:{account}:runtime/{runtime_id}"

    def host(self, runtime: AgentRuntime) -> str:
        """Serve ``runtime`` behind this front door; returns its ARN."""
        arn = self.arn(runtime.name)
        self.runtimes[arn] = runtime
        self._authorizers[arn] = self._authorizer_for(runtime)
        return arn

    def unhost(self, arn: str) -> None:
        self.runtimes.pop(arn, None)
        self._authorizers.pop(arn, None)

    def _authorizer_for(self, runtime: AgentRuntime) -> InboundAuthorizer:
        if runtime.issuer is None:
            return self.inbound
        return InboundAuthorizer([runtime.issuer], self.inbound.clock)

    def handlers(self) -> dict[str, Handler]:
        return {"InvokeAgentRuntime": self.invoke}

    def bearer(self, request: Request) -> BearerCaller:
        try:
            return BearerCaller(bearer_token(request.headers.get("Authorization")))
        except TokenRejected as exc:
            raise AwsError("AccessDeniedException", exc.explanation) from None

    def protected_resource(self, request: Request) -> Response:
        """GET a JWT-authorized runtime's Protected Resource Metadata (RFC 9728)."""
        arn = resource_metadata.arn_in(protocol.raw_path(request))
        runtime = self.runtimes.get(arn or "")
        if request.method != "GET" or runtime is None or runtime.authorizer != "JWT":
            raise AwsError("ResourceNotFoundException", "No protected resource here.", status=404)
        document = resource_metadata.document(
            resource_metadata.resource_url(self.public_url, arn),
            self._authorizers[arn].issuers(),
            runtime.advertised_scopes,
            runtime.name,
        )
        return Response(json.dumps(document), content_type="application/json")

    def invoke(self, p: dict, call: Call) -> dict:
        runtime = self._invoked(p)
        user = self._user(runtime, p, call.principal)
        session_id = p.get("runtimeSessionId") or f"lab-session-{uuid.uuid4()}"
        resp = requests.post(
            runtime.url + PATHS[runtime.protocol],
            data=p.get("payload", b""),
            headers=self._headers(runtime, p, call, user, session_id),
            timeout=60,
        )
        returned = {member: resp.headers.get(header) for member, header in RETURNED.items()}
        return {
            "response": resp.content,
            "statusCode": resp.status_code,
            "contentType": resp.headers.get("Content-Type", "application/json"),
            "runtimeSessionId": session_id,
            **returned,
        }

    def _headers(
        self,
        runtime: AgentRuntime,
        p: dict,
        call: Call,
        user: str | None,
        session_id: str,
    ) -> dict[str, str]:
        caller, request = call.principal, call.request
        # A verified JWT caller's token stays with the WAT: the agent may exchange it (OBO).
        user_token = caller.token if isinstance(caller, BearerCaller) else None
        # The caller's allowed headers first: none of them may stand in for the front door's.
        headers = {
            **request_headers.passed_on(runtime.passed_headers, request.headers),
            "Content-Type": p.get("contentType", "application/json"),
            "WorkloadAccessToken": self.tokens.mint(runtime.workload, user, user_token),
            "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session_id,
            **{header: p[member] for member, header in FORWARDED.items() if member in p},
        }
        if user_token and "authorization" in runtime.passed_headers:
            headers["Authorization"] = f"Bearer {user_token}"
        return headers

    def _invoked(self, p: dict) -> AgentRuntime:
        """The runtime a call names: by ARN, or by id in ``accountId``'s account; through
        its one endpoint, DEFAULT (the lab makes no others)."""
        named = p["agentRuntimeArn"]
        account = p.get("accountId", self.account_id)
        arn = named if named.startswith("arn:") else self.arn(named, account)
        runtime = self.runtimes.get(arn)
        if runtime is None:
            raise AwsError("ResourceNotFoundException", f"No agent runtime {named}.")
        if p.get("qualifier", "DEFAULT") != "DEFAULT":
            raise AwsError(
                "ResourceNotFoundException",
                f"Agent runtime {runtime.name} has no endpoint {p['qualifier']}: only DEFAULT.",
            )
        p["agentRuntimeArn"] = arn  # as the rest of the call names it
        return runtime

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
            try:
                claims = self._claims(runtime, p["agentRuntimeArn"], caller.token)
                _check_client_and_scopes(runtime, claims)
            except AwsError as refused:
                raise self._challenged(runtime, p["agentRuntimeArn"], refused) from None
            return user_from_jwt(claims["iss"], claims["sub"])
        if isinstance(caller, BearerCaller) and caller.token is None:
            raise AwsError(
                "AccessDeniedException",
                f"Runtime {runtime.name} authorizes callers by IAM: sign the request (SigV4).",
            )
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

    def _claims(self, runtime: AgentRuntime, arn: str, token: str | None) -> dict:
        if token is None:
            # RFC 6750 §3.1: a request without credentials gets no error code.
            message = f"Runtime {runtime.name} authorizes callers by JWT: send a bearer token."
            raise _Challenge(message, None)
        try:
            return self._authorizers[arn].claims_of(token)
        except AwsError as rejected:
            why = rejected.message
            raise _Challenge(why, TokenRejected("rejected", why)) from None

    def _challenged(self, runtime: AgentRuntime, arn: str, refused: AwsError) -> AwsError:
        """An MCP runtime's refusal as MCP authorization words it (RFC 6750 §3, RFC 9728 §5);
        an HTTP runtime's as the service's model does (403)."""
        if not isinstance(refused, _Challenge):
            return refused
        if runtime.protocol != "MCP":
            return AwsError(refused.code, refused.message)
        value = bearer_challenge(
            refused.reason,
            None,
            resource_metadata=resource_metadata.metadata_url(self.public_url, arn),
            scope=" ".join(runtime.advertised_scopes),
        )
        status = status_for(refused.reason) if refused.reason else 401
        challenge = {"WWW-Authenticate": value}
        return AwsError(refused.code, refused.message, status=status, headers=challenge)


class _Challenge(AwsError):
    """A refusal an MCP client can act on: no token or a bad one (log in again), or too
    few scopes (``insufficient_scope``: ask for more)."""

    def __init__(self, message: str, reason: TokenRejected | None) -> None:
        super().__init__("AccessDeniedException", message)
        self.reason = reason


def _check_client_and_scopes(runtime: AgentRuntime, claims: dict) -> None:
    """A customJWTAuthorizer's allowedClients, allowedScopes and customClaims, after the
    signature, issuer and audience checks. The lab admits a token that carries at least
    one of the allowed scopes."""
    client = claims.get("client_id", claims.get("azp"))
    if runtime.allowed_clients and client not in runtime.allowed_clients:
        raise AwsError(
            "AccessDeniedException", f"User token rejected: client {client!r} is not allowed."
        )
    scopes = str(claims.get("scope", "")).split()
    if runtime.allowed_scopes and not set(scopes) & set(runtime.allowed_scopes):
        wanted = list(runtime.allowed_scopes)
        message = f"User token rejected: it carries none of the scopes {wanted}."
        raise _Challenge(message, TokenRejected("scope", message, error="insufficient_scope"))
    for rule in runtime.custom_claims:
        if not rule.matches(claims):
            rejected = f"User token rejected: its claim {rule.claim!r} does not match."
            raise AwsError("AccessDeniedException", rejected)
