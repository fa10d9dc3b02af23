"""A runtime's container, in the lab: the deployed code's entry point as a child process.

With direct code deployment, AgentCore Runtime unpacks the code zip and runs its entry
point, which serves on every interface of its container: ``BedrockAgentCoreApp.run()``
on port 8080 (HTTP), an MCP server on port 8000. In the lab many runtimes share one
machine and bind 127.0.0.1 only, so the emulator binds a free loopback port for each
runtime and hands the listening socket to the child (``LAB_RUNTIME_SOCKET_FD``). The
child runs the entry point unchanged, as ``__main__``, with uvicorn told to serve on that
socket whatever host and port the code asks for.

``python -m helpers.agentcore.runtime_host ENTRY_POINT`` runs in the unpacked code's
directory. It imports only the standard library and uvicorn: a runtime pays for what
its own code imports, nothing of the lab's.
"""

from __future__ import annotations

import os
import runpy
import socket
import sys
from typing import Any

from .. import skipped_imports

SOCKET_FD_VAR = "LAB_RUNTIME_SOCKET_FD"


def serve_on_inherited_socket() -> None:
    """Make every uvicorn server of this process serve on the socket the lab passed."""
    import uvicorn

    listener = socket.socket(fileno=int(os.environ.pop(SOCKET_FD_VAR)))
    serve = uvicorn.Server.serve

    async def serve_on_lab_socket(self: uvicorn.Server, sockets: Any = None) -> None:
        await serve(self, sockets=[listener])

    uvicorn.Server.serve = serve_on_lab_socket  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m helpers.agentcore.runtime_host ENTRY_POINT")
    sys.path.insert(0, os.getcwd())  # the code's own modules, as in its container
    skipped_imports.skip()  # in the course's environment for Jupyter, no runtime's
    serve_on_inherited_socket()
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
