"""BackgroundAsgiServer, and the coach agent (a real BedrockAgentCoreApp) served by it.

The coach's outbound call is checked against a stand-in for AgentCore Identity's data plane
that records what the SDK sent: the point is what the agent presents (the WAT it was handed)
and what it gets back, not the identity service itself.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from flask import Flask, Response, jsonify, request
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from helpers.cast.coach_agent import CoachConfig, create_coach_agent
from helpers.serving import LOOPBACK, BackgroundAsgiServer, BackgroundServer, ports_to_bind_later

TIMEOUT = 10
WAT = "wat-for-alice-" + "x" * 40
SESSION = "session-0123456789-0123456789-0123456789"
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
OUTBOUND_TOKEN = "outbound-token-for-the-fitness-api"


def hello_app() -> Starlette:
    return Starlette(routes=[Route("/healthz", lambda request: PlainTextResponse("ok"))])


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def threads_left(before: set[threading.Thread]) -> list[str]:
    """Threads started since ``before`` that are still alive after a short grace period."""
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=2)  # anyio's idle workers exit just after the loop closes
    return [t.name for t in set(threading.enumerate()) - before]


# -- BackgroundAsgiServer -------------------------------------------------------------


def test_asgi_server_serves_then_stops_without_leftovers() -> None:
    threads_before = set(threading.enumerate())
    handler_before = signal.getsignal(signal.SIGINT)
    server = BackgroundAsgiServer("hello").start(hello_app())
    server.wait_ready()
    assert server.url == f"http://{LOOPBACK}:{server.port}"
    assert requests.get(f"{server.url}/healthz", timeout=TIMEOUT).text == "ok"
    assert "lab-hello" in [t.name for t in threading.enumerate()]
    # Ctrl+C must still reach the notebook kernel, not the server thread.
    assert signal.getsignal(signal.SIGINT) is handler_before

    server.stop()

    assert threads_left(threads_before) == []
    assert refuses_connections(server.port)
    socket.create_server((LOOPBACK, server.port)).close()  # the port is free again


def test_a_fresh_server_starts_right_after_a_stop() -> None:
    first = BackgroundAsgiServer("first").start(hello_app())
    first.wait_ready()
    first.stop()
    second = BackgroundAsgiServer("second").start(hello_app())
    try:
        second.wait_ready()
        assert requests.get(f"{second.url}/healthz", timeout=TIMEOUT).ok
    finally:
        second.stop()


def test_url_is_known_before_start_and_stop_without_start_frees_the_port() -> None:
    threads_before = set(threading.enumerate())
    server = BackgroundAsgiServer("never-started")
    assert server.port > 0
    server.stop()
    assert refuses_connections(server.port)
    assert threads_left(threads_before) == []


@pytest.mark.parametrize("server_class", [BackgroundServer, BackgroundAsgiServer])
def test_a_taken_port_is_an_oserror_the_caller_can_handle(server_class: type) -> None:
    # werkzeug on its own prints "Port ... is in use" and exits the whole process.
    with socket.create_server((LOOPBACK, 0)) as squatter, pytest.raises(OSError):
        server_class("late", squatter.getsockname()[1])


def test_wait_ready_names_the_service_when_it_never_answers() -> None:
    server = BackgroundAsgiServer("silent")
    try:
        with pytest.raises(TimeoutError, match="silent at http://127.0.0.1"):
            server.wait_ready(deadline_s=0.3)
    finally:
        server.stop()


# -- the coach agent as AgentCore Runtime runs it ---------------------------------------


class FakeIdentity:
    """Answers GetResourceOauth2Token as the data plane would, and remembers each request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[dict] = []
        self.answer: dict = {"accessToken": OUTBOUND_TOKEN}
        self.app = Flask("fake-agentcore-identity")
        self.app.add_url_rule("/identities/oauth2/token", view_func=self._token, methods=["POST"])

    def _token(self) -> Response:
        self.requests.append(request.get_json(force=True))
        return jsonify(self.answer)


def echo_bearer_api() -> Flask:
    app = Flask("fake-fitness-api")
    app.add_url_rule(
        "/v1/athlete/activities",
        view_func=lambda: jsonify(seen_authorization=request.headers.get("Authorization")),
    )
    return app


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    server = BackgroundServer("fake-identity")
    fake = FakeIdentity(server.url)
    server.start(fake.app)
    yield fake
    server.stop()


@pytest.fixture
def coach(identity: FakeIdentity, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    # What a deployment sets up before the agent starts: boto3 finds Identity through the
    # standard per-service endpoint variable, and signs with some credentials.
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", identity.url)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALABTESTONLY00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "lab-test-secret-not-a-real-key")
    monkeypatch.chdir(tmp_path)  # where the SDK's local-dev fallback would write
    threads_before = set(threading.enumerate())
    api = BackgroundServer("fake-fitness-api").start(echo_bearer_api())
    config = CoachConfig(
        provider_name="fitness-api-provider",
        activities_url=f"{api.url}/v1/athlete/activities",
    )
    server = BackgroundAsgiServer("coach").start(create_coach_agent(config))
    server.wait_ready("/ping")
    yield server.url
    server.stop()
    api.stop()
    assert threads_left(threads_before) == []


def invoke(url: str, payload: dict, wat: str | None = WAT, **extra_headers: str) -> dict:
    headers = {SESSION_HEADER: SESSION, **extra_headers}
    if wat is not None:
        headers["WorkloadAccessToken"] = wat
    resp = requests.post(f"{url}/invocations", json=payload, headers=headers, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_coach_answers_ping_like_any_agentcore_agent(coach: str) -> None:
    assert requests.get(f"{coach}/ping", timeout=TIMEOUT).json()["status"] == "Healthy"


def test_coach_sees_the_wat_and_session_the_runtime_forwards(coach: str) -> None:
    answer = invoke(coach, {"prompt": "plan my week"})
    caller = answer["caller"]
    assert caller["wat_present"] is True
    assert caller["session_id"] == SESSION
    assert caller["wat"] == f"{WAT[:4]}…{WAT[-4:]}"  # masked, never whole
    assert WAT not in str(answer)
    assert "plan my week" in answer["reply"]
    assert caller["acting_for"] is None  # no Authorization forwarded: the WAT is opaque


def test_coach_reads_the_user_from_a_forwarded_authorization(coach: str) -> None:
    user_token = jwt.encode({"sub": "user-1-alice"}, "k" * 32, algorithm="HS256")
    answer = invoke(coach, {"prompt": "hi"}, Authorization=f"Bearer {user_token}")
    assert answer["caller"]["acting_for"] == "user-1-alice"
    assert user_token not in str(answer)


def test_coach_without_a_wat_makes_no_outbound_call(
    coach: str, identity: FakeIdentity, tmp_path: Path
) -> None:
    answer = invoke(coach, {"prompt": "hi", "action": "activities"}, wat=None)
    assert answer["caller"]["wat_present"] is False
    assert "no workload access token" in answer["activities"]["error"]
    assert identity.requests == []
    assert not (tmp_path / ".agentcore.json").exists()


def test_coach_trades_its_wat_for_an_outbound_token(coach: str, identity: FakeIdentity) -> None:
    answer = invoke(coach, {"prompt": "my runs?", "action": "activities"})
    assert answer["activities"] == {
        "status": 200,
        "body": {"seen_authorization": f"Bearer {OUTBOUND_TOKEN}"},
    }
    [sent] = identity.requests
    assert sent["workloadIdentityToken"] == WAT
    assert sent["resourceCredentialProviderName"] == "fitness-api-provider"
    assert sent["scopes"] == ["activities:read"]
    assert sent["oauth2Flow"] == "USER_FEDERATION"


def test_coach_hands_the_consent_url_back_instead_of_polling(
    coach: str, identity: FakeIdentity
) -> None:
    consent = "http://127.0.0.1:1/consent?session=abc"
    identity.answer = {"authorizationUrl": consent, "sessionUri": "urn:session:abc"}
    answer = invoke(coach, {"prompt": "my runs?", "action": "activities"})
    assert answer["activities"] == {"consent_required": consent}
    assert len(identity.requests) == 1


def test_ports_to_bind_later_are_free_and_below_the_ephemeral_ranges() -> None:
    base = ports_to_bind_later(3)
    assert base >= 20_000 and base + 2 < 32_768  # Linux's ephemeral range starts there
    for port in range(base, base + 3):
        with socket.create_server(("127.0.0.1", port)):  # each one binds
            pass
