"""The lab identity provider: authlib's OAuth 2.0 / OIDC server framework on Flask.

Endpoints: metadata (OIDC discovery and RFC 8414), JWKS, login, authorize + consent,
token, userinfo, revoke (RFC 7009), introspect (RFC 7662), register (RFC 7591); token
exchange (RFC 8693) at the token endpoint; ``resource`` (RFC 8707) at authorize and token;
``iss`` in every authorization response (RFC 9207). Protocol rules live in authlib,
``grants.py``, ``resources.py``, ``registration.py`` and ``token_exchange.py``; this module
wires them to HTTP and to the lab's users and clients.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, jsonify, redirect, request, session

from ..bearer import bearer_token, refusal
from ..clock import LabClock
from ..jwt_check import TokenRejected, verify_jwt
from ..masking import mask
from ..web import harden, page_headers
from . import client_assertion
from .grants import (
    USER_GRANT_AUTH_METHODS,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256Required,
    bound,
    new_family,
)
from .keys import KeyRing
from .models import Client, IssuedToken, Store
from .pages import Pages
from .realm import Realm
from .registration import OpenRegistration
from .resources import ResourceIndicator
from .token_exchange import TokenExchangeGrant
from .tokens import REFRESH_TOKEN_TTL, JwtAccessTokenGenerator, LabOpenIDCode, user_claims


def _describe_token_request() -> dict[str, str]:
    """What reached /token, masked: lets a notebook show step 3 without leaking it."""
    auth = request.authorization
    if auth:
        method = "client_secret_basic"
    elif "client_assertion" in request.form:
        method = client_assertion.METHOD
    else:
        method = "client_secret_post or none"
    seen = {"client_auth": method}
    if auth:
        seen.update(client_id=auth.username or "", client_secret=mask(auth.password or ""))
    for name, value in request.form.items():
        seen[name] = value if name in _SHOWN_AS_IS else mask(value)
    return seen


_SHOWN_AS_IS = {
    "grant_type",
    "client_id",
    "redirect_uri",
    "scope",
    "token_type_hint",
    "client_assertion_type",
    # RFC 8693: the subject_token stays masked; what it is traded for is not secret.
    "subject_token_type",
    "audience",
    "resource",
}


_CLIENT_AUTH_PATHS = ("/token", "/revoke", "/introspect")


def _unparseable_client_auth() -> Response | None:
    """A one-word ``Authorization`` header at a client-authenticating endpoint.

    authlib would crash splitting it (a 500); it is a failed client authentication, and
    RFC 6749 §5.2 says how to answer that: 401 ``invalid_client`` with a challenge.
    """
    header = request.headers.get("Authorization")
    if request.path not in _CLIENT_AUTH_PATHS or header is None or len(header.split()) >= 2:
        return None
    resp = jsonify(error="invalid_client", error_description="Malformed Authorization header.")
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Basic realm="lab-idp"'
    return resp


def _pages_unframed(response: Response) -> Response:
    """The login, consent and error pages: not to be framed or cached (helpers.web)."""
    return page_headers(response) if response.mimetype == "text/html" else response


class IdentityProvider:
    """State plus the Flask app that serves it; one per lab."""

    def __init__(self, issuer: str, clock: LabClock, realm: Realm) -> None:
        self.issuer = issuer
        self.clock = clock
        self.realm = realm
        self.pages = Pages(realm)
        self.keys = KeyRing()
        self.store = Store(clock)
        self.iss = _Issuer(issuer)
        self.assertions = client_assertion.PrivateKeyJwt(issuer, self.store)
        self.server = self._authorization_server()
        self.app = self._flask_app()

    # -- authlib wiring -------------------------------------------------------------
    def _authorization_server(self) -> AuthorizationServer:
        server = AuthorizationServer(
            query_client=self.store.clients.get, save_token=self._save_token
        )
        tokens = JwtAccessTokenGenerator(self.issuer, self.keys, self.clock, self.realm)
        server.register_token_generator("default", tokens)
        store = self.store
        server.register_grant(
            bound(AuthorizationCodeGrant, store=store, tokens=tokens),
            [
                S256Required(required=True),
                LabOpenIDCode(self.issuer, self.keys, store),
                ResourceIndicator(store),
            ],
        )
        server.register_grant(bound(RefreshTokenGrant, store=store, tokens=tokens))
        server.register_grant(ClientCredentialsGrant)
        exchange = {"store": store, "tokens": tokens, "keys": self.keys, "issuer": self.issuer}
        server.register_grant(bound(TokenExchangeGrant, **exchange))
        server.register_endpoint(self._endpoint(RevocationEndpoint))
        server.register_endpoint(self._endpoint(IntrospectionEndpoint))
        server.register_endpoint(OpenRegistration(store, self.clock, self.metadata()))
        server.register_extension(self.iss)
        server.register_client_auth_method(client_assertion.METHOD, self.assertions)
        return server

    def _endpoint(self, base: type) -> type:
        """Revocation and introspection share one token lookup over the store."""
        store, issuer = self.store, self.issuer

        class Endpoint(base):
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def query_token(self, token_string: str, token_type_hint: str | None):
                return store.tokens.get(token_string)

            def revoke_token(self, token: IssuedToken, request) -> None:  # noqa: ANN001
                token.revoked = True

            def check_permission(self, token: IssuedToken, client: Client, request) -> bool:  # noqa: ANN001
                return client.can_introspect or token.client_id == client.client_id

            def introspect_token(self, token: IssuedToken) -> dict:
                return {
                    "active": True,
                    "client_id": token.client_id,
                    "scope": token.scope,
                    "sub": token.user_id or token.client_id,
                    "token_type": token.kind,
                    "exp": int(token.expires_at),
                    "iat": int(token.issued_at),
                    "iss": issuer,
                }

        return Endpoint

    def _save_token(self, token: dict, request) -> None:  # noqa: ANN001
        """Record both credentials of a token response, tied to one grant family."""
        code = getattr(request, "authorization_code", None)
        previous = getattr(request, "refresh_token", None)
        family = previous.family if previous else new_family()
        if code is not None:
            code.family = family
        user_id = request.user.user_id if request.user else None
        now = self.clock.now()
        common = dict(
            client_id=request.client.client_id,
            user_id=user_id,
            scope=token["scope"],
            issued_at=now,
            family=family,
            clock=self.clock,
            resource=getattr(request, "resource", None),
        )
        access = token["access_token"]
        self.store.tokens[access] = IssuedToken(
            "access_token", access, expires_at=now + token["expires_in"], **common
        )
        if "refresh_token" in token:
            refresh = token["refresh_token"]
            # A narrowed refresh narrows the access token only: the new refresh token keeps
            # the scope of the one it replaces (RFC 6749 §6).
            if previous is not None:
                common["scope"] = previous.scope
            self.store.tokens[refresh] = IssuedToken(
                "refresh_token", refresh, expires_at=now + REFRESH_TOKEN_TTL, **common
            )

    # -- HTTP ---------------------------------------------------------------------
    def _flask_app(self) -> Flask:
        app = harden(Flask("lab-idp"))
        app.secret_key = secrets.token_bytes(32)
        app.config["SESSION_COOKIE_NAME"] = "idp_session"
        app.before_request(_unparseable_client_auth)
        app.before_request(self._unrepeatable_parameter)
        app.after_request(_pages_unframed)
        routes = {
            "/healthz": (lambda: "ok", ["GET"]),
            "/.well-known/openid-configuration": (self.discovery, ["GET"]),
            "/.well-known/oauth-authorization-server": (self.discovery, ["GET"]),
            "/jwks": (lambda: jsonify(self.keys.jwks()), ["GET"]),
            "/login": (self.login, ["GET", "POST"]),
            "/authorize": (self.authorize, ["GET", "POST"]),
            "/token": (self.token, ["POST"]),
            "/userinfo": (self.userinfo, ["GET", "POST"]),
            "/revoke": (self.revoke, ["POST"]),
            "/introspect": (self.introspect, ["POST"]),
            "/register": (self.register, ["POST"]),
        }
        for path, (view, methods) in routes.items():
            app.add_url_rule(path, endpoint=path, view_func=view, methods=methods)
        return app

    def _unrepeatable_parameter(self) -> tuple[str, int] | None:
        """An authorization request whose response_type or redirect_uri has characters an
        OAuth error description may not carry (RFC 6749 §4.1.2.1: %x20-21, %x23-5B, %x5D-7E).

        authlib repeats both in its error descriptions, and refuses to build such an error:
        a ValueError, a 500. Neither is valid with those characters anyway (one is a token,
        the other a URI), and the redirect URI cannot be trusted: an error page says so.
        """
        if request.path != "/authorize":
            return None
        codes = {"response_type": "unsupported_response_type", "redirect_uri": "invalid_request"}
        for name, error in codes.items():
            if invalid_error_characters(request.values.get(name, "")):
                return self.pages.error(error, f"The {name} has characters no valid one has."), 400
        return None

    def discovery(self):  # noqa: ANN201 - Flask response
        """One document at both addresses: OIDC discovery and RFC 8414 metadata."""
        return jsonify(self.metadata())

    def metadata(self) -> dict:
        i = self.issuer
        return {
            "issuer": i,
            "authorization_endpoint": f"{i}/authorize",
            "token_endpoint": f"{i}/token",
            "userinfo_endpoint": f"{i}/userinfo",
            "jwks_uri": f"{i}/jwks",
            "registration_endpoint": f"{i}/register",
            "revocation_endpoint": f"{i}/revoke",
            "introspection_endpoint": f"{i}/introspect",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                TokenExchangeGrant.GRANT_TYPE,
            ],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": list(USER_GRANT_AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": client_assertion.SIGNING_ALGORITHMS,
            "scopes_supported": self.realm.scopes,
            "claims_supported": ["sub", "name", "preferred_username", "email"],
        }

    def login(self):  # noqa: ANN201
        next_url = request.values.get("next", "")
        if not next_url.startswith("/authorize"):
            next_url = "/authorize"  # only ever bounce back into our own authorize page
        if request.method == "GET":
            return self.pages.login(request.script_root + "/login", next_url)
        user = self.store.user_by_name(request.form.get("username", ""))
        if user is None or not secrets.compare_digest(
            user.password, request.form.get("password", "")
        ):
            return self.pages.login(
                request.script_root + "/login", next_url, "Unknown user or wrong password."
            ), 401
        session.clear()  # a fresh session on login defeats session fixation
        session.update(
            user_id=user.user_id, auth_time=int(self.clock.now()), csrf=secrets.token_urlsafe(16)
        )
        return redirect(next_url)

    def authorize(self):  # noqa: ANN201
        user = self.store.users.get(session.get("user_id", ""))
        try:
            grant = self.server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            if error.redirect_uri:  # a trusted redirect URI: tell the client (RFC 6749 §4.1.2.1)
                response = self.server.handle_error_response(request, error)
                self.iss.add_issuer_parameter(self.server, response)
                return response
            return self.pages.error(error.error, error.get_error_description()), 400
        if user is None:
            return redirect("/login?" + urlencode({"next": request.full_path}))
        if request.method == "GET":
            scopes = grant.request.scope.split()
            client = grant.client
            return self.pages.consent(
                client.client_name, user.name, scopes, session["csrf"], client.self_registered
            )
        if not secrets.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
            return self.pages.error("invalid_request", "Consent form expired; start again."), 400
        allowed = request.form.get("decision") == "allow"
        grant.request.user_auth_time = session["auth_time"]
        return self.server.create_authorization_response(
            grant_user=user if allowed else None, grant=grant
        )

    def token(self):  # noqa: ANN201
        self.store.token_log.append(_describe_token_request())
        return self.server.create_token_response()

    def register(self):  # noqa: ANN201
        return self.server.create_endpoint_response(OpenRegistration.ENDPOINT_NAME)

    def revoke(self):  # noqa: ANN201
        return self.server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)

    def introspect(self):  # noqa: ANN201
        return self.server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)

    def userinfo(self):  # noqa: ANN201
        """OIDC UserInfo: a bearer access token minted for this endpoint, not revoked."""
        try:
            raw = bearer_token(request.headers.get("Authorization")) or ""
            claims = verify_jwt(
                raw,
                jwks=self.keys.jwks(),
                issuer=self.issuer,
                audience=f"{self.issuer}/userinfo",
                now=self.clock.now(),
                required_scope="openid",
            )
            record = self.store.tokens.get(raw)
            if record is None or record.revoked:
                raise TokenRejected("revoked", "This token was revoked.")
        except TokenRejected as exc:
            return refusal(exc, "userinfo")
        return jsonify(user_claims(self.store.users[claims["sub"]], claims["scope"]))


class _Issuer(IssuerParameter):
    """RFC 9207: ``iss`` in every authorization response, errors included, so that a client
    talking to several servers can tell which one answered (mix-up attacks)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer
