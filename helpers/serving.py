"""Background HTTP servers for the lab: bind 127.0.0.1 on a free port, wait, stop cleanly.

Most lab services are real WSGI apps behind werkzeug's threaded server; ASGI apps (the
AgentCore runtime's agent, MCP servers) run under uvicorn instead. Either way learners talk
to them with real HTTP clients. Port 0 lets the OS pick a free port: re-running a notebook
cell never collides with a server that is still shutting down.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
import uvicorn
from starlette.types import ASGIApp
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

LOOPBACK = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """Access logs would drown notebook output; errors still surface as HTTP 500."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        if type == "error":
            super().log(type, message, *args)


def wait_until_ok(
    url: str, what: str, deadline_s: float, still_alive: Callable[[], None] = lambda: None
) -> None:
    """Poll ``url`` until it answers 200, or fail with a message a learner can act on.

    ``still_alive`` may raise to stop waiting at once (a child process that already died).
    """
    until = time.monotonic() + deadline_s
    last_error = "no answer"
    while time.monotonic() < until:
        still_alive()
        try:
            if requests.get(url, timeout=1).status_code == 200:
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

    def wait_ready(self, path: str = "/healthz", deadline_s: float = 5.0) -> None:
        wait_until_ok(self.url + path, self.name, deadline_s)


class BackgroundServer(Listening):
    """One WSGI app served from a daemon thread until :meth:`stop`."""

    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        self.app: Callable | None = None
        # Bind before the app exists: apps need each other's URLs (redirect URIs, issuer).
        self._server: BaseWSGIServer = make_server(
            LOOPBACK, port, self._dispatch, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        self.port: int = self._server.server_port
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
