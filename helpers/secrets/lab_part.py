"""OpenBao in the lab: a dev server whose JWT auth method trusts the lab IdP, so an agent
logs in with its own token instead of a static "secret zero"."""

from __future__ import annotations

import shutil

from .. import processes
from .openbao import OpenBaoServer, configure_jwt_auth

AGENT_ROLE = "agent"
AGENT_AUDIENCE = "fitness-agent"  # OpenBao accepts tokens meant for the agent only
AGENT_PATHS = ["secret/data/fitness/*"]


class OpenBaoPart:
    def __init__(self, discovery_url: str) -> None:
        self.state_dir = processes.state_dir("openbao")
        self.server = OpenBaoServer(self.state_dir)
        configure_jwt_auth(
            self.server,
            discovery_url=discovery_url,
            audience=AGENT_AUDIENCE,
            policy_paths=AGENT_PATHS,
            role=AGENT_ROLE,
        )

    def env(self) -> dict[str, str]:
        # Where clients find the server; never a token: the operator uses
        # server.client(), an agent logs in with its JWT.
        return {"VAULT_ADDR": self.server.url, "BAO_ADDR": self.server.url}

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
