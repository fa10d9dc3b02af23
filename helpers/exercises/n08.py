"""Check yourself, notebook 08 · Secrets by direct API call."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .base import (
    UNANSWERED,
    Verdict,
    check_lettered,
    hands_on,
    lacking,
    show_lettered,
    unanswered,
    verdict,
)

if TYPE_CHECKING:
    import hvac

    from ..lab import Lab

__all__ = [
    "API_SECRET_CHOICES",
    "API_SECRET_SCENARIOS",
    "check_agent_secret",
    "check_api_secret_handling",
    "show_api_secret_scenarios",
]


# What the agent's code should do, or gets, when it reads secrets by API call (notebook 08).
API_SECRET_CHOICES = {
    "A": "give up at once and say why: asking again changes nothing",
    "B": "the cached value, at once; a refresh is tried in the background",
    "C": "retry after a random sleep in [0, min(cap, base · 2ⁿ)]",
    "D": "the store's error: nothing is served past the hard TTL",
    "E": "the new key, with no change to the provider",
    "F": "HTTP 402 ServiceQuotaExceededException",
}
API_SECRET_SCENARIOS = {
    "1": "GetSecretValue answers ThrottlingException.",
    "2": "The agent reads secret/data/billing/stripe-key from OpenBao; its policy covers"
    " secret/data/fitness/*.",
    "3": "A cached key is past its TTL (60 s) and the store is up.",
    "4": "The store went down right after the cache fetched the key, four minutes ago;"
    " TTL 60 s, hard TTL 5 minutes.",
    "5": "The store is still down, six minutes after that fetch.",
    "6": "The MCP server's role calls GetResourceApiKey with the coach's WAT.",
    "7": "The Secrets Manager secret behind an EXTERNAL provider is rotated; then the agent"
    " calls GetResourceApiKey.",
    "8": "The account creates its 51st API-key credential provider in the Region.",
}
_API_SECRET_KEY = {"1": "C", "2": "A", "3": "B", "4": "B", "5": "D", "6": "A", "7": "E", "8": "F"}


def show_api_secret_scenarios() -> None:
    show_lettered(API_SECRET_CHOICES, API_SECRET_SCENARIOS)


def check_api_secret_handling(answers: object) -> Verdict:
    """08: match each scenario to what the agent should do or gets (a letter each)."""
    return check_lettered(
        answers,
        _API_SECRET_KEY,
        "You know which errors to retry, what a cache may still serve, and what the platform"
        " does for you.",
        "is the error permanent or transient, and how old is the cached value?",
    )


# -- a secret of your own, stored by the operator and read by the agent -------------------

_WEATHER_SECRET = "fitness/weather-api-key"  # the notebook's own key: not the learner's
_KV_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_FORM = (
    "pass two strings: the path as you gave it to create_or_update_secret (such as"
    " 'fitness/…'), and the api_key the agent read back."
)


def _kv_path(path: str) -> str | None:
    """``fitness/x`` or its API path ``secret/data/fitness/x``, as ``fitness/x``; None if it
    is no KV path at all."""
    path = path.strip().strip("/").removeprefix("secret/data/")
    if not _KV_PATH.fullmatch(path) or {".", ".."} & set(path.split("/")):
        return None
    return path


def _agent_policy_client(lab: Lab) -> hvac.Client:
    """An OpenBao token with exactly the policies the JWT role ``agent`` grants, good for
    one request: OpenBao itself then says what an agent logged in with its JWT may read."""
    from ..secrets.lab_part import AGENT_ROLE
    from ..secrets.openbao import JWT_MOUNT

    root = lab.openbao.server.client()
    policies = root.auth.jwt.read_role(AGENT_ROLE, path=JWT_MOUNT)["data"]["token_policies"]
    created = root.auth.token.create(
        policies=policies, no_default_policy=True, ttl="1m", num_uses=1
    )
    return lab.openbao.server.client(created["auth"]["client_token"])


@hands_on
def check_agent_secret(lab: Lab, path: object, agent_read: object) -> Verdict:
    """08: store a secret in OpenBao where the agent may read it, and read it back as the
    agent, logged in with Alice's JWT."""
    if unanswered(path) or unanswered(agent_read):
        return UNANSWERED
    if not isinstance(path, str) or not isinstance(agent_read, str):
        return verdict(False, "", _FORM)
    kv_path = _kv_path(path)
    if kv_path is None:
        return verdict(False, "", f"that is no KV path: {_FORM}")
    if kv_path == _WEATHER_SECRET:
        return verdict(
            False,
            "",
            f"{_WEATHER_SECRET} is the weather key the operator stored in the first cell: store"
            " a secret of your own, at a path of your choosing, and pass that path.",
        )
    if (missing := lacking(lab, "openbao")) is not None:
        return missing
    import hvac.exceptions
    import requests

    try:
        agent = _agent_policy_client(lab)
        read = agent.secrets.kv.v2.read_secret_version(kv_path, raise_on_deleted_version=True)
    except hvac.exceptions.Forbidden:
        return verdict(
            False,
            "",
            f"the agent may not read secret/data/{kv_path}: its policy covers"
            " secret/data/fitness/* only, so at that path it gets 403 (section 4).",
        )
    except hvac.exceptions.InvalidPath:
        return verdict(
            False,
            "",
            f"nothing is stored at secret/data/{kv_path}: store it there first, as the operator"
            " (bao.secrets.kv.v2.create_or_update_secret).",
        )
    except (hvac.exceptions.VaultError, requests.RequestException) as exc:
        return verdict(False, "", f"OpenBao did not answer the check ({type(exc).__name__}).")
    stored = read["data"]["data"]
    if "api_key" not in stored:
        return verdict(
            False,
            "",
            f"the secret at {kv_path} has no field api_key (it has {sorted(stored)}): store it"
            " as secret={'api_key': …}, as the first cell did.",
        )
    return verdict(
        stored["api_key"] == agent_read,
        "The operator stored it, and the agent read it with nothing but Alice's JWT: no"
        " secret zero, and a policy that stops at secret/data/fitness/*.",
        f"the api_key stored at {kv_path} is not the value you passed: pass what the agent's"
        " client, logged in with alice_token, read back from there (data → data → api_key).",
    )
