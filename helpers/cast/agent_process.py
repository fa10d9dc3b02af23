"""Agents deployed the way AgentCore Runtime deploys them: as a separate process.

A runtime container gets its own environment: its execution role's credentials, the
Identity endpoint, nothing of the caller's. So the lab starts each agent as a child
process with an explicit environment allow-list, instead of in the notebook's kernel
(where it would inherit the operator's credentials and every other variable).

``python -m helpers.cast.agent_process coach`` (or ``mcp``, the fitness MCP server) is the
child: it binds 127.0.0.1 on a port the OS picks, prints ``LISTENING <port>``, and serves
the app with uvicorn. Each child gets its own runtime role's credentials, as on AgentCore
Runtime.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..processes import child_env, reap, spawn
from ..serving import LOOPBACK, Listening

if TYPE_CHECKING:
    from starlette.types import ASGIApp


class AgentProcess(Listening):
    def __init__(self, name: str, kind: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        # DOCKER_CONTAINER: the SDK must never fall back to local-dev mode.
        environment = child_env({**env, "DOCKER_CONTAINER": "1"})
        self._log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        self._proc = spawn(
            [sys.executable, "-m", __name__, kind],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
        )
        self.port = self._read_port(deadline_s=30)
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _read_port(self, deadline_s: float) -> int:
        ready, _, _ = select.select([self._proc.stdout], [], [], deadline_s)
        line = self._proc.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"agent {self.name} did not start; see its log")
        return int(line.split()[1])

    def stop(self) -> None:
        reap(self._proc)
        self._proc.stdout.close()
        self._log.close()


def _coach() -> ASGIApp:
    from .coach_agent import app_from_env  # SDK import after env is set

    return app_from_env()


def _mcp() -> ASGIApp:
    from .mcp_server import app_from_env

    return app_from_env()


_KINDS: dict[str, Callable[[], ASGIApp]] = {"coach": _coach, "mcp": _mcp}


def _serve(kind: str) -> None:
    import uvicorn  # the child's server; the lab that starts children never serves ASGI

    if kind not in _KINDS:
        raise SystemExit(f"unknown agent kind {kind!r}")
    sock = socket.create_server((LOOPBACK, 0))
    app = _KINDS[kind]()  # built before LISTENING: the lab waits for imports to finish
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    _serve(sys.argv[1])
