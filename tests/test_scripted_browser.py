"""The scripted browser against pages shaped like other providers' (Keycloak, Cognito's
hosted UI), served on 127.0.0.1: it fills in the form a person would, and says in one line
when a page is beyond it. The lab IdP's own pages are covered by every lab test that signs
in."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, jsonify, redirect, request

from helpers.browser import NotScriptable, ScriptedBrowser
from helpers.serving import BackgroundServer

# Keycloak's login theme: one form, a submit input named login, an unticked remember-me.
KEYCLOAK_LOGIN = """<!doctype html><html><head><title>Sign in to fitness</title></head><body>
<form id="kc-form-login" onsubmit="login.disabled = true; return true;" method="post"
  action="/realms/fitness/login-actions/authenticate?session_code=sc-1&amp;execution=ex-1&amp;client_id=app&amp;tab_id=t-1">
  <input tabindex="1" id="username" name="username" value="" type="text" autocomplete="off">
  <input tabindex="2" id="password" name="password" type="password" autocomplete="off">
  <input tabindex="3" id="rememberMe" name="rememberMe" type="checkbox">
  <input type="hidden" id="id-hidden-input" name="credentialId">
  <input tabindex="4" name="login" id="kc-login" type="submit" value="Sign In">
</form></body></html>"""
# Keycloak's grant page, when the client requires consent: accept and cancel inputs.
KEYCLOAK_CONSENT = """<!doctype html><html><head><title>Grant access</title></head><body>
<form class="form-actions" action="/realms/fitness/login-actions/consent?tab_id=t-1" method="POST">
  <input type="hidden" name="code" value="consent-code-1">
  <input name="accept" id="kc-login" type="submit" value="Yes">
  <input name="cancel" id="kc-cancel" type="submit" value="No">
</form></body></html>"""
# Cognito's classic hosted UI: two forms, the first hidden here, each with its own _csrf;
# only the second has a password field. Its submit input's type is spelled "Submit".
COGNITO_LOGIN = """<!doctype html><html><head><title>Signin</title></head><body>
<div style="display: none">
 <form name="cognitoIdpForm" method="post" action="/saml?client_id=app">
  <input name="_csrf" type="hidden" value="csrf-idp">
  <input name="identifier" type="email" id="idpIdentifier" placeholder="name@host.com">
  <input name="idpSubmit" type="Submit" value="Sign in with your corporate ID">
 </form>
</div>
<div>
 <form name="cognitoSignInForm" method="post" action="/login?client_id=app&amp;state=s-1">
  <input name="_csrf" type="hidden" value="csrf-login">
  <input id="signInFormUsername" name="username" type="text" placeholder="Username">
  <input id="signInFormPassword" name="password" type="password" placeholder="Password">
  <input name="signInSubmitButton" type="Submit" value="Sign in">
 </form>
</div></body></html>"""
# A provider whose user field is an email, after a text field that is not the user's.
EMAIL_LOGIN = """<form method="post" action="/email">
  <input type="text" name="device_label" value="">
  <input type="email" name="email_address" autocomplete="email">
  <input type="password" name="secret">
  <button type="submit">Continue</button>
</form>"""
# A login page made by JavaScript: nothing to fill in without running it.
SPA_LOGIN = """<!doctype html><html><head><title>Sign in</title>
<script src="/static/app.js"></script></head><body><div id="root"></div></body></html>"""
ERROR_PAGE = """<!doctype html><html><head><title>We are sorry...</title></head><body>
<p id="kc-error-message">Invalid parameter: redirect_uri</p></body></html>"""


def provider_app(posted: list[tuple[str, dict[str, str]]]) -> Flask:
    """Pages shaped like other providers', recording every form posted to them; /cb is the
    client's redirect URI."""
    app = Flask(__name__)
    back = "/cb?code=code-1&state=s-1"

    def record() -> None:
        posted.append((request.path, dict(request.form)))

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/realms/fitness/auth")
    def keycloak_auth() -> str:
        return KEYCLOAK_LOGIN

    @app.post("/realms/fitness/login-actions/authenticate")
    def keycloak_authenticate() -> object:
        record()
        if request.args["client_id"] != "app" or request.form["password"] != "pw":
            return KEYCLOAK_LOGIN, 200
        return KEYCLOAK_CONSENT if app.config.get("consent") else redirect(back)

    @app.post("/realms/fitness/login-actions/consent")
    def keycloak_consent() -> object:
        record()
        return redirect(back if "accept" in request.form else "/cb?error=access_denied&state=s-1")

    @app.get("/login")
    def cognito_login() -> str:
        return COGNITO_LOGIN

    @app.post("/login")
    @app.post("/email")
    def signed_in() -> object:
        record()
        return redirect(back)

    app.add_url_rule("/email", "email_login", lambda: EMAIL_LOGIN, methods=["GET"])
    app.add_url_rule("/spa", "spa", lambda: SPA_LOGIN)
    app.add_url_rule("/error", "error", lambda: (ERROR_PAGE, 400))
    app.add_url_rule("/cb", "cb", lambda: jsonify(dict(request.args)))
    return app


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[BackgroundServer, list]]:
    posted: list[tuple[str, dict[str, str]]] = []
    server = BackgroundServer("other-provider").start(provider_app(posted))
    server.wait_ready()
    yield server, posted
    server.stop()


@pytest.fixture
def site(provider: tuple[BackgroundServer, list]) -> Iterator[tuple[str, list, Flask]]:
    server, posted = provider
    posted.clear()
    yield server.url, posted, server.app
    server.app.config["consent"] = False


def test_keycloak_login_sends_the_fields_and_the_clicked_input(site: tuple) -> None:
    url, posted, _ = site
    page = ScriptedBrowser().sign_in(f"{url}/realms/fitness/auth", "alice", "pw")
    assert page.json() == {"code": "code-1", "state": "s-1"}
    # The hidden input goes along; the unticked box does not; the clicked input does.
    assert posted == [
        (
            "/realms/fitness/login-actions/authenticate",
            {"username": "alice", "password": "pw", "credentialId": "", "login": "Sign In"},
        )
    ]


@pytest.mark.parametrize(
    "answer, sent, back", [("allow", "accept", "code"), ("deny", "cancel", "error")]
)
def test_keycloak_consent_clicks_accept_or_cancel(
    site: tuple, answer: str, sent: str, back: str
) -> None:
    url, posted, app = site
    app.config["consent"] = True
    page = ScriptedBrowser().sign_in(f"{url}/realms/fitness/auth", "alice", "pw", consent=answer)
    assert posted[-1] == (
        "/realms/fitness/login-actions/consent",
        {"code": "consent-code-1", sent: "Yes" if sent == "accept" else "No"},
    )
    assert back in page.json()


def test_stop_at_holds_the_way_back(site: tuple) -> None:
    url, _, _ = site
    held = ScriptedBrowser().sign_in(f"{url}/realms/fitness/auth", "bob", "pw", stop_at=url + "/cb")
    assert held.status_code == 302
    assert parse_qs(urlsplit(held.headers["Location"]).query)["code"] == ["code-1"]


def test_cognito_login_uses_the_form_with_the_password_field(site: tuple) -> None:
    url, posted, _ = site
    ScriptedBrowser().sign_in(f"{url}/login", "alice", "pw")
    assert posted == [
        (
            "/login",
            {
                "_csrf": "csrf-login",
                "username": "alice",
                "password": "pw",
                "signInSubmitButton": "Sign in",
            },
        )
    ]


def test_the_user_field_is_the_one_named_for_the_user(site: tuple) -> None:
    url, posted, _ = site
    ScriptedBrowser().sign_in(f"{url}/email", "alice@example.com", "pw")
    assert posted == [
        ("/email", {"device_label": "", "email_address": "alice@example.com", "secret": "pw"})
    ]


@pytest.mark.parametrize("path, status", [("/spa", 200), ("/error", 400)])
def test_a_page_it_cannot_act_on_is_one_line(site: tuple, path: str, status: int) -> None:
    url, posted, _ = site
    with pytest.raises(NotScriptable) as info:
        ScriptedBrowser().sign_in(url + path, "alice", "pw")
    said = info.value._render_traceback_()
    assert len(said) == 1 and "\n" not in said[0]
    assert f"page cannot be scripted (HTTP {status} at {url}{path}" in said[0]
    assert "interactive=True" in said[0] and posted == []


def test_a_refused_password_leaves_it_on_the_login_page(site: tuple) -> None:
    url, _, _ = site
    with pytest.raises(NotScriptable, match="Still on the login page after signing in as 'eve'"):
        ScriptedBrowser().sign_in(f"{url}/realms/fitness/auth", "eve", "wrong")


def test_submit_clicks_a_control_by_its_name(site: tuple) -> None:
    url, posted, app = site
    app.config["consent"] = True
    browser = ScriptedBrowser()
    login = browser.visit(f"{url}/realms/fitness/auth")
    consent = browser.submit(login, {"username": "alice", "password": "pw"})
    browser.submit(consent, button="cancel")
    assert posted[-1][1] == {"code": "consent-code-1", "cancel": "No"}
    with pytest.raises(ValueError, match="no button 'allow'"):
        browser.submit(consent, button="allow")
