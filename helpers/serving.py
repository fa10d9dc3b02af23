"""Background HTTP servers for the lab: bind 127.0.0.1 on a free port, wait, stop cleanly.

Every lab service is a real WSGI app behind werkzeug's threaded server, so learners talk
to it with real HTTP clients. Port 0 lets the OS pick a free port: re-running a notebook
cell never collides with a server that is still shutting down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

LOOPBACK = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    """Access logs would drown notebook output; errors still surface as HTTP 500."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        if type == "error":
            super().log(type, message, *args)


class BackgroundServer:
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

    def wait_ready(self, path: str = "/healthz", deadline_s: float = 5.0) -> None:
        """Poll until the service answers 200, or fail with a message a learner can act on."""
        until = time.monotonic() + deadline_s
        last_error = "no answer"
        while time.monotonic() < until:
            try:
                if requests.get(self.url + path, timeout=0.5).status_code == 200:
                    return
                last_error = "not healthy yet"
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            time.sleep(0.02)
        raise TimeoutError(
            f"{self.name} at {self.url} not ready after {deadline_s}s ({last_error})"
        )

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
