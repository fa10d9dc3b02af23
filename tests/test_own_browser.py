"""Signing in and consenting in the learner's own browser (helpers.widgets.own_browser),
directly and through Jupyter's proxy (helpers.horizon).

The "learner" here is a scripted browser in a thread that opens the link the cell shows,
as a person would click it; tests/test_browser.py does the same with a real Chromium.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from helpers import aws
from helpers.horizon import HUB_PUBLIC_URL_VAR, JUPYTER_URL_VAR, Horizon
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab
from helpers.serving import ports_to_bind_later
from helpers.widgets import own_browser

BOB = ("bob", "bob-lab-password")
ALICE = ("alice", "alice-lab-password")


class Learner:
    """Catches the link a cell displays, and acts on it from another thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.links: list[str] = []
        monkeypatch.setattr(own_browser, "display", self._catch)

    def _catch(self, shown: object) -> None:
        found = re.search(r'href="([^"]+)"', getattr(shown, "data", "") or "")
        if found:
            self.links.append(found.group(1).replace("&amp;", "&"))

    def will(self, act: Callable[[str], object]) -> threading.Thread:
        def run() -> None:
            deadline = time.monotonic() + 10
            while not self.links and time.monotonic() < deadline:
                time.sleep(0.02)
            act(self.links.pop())

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def learner(monkeypatch: pytest.MonkeyPatch) -> Learner:
    return Learner(monkeypatch)


def test_scripted_sign_in_is_the_default(lab: Lab) -> None:
    me = own_browser.sign_in(lab, *ALICE)
    assert me.browser is not None and me.name == "Alice Runner"
    assert repr(me) == "Signed in as Alice Runner, with the scripted browser"
    assert me.tokens["access_token"] not in repr(me)


def test_the_notebook_carries_on_with_the_learners_own_login(lab: Lab, learner: Learner) -> None:
    learner.will(lambda link: lab.browser().sign_in(link, "bob", "bob-lab-password"))
    me = own_browser.sign_in(lab, interactive=True, timeout_s=20)
    assert me is not None and me.name == "Bob Cyclist" and me.browser is None
    assert me.tokens["userinfo"]["sub"] == "user-2-bob"
    assert lab.frontend.logins == {}  # the ticket is settled and gone


def test_deny_says_so_and_keeps_nothing(lab: Lab, learner: Learner, capsys) -> None:  # noqa: ANN001
    sessions_before = dict(lab.frontend.sessions)
    learner.will(lambda link: lab.browser().sign_in(link, *ALICE, consent="deny"))
    assert own_browser.sign_in(lab, interactive=True, timeout_s=20) is None
    assert "access_denied" in capsys.readouterr().out
    assert lab.frontend.sessions == sessions_before and lab.frontend.logins == {}


def test_a_login_after_the_timeout_is_not_taken(lab: Lab, learner: Learner, capsys) -> None:  # noqa: ANN001
    assert own_browser.sign_in(lab, interactive=True, timeout_s=0.3) is None
    assert "No sign-in within" in capsys.readouterr().out
    late = lab.browser()
    late.sign_in(learner.links.pop(), *ALICE)  # the learner comes back too late
    assert lab.frontend.logins == {}  # nothing waits for it, nothing is recorded for it


@pytest.fixture(scope="module")
def agentcore_lab() -> Iterator[Lab]:
    with Lab(agentcore=True) as lab:
        register_coach(lab)
        yield lab


def register_coach(lab: Lab) -> None:
    """The coach's workload identity (returning to the app's page) and its provider."""
    control = aws.client(
        "bedrock-agentcore-control", lab.agentcore.identity.control_server.url, aws.OPERATOR
    )
    control.create_workload_identity(
        name="fitness-agent",
        allowedResourceOauth2ReturnUrls=[lab.urls.frontend + "/agentcore/return"],
    )
    control.create_oauth2_credential_provider(
        name="lab-fitness-api",
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": lab.urls.discovery},
                "clientId": "agentcore-outbound",
                "clientSecret": lab.client_secret("agentcore-outbound"),
            }
        },
    )


def start_consent(lab: Lab, tokens: dict, force: bool = True) -> dict:
    runtime = aws.client(
        "bedrock-agentcore", lab.agentcore.identity.data_server.url, aws.AGENT_RUNTIME
    )
    wat = runtime.get_workload_access_token_for_jwt(
        workloadName="fitness-agent", userToken=tokens["access_token"]
    )["workloadAccessToken"]
    return runtime.get_resource_oauth2_token(
        workloadIdentityToken=wat,
        resourceCredentialProviderName="lab-fitness-api",
        scopes=["activities:read"],
        oauth2Flow="USER_FEDERATION",
        resourceOauth2ReturnUrl=lab.urls.frontend + "/agentcore/return",
        forceAuthentication=force,
    )


def test_scripted_consent_completes(agentcore_lab: Lab) -> None:
    me = own_browser.sign_in(agentcore_lab, *ALICE)
    started = start_consent(agentcore_lab, me.tokens)
    assert own_browser.consent(agentcore_lab, me, started).startswith("COMPLETED")


def test_the_learner_consents_in_their_own_browser(agentcore_lab: Lab, learner: Learner) -> None:
    browser = agentcore_lab.browser()  # the learner's browser, signed in to the app
    browser.sign_in(agentcore_lab.urls.frontend + "/login", *ALICE)
    me = own_browser.SignedIn(
        "Alice Runner",
        agentcore_lab.frontend.session_tokens(browser.session.cookies["frontend_session"]),
    )
    started = start_consent(agentcore_lab, me.tokens)
    learner.will(lambda link: browser.sign_in(link, *ALICE))
    outcome = own_browser.consent(agentcore_lab, me, started, interactive=True, timeout_s=20)
    assert outcome.startswith("COMPLETED")


def test_an_abandoned_consent_is_ended(agentcore_lab: Lab, learner: Learner) -> None:
    me = own_browser.sign_in(agentcore_lab, *BOB)  # no consent of his yet
    started = start_consent(agentcore_lab, me.tokens)
    outcome = own_browser.consent(agentcore_lab, me, started, interactive=True, timeout_s=0.3)
    assert outcome.startswith("No answer within")
    late = me.browser.sign_in(learner.links.pop(), *BOB)  # the consent comes back too late
    assert late.status_code == 410 and late.json()["error"] == "consent_abandoned"
    session = agentcore_lab.agentcore.identity.data.sessions.find(started["sessionUri"])
    assert session.status == "IN_PROGRESS"  # never completed
    again = start_consent(agentcore_lab, me.tokens, force=False)
    assert "accessToken" not in again and "authorizationUrl" in again  # nothing in the vault


# -- through Jupyter's proxy ------------------------------------------------------------


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real Jupyter server with jupyter-server-proxy, as a hub's single-user server has."""
    port, token = ports_to_bind_later(), secrets.token_urlsafe(16)
    log = open(tmp_path_factory.mktemp("jupyter") / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("jupyter")),
            "server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.open_browser=False",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "api", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError("the Jupyter server did not start")
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_the_horizon_reads_jupyters_public_url_from_the_environment() -> None:
    assert not Horizon.from_env({}).proxied
    horizon = Horizon.from_env({JUPYTER_URL_VAR: "https://hub.example/user/alice/"})
    assert horizon.public("http://127.0.0.1:4321/login?x=1") == (
        "https://hub.example/user/alice/proxy/4321/login?x=1"
    )
    assert horizon.public("https://elsewhere.example/a") == "https://elsewhere.example/a"
    link = horizon.public_link(
        "http://127.0.0.1:1/authorize?redirect_uri=http%3A%2F%2F127.0.0.1%3A2%2Fcb"
    )
    assert "redirect_uri=https%3A%2F%2Fhub.example%2Fuser%2Falice%2Fproxy%2F2%2Fcb" in link


def test_on_a_hub_the_horizon_is_the_public_url_jupyterhub_gives_the_server() -> None:
    hub = {HUB_PUBLIC_URL_VAR: "https://class.example/user/ada/"}
    assert Horizon.from_env(hub).jupyter_url == "https://class.example/user/ada/"
    # Set by the learner or trainer, LAB_JUPYTER_URL wins (a tunnel, another proxy).
    chosen = {**hub, JUPYTER_URL_VAR: "http://127.0.0.1:9999/"}
    assert Horizon.from_env(chosen).jupyter_url == "http://127.0.0.1:9999/"


def test_signing_in_through_jupyters_proxy(jupyter: tuple[str, str], learner: Learner) -> None:
    url, token = jupyter
    with Lab(horizon=Horizon(url)) as lab:
        browser = lab.browser()
        browser.session.headers["Authorization"] = f"token {token}"  # the Jupyter login

        def learner_signs_in(link: str) -> None:
            assert link.startswith(f"{url}proxy/{lab.urls.frontend.rsplit(':', 1)[1]}/login")
            browser.sign_in(link, *ALICE)

        learner.will(learner_signs_in)
        me = own_browser.sign_in(lab, interactive=True, timeout_s=30)
        assert me is not None and me.name == "Alice Runner"
        # Every page the browser saw came through the proxy; the cookies are scoped to it.
        assert all(hop.url.startswith(url + "proxy/") for hop in browser.history)
        assert {c.path for c in browser.session.cookies} >= {
            f"/proxy/{lab.urls.issuer.rsplit(':', 1)[1]}",
            f"/proxy/{lab.urls.frontend.rsplit(':', 1)[1]}",
        }
        # The issuer stays the internal one: the same iss everywhere tokens are checked.
        assert me.tokens["userinfo"]["sub"] == "user-1-alice"
        assert decode_unverified(me.tokens["access_token"])[1]["iss"] == lab.urls.issuer


def test_consenting_through_jupyters_proxy(jupyter: tuple[str, str], learner: Learner) -> None:
    """USER_FEDERATION on a hub: the consent link, the IdP's pages, AgentCore's callback and
    the app's return page all reached through the proxy, and the session bound all the same."""
    url, token = jupyter
    with Lab(agentcore=True, horizon=Horizon(url)) as lab:
        register_coach(lab)
        browser = lab.browser()
        browser.session.headers["Authorization"] = f"token {token}"  # the Jupyter login
        learner.will(lambda link: browser.sign_in(link, *ALICE))
        me = own_browser.sign_in(lab, interactive=True, timeout_s=30)
        assert me is not None
        started = start_consent(lab, me.tokens)
        learner.will(lambda link: browser.sign_in(link, *ALICE))
        outcome = own_browser.consent(lab, me, started, interactive=True, timeout_s=30)
        assert outcome.startswith("COMPLETED"), outcome
        assert all(hop.url.startswith(url + "proxy/") for hop in browser.history)
        data_port = lab.agentcore.identity.data_server.port
        assert any(
            f"/proxy/{data_port}/identities/oauth2/callback" in hop.url for hop in browser.history
        )
