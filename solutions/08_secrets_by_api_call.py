"""Notebook 08 · Secrets by direct API call: worked solutions."""

import secrets

from helpers.exercises import Verdict, check_agent_secret, check_api_secret_handling
from helpers.lab import Lab
from helpers.secrets.openbao import login_with_jwt


def api_secret_handling(lab: Lab) -> Verdict:
    """Throttling: back off with jitter; permission denied: give up; stale within the hard
    TTL: serve it and refresh; past it: the error; EXTERNAL follows the secret; provider 51
    is over the quota."""
    return check_api_secret_handling(
        {1: "C", 2: "A", 3: "B", 4: "B", 5: "D", 6: "A", 7: "E", 8: "F"}
    )


def agent_secret(lab: Lab) -> Verdict:
    """The agent's policy reads secret/data/fitness/*, so the secret goes under fitness/
    (anywhere else the agent gets 403). The operator stores it with the root client; the
    agent logs in with Alice's access token (audience fitness-agent) and reads it with the
    5-minute OpenBao token that login gives it: no credential for the store in the agent."""
    path = "fitness/maps-api-key"
    bao = lab.openbao.server.client()  # the operator
    bao.secrets.kv.v2.create_or_update_secret(path, secret={"api_key": secrets.token_urlsafe(24)})

    alice = lab.browser()
    alice.sign_in(lab.urls.frontend + "/login", "alice", "alice-lab-password")
    cookie = alice.session.cookies["frontend_session"]
    alice_token = lab.frontend.session_tokens(cookie)["access_token"]
    agent_bao = login_with_jwt(lab.openbao.server.url, alice_token)
    read = agent_bao.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)
    return check_agent_secret(lab, path, read["data"]["data"]["api_key"])
