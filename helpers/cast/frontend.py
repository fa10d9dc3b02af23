"""The Fitness Coach web app: a confidential OAuth client built on authlib's Flask client.

It is the only place that knows the client secret (read from its deployment environment,
never sent to the browser) and the only holder of the user's tokens: the browser gets a
session cookie, nothing more.
"""

from __future__ import annotations

import functools
import html
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from authlib.oidc.core import CodeIDToken
from flask import Flask, jsonify, redirect, request, session
from joserfc.errors import JoseError

from ..clock import LabClock
from ..horizon import JUPYTER_URL_VAR, Horizon
from ..web import harden

AGENTCORE_RETURN_PATH = "/agentcore/return"
REQUIRED_ENV = (
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OAUTH_DISCOVERY_URL",
    "OAUTH_REDIRECT_URI",
    "OAUTH_SCOPE",
    "AGENT_URL",
)


class _MemoryCache:
    """Server-side store for authlib's state data (state, nonce, PKCE verifier).

    Without a cache authlib keeps the PKCE verifier in the (signed, not encrypted)
    session cookie, i.e. in the browser.
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            return self._data.get(key)

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        with self._lock:
            self._data[key] = value

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class _LabClockClient(FlaskOAuth2App):
    """authlib's client, checking id-token times on the lab clock instead of the wall clock.

    The IdP stamps ``iat``/``exp`` from the lab clock; after a fast-forward, a wall-clock
    check would see every new id token as "issued in the future".
    """

    lab_clock: LabClock

    def parse_id_token(
        self,
        token: dict,
        nonce: str,
        claims_options: Any = None,
        claims_cls: Any = None,
        leeway: int = 120,
    ) -> Any:
        clock, access_token = self.lab_clock, token.get("access_token")

        class OnLabClock(CodeIDToken):
            def validate(self, now: float | None = None, leeway: int = 0) -> None:
                self.params["access_token"] = access_token  # keep at_hash checked
                super().validate(now=int(clock.now()), leeway=leeway)

        return super().parse_id_token(token, nonce, claims_options, OnLabClock, leeway)


class _LabOAuth(OAuth):
    oauth2_client_cls = _LabClockClient


@dataclass(frozen=True)
class Login:
    """How one login ended: a session with tokens, or the error the IdP answered."""

    session_id: str | None = None
    error: str | None = None


class Frontend:
    """The deployed web app: its Flask app plus the server-side token store."""

    def __init__(self, env: Mapping[str, str], clock: LabClock) -> None:
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise RuntimeError(f"frontend not configured: missing {', '.join(missing)}")
        self.env = dict(env)
        self.sessions: dict[str, dict] = {}  # session id -> token response
        # Logins a notebook handed the learner a link for (a ticket in the link), and how
        # each ended: None while pending, then a session id or the OAuth error.
        self.logins: dict[str, Login | None] = {}
        # AgentCore consents that came back to the return page: session URI -> COMPLETED
        # or FAILED, as CompleteResourceTokenAuth answered; given up on: None, never done.
        self.consents: dict[str, str | None] = {}
        # Where the learner's browser reaches the app and the IdP (see helpers.horizon).
        self.horizon = Horizon(env.get(JUPYTER_URL_VAR) or None)
        self.app = harden(Flask("lab-frontend"))
        self.app.secret_key = secrets.token_bytes(32)
        self.app.config["SESSION_COOKIE_NAME"] = "frontend_session"
        self.oauth = _LabOAuth(self.app, cache=_MemoryCache())
        self.oauth.register(
            "lab_idp",
            client_id=env["OAUTH_CLIENT_ID"],
            client_secret=env["OAUTH_CLIENT_SECRET"],
            server_metadata_url=env["OAUTH_DISCOVERY_URL"],
            client_kwargs={"scope": env["OAUTH_SCOPE"], "code_challenge_method": "S256"},
        )
        self.idp.lab_clock = clock
        self._routes()

    @property
    def idp(self) -> Any:
        return self.oauth.lab_idp

    def _routes(self) -> None:
        app = self.app
        app.add_url_rule("/healthz", endpoint="healthz", view_func=lambda: "ok")
        app.add_url_rule("/", view_func=self.home)
        app.add_url_rule("/login", view_func=self.login)
        app.add_url_rule("/callback", view_func=self.callback)
        app.add_url_rule("/ask", view_func=self.ask, methods=["GET", "POST"])
        if "AWS_REGION" in self.env:  # deployed with AgentCore
            app.add_url_rule(AGENTCORE_RETURN_PATH, view_func=self.agentcore_return)

    def tokens_for(self) -> dict | None:
        return self.sessions.get(session.get("sid", ""))

    def session_tokens(self, cookie: str) -> dict | None:
        """Server-side view: the tokens held for the browser presenting this session cookie."""
        serializer = self.app.session_interface.get_signing_serializer(self.app)
        sid = serializer.loads(cookie).get("sid", "") if serializer else ""
        return self.sessions.get(sid)

    def home(self):  # noqa: ANN201 - Flask response
        tokens = self.tokens_for()
        if tokens is None:
            login = html.escape(request.script_root + "/login")
            return f'<h1>Fitness Coach</h1><a id="login" href="{login}">Sign in</a>'
        name = html.escape(tokens["userinfo"].get("name", tokens["userinfo"]["sub"]))
        return f'<h1>Fitness Coach</h1><p id="user">Signed in as {name}</p>'

    def login(self):  # noqa: ANN201
        """Step 1: to the IdP, with state, nonce and an S256 code_challenge (authlib's).

        Both the IdP's page and the way back are in the browser's horizon: through
        Jupyter's proxy when the browser came that way.
        """
        if request.args.get("ticket") in self.logins:
            session["ticket"] = request.args["ticket"]
        redirect_uri = self.horizon.for_request(request.headers, self.env["OAUTH_REDIRECT_URI"])
        found = self.idp.create_authorization_url(redirect_uri)
        self.idp.save_authorize_data(redirect_uri=redirect_uri, **found)
        return redirect(self.horizon.for_request(request.headers, found["url"]))

    def _check_issuer(self) -> None:
        """RFC 9207 §2.4: the answer names the IdP the request went to, if that IdP says it
        always does; an answer from elsewhere (a mix-up) never reaches /token."""
        metadata = self.idp.load_server_metadata()
        iss = request.args.get("iss")
        if iss is None and not metadata.get("authorization_response_iss_parameter_supported"):
            return
        if iss != metadata["issuer"]:
            raise OAuthError("mismatching_issuer", f"The answer claims issuer {iss!r}.")

    def callback(self):  # noqa: ANN201
        # Steps 2-4: state check, code + secret + verifier at /token, id token check (nonce).
        ticket = session.pop("ticket", None)
        try:
            self._check_issuer()
            token = self.idp.authorize_access_token()
        except (AuthlibBaseError, JoseError) as exc:
            error = getattr(exc, "error", None) or type(exc).__name__
            description = getattr(exc, "description", None) or str(exc)
            self._settle(ticket, Login(error=error))
            return jsonify(error=error, error_description=description), 400
        sid = secrets.token_urlsafe(24)
        self.sessions[sid] = token
        session.clear()
        session["sid"] = sid
        self._settle(ticket, Login(session_id=sid))
        return redirect("/")

    def expect_login(self) -> str:
        """A ticket for a login link (``/login?ticket=...``): :attr:`logins` says how the
        login it starts ends."""
        ticket = secrets.token_urlsafe(16)
        self.logins[ticket] = None
        return ticket

    def _settle(self, ticket: str | None, outcome: Login) -> None:
        # Only a ticket still awaited: one withdrawn (a notebook gave up waiting) stays out.
        if ticket in self.logins and self.logins[ticket] is None:
            self.logins[ticket] = outcome

    def agentcore_return(self):  # noqa: ANN201
        """Where AgentCore sends the browser after consent at an outbound provider.

        Session binding: the app vouches that the user finishing the consent is the user
        signed in here, by handing AgentCore that user's own token. A session started by
        someone else fails, and nothing lands in anybody's vault.
        """
        from botocore.exceptions import ClientError, ParamValidationError

        tokens = self.tokens_for()
        if tokens is None:
            return jsonify(error="login_required"), 401
        uri = request.args.get("session_id", "")
        if uri in self.consents and self.consents[uri] is None:
            # The notebook gave up waiting for it: this app will not complete it.
            return jsonify(error="consent_abandoned", error_description="Nothing stored."), 410
        try:
            self._agentcore.complete_resource_token_auth(
                sessionUri=uri, userIdentifier={"userToken": tokens["access_token"]}
            )
        except ClientError as exc:
            error = exc.response["Error"]
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            self.consents[uri] = "FAILED"
            return jsonify(error=error["Code"], error_description=error["Message"]), status
        except ParamValidationError as exc:  # a session_id that is no session URI at all
            return jsonify(error="ValidationException", error_description=str(exc)), 400
        self.consents[uri] = "COMPLETED"
        # The app's own customState comes back as "state", when it set one.
        state = request.args.get("state")
        return jsonify(status="authorized", **({"state": state} if state is not None else {}))

    def give_up_consent(self, uri: str) -> None:
        """A consent nobody waits for any more: if it comes back, it is not completed."""
        self.consents.setdefault(uri, None)

    @functools.cached_property
    def _agentcore(self) -> Any:
        """One client for the app's life: clients are thread-safe, and each new session
        would parse the service model again."""
        import boto3  # only a frontend deployed with AgentCore needs it

        # What the deployment leaves out, boto3 finds the standard way (AWS mode).
        session = boto3.session.Session(
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
            region_name=self.env["AWS_REGION"],
        )
        return session.client(
            "bedrock-agentcore", endpoint_url=self.env.get("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE")
        )

    def ask(self):  # noqa: ANN201
        # Step 5: the access token travels to the agent in the Authorization header.
        tokens = self.tokens_for()
        if tokens is None:
            return jsonify(error="login_required"), 401
        prompt = request.values.get("prompt", "How should I train this week?")
        resp = requests.post(
            f"{self.env['AGENT_URL']}/invocations",
            json={"prompt": prompt},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        )
        return jsonify(resp.json()), resp.status_code
