"""Handlers of the Identity operations of ``bedrock-agentcore`` (the data plane).

The workload-token equation lives here: workload identity + user (a verified JWT, or an
id from a trusted caller) = workload access token; the WAT then unlocks outbound
credentials — OAuth2 tokens from the vault or from the provider, and API keys.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from ..clock import LabClock
from ..horizon import Horizon
from ..jwks import Documents
from .client_assertions import AssertionSigner
from .directory import MANAGED_BY_RUNTIME, Directory, Resource
from .errors import AwsError, validation_error
from .inbound import InboundAuthorizer
from .managed_secrets import ManagedSecrets
from .protocol import Call, Handler
from .providers import ProviderClient
from .sigv4 import Principal
from .vault import TokenVault
from .workload_tokens import Workload, WorkloadTokens, user_from_id, user_from_jwt

SESSION_TTL = 10 * 60
SESSION_PREFIX = "urn:ietf:params:oauth:request_uri:"
CALLBACK_PATH = "/identities/oauth2/callback"


@dataclass
class AuthSession:
    """One USER_FEDERATION authorization in flight, bound to the user who started it."""

    uri: str
    workload: str
    user: str
    provider: str
    scopes: list[str]
    return_url: str
    custom_state: str | None
    verifier: str
    expires_at: float
    tokens: dict | None = None  # set by the provider's callback, vaulted only on completion
    status: str = "IN_PROGRESS"  # then COMPLETED, or FAILED (refused, or hijacked)


@dataclass
class Sessions:
    clock: LabClock
    _by_uri: dict[str, AuthSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, **kwargs: object) -> AuthSession:
        uri = SESSION_PREFIX + secrets.token_urlsafe(24)
        session = AuthSession(
            uri=uri,
            verifier=secrets.token_urlsafe(48),
            expires_at=self.clock.now() + SESSION_TTL,
            **kwargs,
        )
        with self._lock:
            self._by_uri[uri] = session
        return session

    def find(self, uri: str) -> AuthSession | None:
        return self._by_uri.get(uri)

    def live(self, uri: str) -> AuthSession:
        """A session still open for completion, or the ValidationException saying why not."""
        session = self._by_uri.get(uri)
        if session is None or session.status != "IN_PROGRESS":
            raise validation_error(
                "The session is unknown or already completed.",
                [("sessionUri", "no such open session")],
            )
        if self.clock.now() >= session.expires_at:
            raise validation_error(
                "The session expired (sessions last 10 minutes).", [("sessionUri", "expired")]
            )
        return session


class DataPlane:
    def __init__(
        self,
        *,
        directory: Directory,
        vault: TokenVault,
        secrets: ManagedSecrets,
        tokens: WorkloadTokens,
        inbound: InboundAuthorizer,
        clock: LabClock,
        callback_url: str,
        signer: AssertionSigner,
        horizon: Horizon | None = None,
    ) -> None:
        self.directory, self.vault, self.secrets = directory, vault, secrets
        self.signer = signer  # signs PRIVATE_KEY_JWT providers' assertions in KMS
        self.tokens, self.inbound, self.clock = tokens, inbound, clock
        self.callback_url = callback_url
        # The callback is the one page of the data plane a browser visits: through
        # Jupyter's proxy, the redirect URI and the way back are in that horizon.
        self.horizon = horizon or Horizon()
        self.sessions = Sessions(clock)
        self.discovery = Documents()  # providers' discovery documents, read once per URL

    def handlers(self) -> dict[str, Handler]:
        return {
            "GetWorkloadAccessToken": self.wat_for_machine,
            "GetWorkloadAccessTokenForJWT": self.wat_for_jwt,
            "GetWorkloadAccessTokenForUserId": self.wat_for_user_id,
            "GetResourceOauth2Token": self.oauth2_token,
            "CompleteResourceTokenAuth": self.complete,
            "GetResourceApiKey": self.api_key,
        }

    # -- the equation ---------------------------------------------------------------------
    def _workload(self, name: str, principal: Principal) -> Resource:
        # Permission first: a caller may not learn which workload names exist.
        if not principal.may_use_workload(name):
            raise AwsError(
                "AccessDeniedException", f"{principal.arn} may not act as workload identity {name}."
            )
        return self.directory.get("workload", name)

    def _mintable(self, name: str, principal: Principal) -> str:
        """A workload identity the caller may get WATs for: not one a runtime manages."""
        if MANAGED_BY_RUNTIME in self._workload(name, principal).body:
            # Not even the operator: a WAT handed out here could be carried off and spent
            # as the runtime's agent from anywhere. The front door mints them instead.
            raise AwsError(
                "AccessDeniedException",
                f"Workload identity {name} is managed by an agent runtime: the runtime mints "
                "its workload access tokens itself, one per invocation, and hands them to its "
                "code. An agent hosted elsewhere needs a workload identity of its own.",
            )
        return name

    def wat_for_machine(self, p: dict, call: Call) -> dict:
        name = self._mintable(p["workloadName"], call.principal)
        return {"workloadAccessToken": self.tokens.mint(name, None)}

    def wat_for_jwt(self, p: dict, call: Call) -> dict:
        name = self._mintable(p["workloadName"], call.principal)
        issuer, subject = self.inbound.user_of(p["userToken"])
        user = user_from_jwt(issuer, subject)
        return {"workloadAccessToken": self.tokens.mint(name, user, p["userToken"])}

    def wat_for_user_id(self, p: dict, call: Call) -> dict:
        name = self._mintable(p["workloadName"], call.principal)
        # The id is opaque and taken on trust: only principals allowed this action (the
        # runtime, which takes it from *its* authenticated caller) may get here.
        return {"workloadAccessToken": self.tokens.mint(name, user_from_id(p["userId"]))}

    def _wat(self, token: str, principal: Principal) -> Workload:
        workload = self.tokens.verify(token)
        self._workload(workload.name, principal)  # workload X cannot spend workload Y's WAT
        return workload

    # -- OAuth2 ---------------------------------------------------------------------------
    def oauth2_token(self, p: dict, call: Call) -> dict:
        wat = self._wat(p["workloadIdentityToken"], call.principal)
        provider = self.directory.get("oauth2", p["resourceCredentialProviderName"])
        client = ProviderClient(provider, self.secrets, self.discovery, self.signer)
        flow = p["oauth2Flow"]
        if flow == "M2M":
            return {"accessToken": client.client_credentials(p["scopes"])["access_token"]}
        if flow == "ON_BEHALF_OF_TOKEN_EXCHANGE":
            return {"accessToken": self._on_behalf_of(p, wat, client)}
        if wat.user is None:
            raise validation_error(
                "USER_FEDERATION needs a WAT bound to a user.",
                [("workloadIdentityToken", "no user in this token")],
            )
        if "sessionUri" in p:
            return self._poll(p["sessionUri"], wat, provider.name)
        if not p.get("forceAuthentication"):
            stored = self._vaulted(wat, provider.name, client)
            if stored:
                return {"accessToken": stored}
        return self._start_session(p, wat, provider.name, client)

    def _on_behalf_of(self, p: dict, wat: Workload, client: ProviderClient) -> str:
        """RFC 8693 at the provider: the user's own JWT, traded for one audience's token."""
        subject_token = self.tokens.user_token(wat)
        if subject_token is None:
            raise validation_error(
                "ON_BEHALF_OF_TOKEN_EXCHANGE needs a WAT minted from the user's JWT (a JWT "
                "caller of the runtime, or GetWorkloadAccessTokenForJWT): a user id alone "
                "is no token to exchange.",
                [("workloadIdentityToken", "no user token behind this WAT")],
            )
        targets = [("audience", a) for a in p.get("audiences", [])]
        targets += [("resource", r) for r in p.get("resources", [])]
        if len(targets) != 1:
            raise validation_error(
                "Name exactly one audience (or resource): a token exchange mints a token "
                "for one service.",
                [("audiences", f"{len(targets)} given")],
            )
        name, target = targets[0]
        return client.on_behalf_of(subject_token, p["scopes"], **{name: target})["access_token"]

    def _vaulted(self, wat: Workload, provider: str, client: ProviderClient) -> str | None:
        token = self.vault.get_oauth2_token(wat.name, wat.user, provider)
        if token is None:
            return None
        if token.get("expires_at", 0) > self.clock.now():
            return token["access_token"]
        if token.get("refresh_token"):  # renew silently: the user consented already
            fresh = client.refresh(token["refresh_token"])
            self._store(wat.name, wat.user, provider, fresh)
            return fresh["access_token"]
        return None

    def _store(self, workload: str, user: str, provider: str, token: dict) -> None:
        expires_at = self.clock.now() + int(token.get("expires_in", 3600))
        self.vault.put_oauth2_token(
            workload,
            user,
            provider,
            {
                "access_token": token["access_token"],
                "refresh_token": token.get("refresh_token"),
                "expires_at": expires_at,
                "scope": token.get("scope", ""),
            },
        )

    def _start_session(self, p: dict, wat: Workload, provider: str, client: ProviderClient) -> dict:
        return_url = p.get("resourceOauth2ReturnUrl")
        allowed = self.directory.get("workload", wat.name).body["allowedResourceOauth2ReturnUrls"]
        if return_url is None or return_url not in allowed:
            raise validation_error(
                f"resourceOauth2ReturnUrl is not allowed for workload identity {wat.name}.",
                [("resourceOauth2ReturnUrl", "not in allowedResourceOauth2ReturnUrls")],
            )
        session = self.sessions.open(
            workload=wat.name,
            user=wat.user,
            provider=provider,
            scopes=p["scopes"],
            return_url=return_url,
            custom_state=p.get("customState"),
        )
        url = client.authorization_url(
            p["scopes"],
            self.callback_url,
            state=session.uri.removeprefix(SESSION_PREFIX),
            verifier=session.verifier,
            extra=p.get("customParameters", {}),
        )
        return {"authorizationUrl": url, "sessionUri": session.uri, "sessionStatus": "IN_PROGRESS"}

    def _poll(self, uri: str, wat: Workload, provider: str) -> dict:
        session = self.sessions.find(uri)
        if session is None or (session.workload, session.user) != (wat.name, wat.user):
            raise validation_error(
                "Unknown session for this workload and user.", [("sessionUri", "no such session")]
            )
        if session.status == "COMPLETED":
            return {
                "accessToken": self.vault.get_oauth2_token(wat.name, wat.user, provider)[
                    "access_token"
                ]
            }
        return {"sessionUri": uri, "sessionStatus": session.status}

    def callback(self, request: Request) -> Response:
        """The provider sends the user's browser here with a code; the app confirms later."""
        uri = SESSION_PREFIX + request.args.get("state", "")
        try:
            session = self.sessions.live(uri)
        except AwsError as exc:
            return Response(exc.message, status=400)
        if session.tokens is not None:
            # One consent per session: a second browser must not swap in its own tokens
            # before the first user's app completes the session.
            return Response("This authorization session was already used.", status=400)
        if "error" in request.args:
            session.status = "FAILED"  # the user refused consent at the provider
        else:
            provider = self.directory.get("oauth2", session.provider)
            client = ProviderClient(provider, self.secrets, self.discovery, self.signer)
            try:
                redirect_uri = self.horizon.for_request(request.headers, self.callback_url)
                session.tokens = client.exchange_code(
                    request.args.get("code", ""), redirect_uri, session.verifier
                )
            except AwsError:  # the provider refused the code: the session cannot succeed
                session.status = "FAILED"
        params = {"session_id": uri}
        if session.custom_state:
            params["state"] = session.custom_state
        return_url = self.horizon.for_request(request.headers, session.return_url)
        separator = "&" if "?" in return_url else "?"
        return Response(
            status=302, headers={"Location": return_url + separator + urlencode(params)}
        )

    def complete(self, p: dict, call: Call) -> dict:
        """Session binding: only the user who started the session may finish it."""
        session = self.sessions.live(p["sessionUri"])
        identifier = p["userIdentifier"]
        if "userToken" in identifier:
            user = user_from_jwt(*self.inbound.user_of(identifier["userToken"]))
        else:
            user = user_from_id(identifier["userId"])
        if user != session.user:
            # A hijack attempt: end the session so its tokens can never be claimed.
            session.status, session.tokens = "FAILED", None
            raise AwsError(
                "AccessDeniedException",
                "This session was started by another user; nothing was stored.",
            )
        if session.tokens is None:
            raise validation_error(
                "The user has not finished authorizing at the provider yet.",
                [("sessionUri", "authorization not finished")],
            )
        self._store(session.workload, session.user, session.provider, session.tokens)
        session.status = "COMPLETED"
        return {}

    # -- API keys -------------------------------------------------------------------------
    def api_key(self, p: dict, call: Call) -> dict:
        self._wat(p["workloadIdentityToken"], call.principal)
        provider = self.directory.get("apikey", p["resourceCredentialProviderName"])
        secret = provider.body["secret"]
        if secret["source"] == "MANAGED":  # the vault holds our copy, under the vault's key
            return {"apiKey": self.vault.get_api_key(provider.name)}
        # EXTERNAL: read the customer's secret every time, so a rotation shows at once.
        return {"apiKey": self.secrets.read(secret["arn"], secret["jsonKey"])}
