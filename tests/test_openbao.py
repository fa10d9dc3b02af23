"""OpenBao as the agent's secret store: a real ``bao server -dev``, and an agent that logs in
with the access token the lab IdP gave it instead of a stored credential.

OpenBao judges ``exp`` and ``nbf`` by wall time, not by the lab clock. So this module runs a
lab of its own: the session lab's clock may have been fast-forwarded by other tests, and
then every token it issues is "not yet valid" to OpenBao.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import hvac
import psutil
import pytest
import requests
from conftest import Forger, login_tokens
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers.lab import Lab
from helpers.masking import mask
from helpers.secrets import openbao
from helpers.secrets.openbao import OpenBaoServer, configure_jwt_auth, login_with_jwt
from helpers.serving import LOOPBACK

attack = pytest.mark.attack
AGENT = "fitness-agent"
API_KEY = "fitness/api-key"  # KV v2: read at secret/data/fitness/api-key
FITNESS_PATHS = "secret/data/fitness/*"
AGENT_SCOPE = "openid agent:invoke activities:read"  # aud: fitness-agent, fitness-api, …


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as lab:
        yield lab


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("openbao")


def trust_lab_idp(lab: Lab, server: OpenBaoServer) -> None:
    configure_jwt_auth(
        server, discovery_url=lab.urls.discovery, audience=AGENT, policy_paths=[FITNESS_PATHS]
    )


@pytest.fixture(scope="module")
def bao(lab: Lab, state_dir: Path) -> Iterator[OpenBaoServer]:
    with OpenBaoServer(state_dir) as server:
        trust_lab_idp(lab, server)
        server.client().secrets.kv.v2.create_or_update_secret(API_KEY, secret={"key": "k-v1"})
        yield server


@pytest.fixture(scope="module")
def agent(lab: Lab, bao: OpenBaoServer) -> hvac.Client:
    return login_with_jwt(bao.url, login_tokens(lab, scope=AGENT_SCOPE)["access_token"])


def read_key(client: hvac.Client) -> dict:
    return client.secrets.kv.v2.read_secret_version(API_KEY, raise_on_deleted_version=True)


def test_server_is_healthy_on_loopback_within_two_seconds(bao: OpenBaoServer):
    health = requests.get(f"{bao.url}/v1/sys/health", timeout=5).json()
    assert bao.url.startswith(f"http://{LOOPBACK}:")
    assert health["initialized"] and not health["sealed"]
    assert bao.ready_after_s < 2


def test_root_token_is_in_no_repr_argv_or_log(bao: OpenBaoServer, state_dir: Path):
    assert bao.root_token not in repr(bao)
    assert mask(bao.root_token) in repr(bao)
    assert bao.root_token not in " ".join(psutil.Process(bao.pid).cmdline())
    assert bao.root_token not in (state_dir / "openbao.log").read_text()


def test_agent_reads_the_api_key_with_an_idp_access_token(agent: hvac.Client):
    assert read_key(agent)["data"]["data"] == {"key": "k-v1"}
    token = agent.auth.token.lookup_self()["data"]
    assert token["policies"] == ["agent-secrets", "default"]
    assert 0 < token["ttl"] <= 300


@attack
def test_id_token_for_another_audience_is_refused(lab: Lab, bao: OpenBaoServer):
    id_token = login_tokens(lab, scope=AGENT_SCOPE)["id_token"]  # aud: fitness-frontend
    with pytest.raises(hvac.exceptions.InvalidRequest, match="audience"):
        login_with_jwt(bao.url, id_token)


def agent_claims(forge: Forger, expires_in: int) -> dict:
    # Wall time, not the lab clock: that is the clock OpenBao checks exp against (allowing
    # 60 s of skew, so "expired" below means five minutes ago).
    now = int(time.time())
    return forge.claims(aud=[AGENT], iat=now - 600, nbf=now - 600, exp=now + expires_in)


def test_control_forged_token_that_has_not_expired_logs_in(bao: OpenBaoServer, forge: Forger):
    login_with_jwt(bao.url, forge.sign(claims=agent_claims(forge, expires_in=300)))


@attack
def test_expired_token_is_refused(bao: OpenBaoServer, forge: Forger):
    expired = forge.sign(claims=agent_claims(forge, expires_in=-300))
    with pytest.raises(hvac.exceptions.InvalidRequest, match="token is expired"):
        login_with_jwt(bao.url, expired)


@attack
def test_path_outside_the_policy_is_forbidden(bao: OpenBaoServer, agent: hvac.Client):
    bao.client().secrets.kv.v2.create_or_update_secret("billing/stripe", secret={"key": "sk"})
    with pytest.raises(hvac.exceptions.Forbidden):
        agent.secrets.kv.v2.read_secret_version("billing/stripe", raise_on_deleted_version=True)


@attack
def test_read_policy_does_not_allow_writing(agent: hvac.Client):
    with pytest.raises(hvac.exceptions.Forbidden):
        agent.secrets.kv.v2.create_or_update_secret(API_KEY, secret={"key": "attacker"})


def test_configuring_again_keeps_logins_working(lab: Lab, bao: OpenBaoServer):
    trust_lab_idp(lab, bao)  # a notebook cell run twice
    again = login_with_jwt(bao.url, login_tokens(lab, scope=AGENT_SCOPE)["access_token"])
    assert read_key(again)["data"]["data"] == {"key": "k-v1"}


def test_rotation_is_seen_by_the_next_read(bao: OpenBaoServer, agent: hvac.Client):
    path = "fitness/db-password"
    for version, value in enumerate(["before-rotation", "after-rotation"], start=1):
        bao.client().secrets.kv.v2.create_or_update_secret(path, secret={"password": value})
        read = agent.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)
        assert read["data"]["data"] == {"password": value}
        assert read["data"]["metadata"]["version"] == version


def test_operator_variables_do_not_reach_bao(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VAULT_TOKEN", "operator-token")
    monkeypatch.setenv("BAO_ADDR", "http://203.0.113.1:8200")
    with OpenBaoServer(tmp_path) as server:
        inherited = psutil.Process(server.pid).environ()
    assert {name for name in inherited if name.startswith(("VAULT_", "BAO_"))} == {
        "BAO_DEV_ROOT_TOKEN_ID"  # the lab's own, set for this child only
    }


def test_stop_leaves_no_process_and_frees_the_port(tmp_path: Path):
    server = OpenBaoServer(tmp_path)
    family = [server.pid, *(c.pid for c in psutil.Process(server.pid).children(recursive=True))]
    server.stop()
    server.stop()  # idempotent
    assert not [pid for pid in family if psutil.pid_exists(pid)]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/v1/sys/health", timeout=5)
    socket.create_server((LOOPBACK, server.port)).close()  # nobody listens there any more


def test_a_port_taken_before_bao_binds_it_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    with socket.create_server((LOOPBACK, 0)) as squatter:
        taken = squatter.getsockname()[1]
        ports = chain([taken], iter(openbao._free_port, None))
        monkeypatch.setattr(openbao, "_free_port", lambda: next(ports))
        with OpenBaoServer(tmp_path) as server:
            assert server.port != taken
            assert requests.get(f"{server.url}/v1/sys/health", timeout=5).ok


@attack
def test_token_signed_by_an_attackers_key_is_refused(
    bao: OpenBaoServer, forge: Forger, attacker_key: rsa.RSAPrivateKey
):
    forged = forge.sign(claims=agent_claims(forge, expires_in=300), key=attacker_key)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="signature"):
        login_with_jwt(bao.url, forged)


@attack
def test_token_from_another_issuer_is_refused(bao: OpenBaoServer, forge: Forger):
    claims = {**agent_claims(forge, expires_in=300), "iss": "https://evil.example"}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="issuer"):
        login_with_jwt(bao.url, forge.sign(claims=claims))


@attack
def test_token_meant_only_for_the_fitness_api_is_refused(bao: OpenBaoServer, forge: Forger):
    claims = {**agent_claims(forge, expires_in=300), "aud": ["fitness-api"]}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="audience"):
        login_with_jwt(bao.url, forge.sign(claims=claims))
