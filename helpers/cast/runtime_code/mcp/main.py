"""The fitness MCP server as deployed to AgentCore Runtime (direct code deployment).

Its configuration comes from the runtime's environment variables (``MCP_*``), its AWS
credentials from the runtime's execution role. The runtime's MCP contract: streamable
HTTP at ``/mcp`` on port 8000 of the container; the lab serves it on a loopback port of
its own instead.
"""

import uvicorn

from helpers.cast.mcp_server import app_from_env

app = app_from_env()

if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=8000)  # noqa: S104 - the container's contract
