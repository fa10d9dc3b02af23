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
        # Where clients find the server, and the operator's token, as a dev server hands
        # both to the operator's shell: `hvac.Client()` is the operator. An agent never
        # uses it: login_with_jwt starts without a token and logs in with its JWT.
        url = self.server.url
        return {"VAULT_ADDR": url, "BAO_ADDR": url, "VAULT_TOKEN": self.server.root_token}

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)
