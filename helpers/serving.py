"""Background HTTP servers for the lab: bind 127.0.0.1 on a free port, wait, stop cleanly.

Most lab services are real WSGI apps behind werkzeug's threaded server; ASGI apps (the
AgentCore runtime's agent, MCP servers) run under uvicorn instead. Either way learners talk
to them with real HTTP clients. Port 0 lets the OS pick a free port: re-running a notebook
cell never collides with a server that is still shutting down.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:  # uvicorn is imported where an ASGI app is served, not by every user
    import uvicorn
    from starlette.types import ASGIApp

LOOPBACK = "127.0.0.1"


def oauth_refusal(status: int, reason: str) -> tuple[dict, dict[str, str]]:
    """An unparseable request, told the OAuth way (RFC 6749 §5.2): ``invalid_request``."""
    return {"error": "invalid_request", "error_description": reason}, {}


def aws_refusal(status: int, reason: str) -> tuple[dict, dict[str, str]]:
    """An unparseable request, told the AWS rest-json way: a message and the error type."""
    return {"message": reason}, {"x-amzn-ErrorType": "SerializationException"}


Refusal = Callable[[int, str], tuple[dict, dict[str, str]]]


class _QuietHandler(WSGIRequestHandler):
    """Access logs would drown notebook output; errors still surface as HTTP 500.

    Requests too broken to reach the app (a URI over 64 KiB, a header line too long, a
    garbled request line) are answered by http.server itself, with an HTML page; here
    they get a JSON body in the service's own error format instead.
    """

    refusal: Refusal = staticmethod(oauth_refusal)

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        if type == "error":
            super().log(type, message, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        reason = message or self.responses.get(code, ("Bad request",))[0]
        body, headers = self.refusal(code, reason)
        payload = json.dumps(body).encode()
        self.send_response(code, self.responses.get(code, ("Error",))[0])
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class Stoppable(Protocol):
    def stop(self) -> None: ...


def stop_together(services: Iterable[Stoppable | None]) -> None:
    """Stop every service at once: each stop waits for its own thread or process to end,
    and a lab of a dozen would otherwise wait for them one after the other."""
    threads = [
        threading.Thread(target=service.stop, name=f"stop-{type(service).__name__}")
        for service in services
        if service is not None
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def wait_until_ok(
    url: str,
    what: str,
    deadline_s: float,
    still_alive: Callable[[], None] = lambda: None,
    ready: Callable[[int], bool] = lambda status: status == 200,
) -> None:
    """Poll ``url`` until it answers 200 (or a status ``ready`` accepts), or fail with a
    message a learner can act on.

    ``still_alive`` may raise to stop waiting at once (a child process that already died).
    """
    until = time.monotonic() + deadline_s
    last_error = "no answer"
    while time.monotonic() < until:
        still_alive()
        try:
            if ready(requests.get(url, timeout=1).status_code):
                return
            last_error = "not healthy yet"
        except requests.RequestException as exc:
            last_error = type(exc).__name__
        time.sleep(0.02)
    raise TimeoutError(f"{what} at {url} not ready after {deadline_s}s ({last_error})")


class Listening:
    """What every lab server shares: a name, a URL known before its app, readiness polling."""

    name: str
    url: str

    def wait_ready(
        self,
        path: str = "/healthz",
        deadline_s: float = 5.0,
        still_alive: Callable[[], None] = lambda: None,
        ready: Callable[[int], bool] = lambda status: status == 200,
    ) -> None:
        wait_until_ok(self.url + path, self.name, deadline_s, still_alive, ready)


def ports_to_bind_later(count: int = 1) -> int:
    """The first of ``count`` free 127.0.0.1 ports in a row, for servers that bind them later.

    Drawn below the ephemeral ranges (Linux from 32768, macOS from 49152), where servers
    binding port 0 and every outgoing connection take theirs: found free here, a port stays
    free until its server binds it. Two test workers showed the race above them.
    """
    for _ in range(50):
        base = 20_000 + secrets.randbelow(12_000)
        try:
            for port in range(base, base + count):
                with socket.create_server((LOOPBACK, port)):
                    pass
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} free ports in a row")


class BackgroundServer(Listening):
    """One WSGI app served from a daemon thread until :meth:`stop`."""

    def __init__(self, name: str, port: int = 0, refusal: Refusal = oauth_refusal) -> None:
        self.name = name
        self.app: Callable | None = None
        # A handler class of this server's own: the refusal is per service.
        handler = type("Handler", (_QuietHandler,), {"refusal": staticmethod(refusal)})
        # Bind before the app exists: apps need each other's URLs (redirect URIs, issuer).
        # We bind, not werkzeug: it answers a taken port with sys.exit(1), and a caller
        # asking for a remembered port needs an OSError to fall back on.
        with socket.create_server((LOOPBACK, port)) as listener:
            self._server: BaseWSGIServer = make_server(
                LOOPBACK,
                port,
                self._dispatch,
                threaded=True,
                request_handler=handler,
                fd=listener.fileno(),
            )
        self._server.daemon_threads = True
        self.port: int = self._server.port
        self.url = f"http://{LOOPBACK}:{self.port}"
        # A short poll interval: stop() waits for the serve loop to notice, and a notebook
        # re-running its start cell should not wait half a second per service.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"lab-{name}", daemon=True
        )

    def _dispatch(self, environ: dict, start_response: Callable) -> Any:
        assert self.app is not None, "start() mounts the app before serving"
        return self.app(environ, start_response)

    def start(self, app: Callable) -> BackgroundServer:
        self.app = app
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


class BackgroundAsgiServer(Listening):
    """One ASGI app under uvicorn, served from a daemon thread until :meth:`stop`.

    Readiness: ``BedrockAgentCoreApp`` answers ``GET /ping``, so pass that to
    :meth:`wait_ready`. uvicorn installs signal handlers only from the main thread, so
    Ctrl+C in a notebook still interrupts the kernel, not this server.
    """

    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        # Bind (and listen) before the app exists, as BackgroundServer does: the URL goes
        # into other services' configuration, and early requests queue instead of failing.
        self._socket = socket.create_server((LOOPBACK, port))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._serve, name=f"lab-{name}", daemon=True)

    def _serve(self) -> None:
        assert self._server is not None, "start() builds the server before serving"
        self._server.run(sockets=[self._socket])

    def start(self, app: ASGIApp) -> BackgroundAsgiServer:
        import uvicorn

        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            # A request still in flight (an agent waiting on a slow call) would otherwise
            # hold stop() until it finishes; past 1 s uvicorn cancels it.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread.is_alive():
            # uvicorn's own shutdown path: it notices within 0.1 s, drains, then closes
            # the listening socket it was handed.
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._socket.close()  # never started, or already closed by uvicorn: both fine
