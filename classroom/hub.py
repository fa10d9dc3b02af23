"""The class on this machine, from Python: the trainer's JupyterHub (jupyterhub_config.py)
started on free ports, learners signed in as their browsers would sign in, and stopped.

The hub tests (tests/test_hub.py) and the classroom benchmark (bench/classroom.py) use it;
a trainer runs the same configuration with ``python3 course.py hub``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from helpers.processes import STATE_PREFIX, reap
from helpers.serving import ports_to_bind_later, wait_until_ok

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"


@dataclass
class Hub:
    """JupyterHub with the class's configuration, its state and log in ``state``."""

    state: Path
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    # The hub, its API and the proxy's API, in a row.
    port: int = field(default_factory=lambda: ports_to_bind_later(3))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def log_path(self) -> Path:
        return self.state / "hub.log"

    def start(self, deadline_s: float = 60) -> Hub:
        if not PROXY.exists():
            raise FileNotFoundError(
                "configurable-http-proxy is missing: `python3 course.py test` installs it"
            )
        env = {
            **os.environ,
            "CLASS_PASSWORD": self.password,
            "CLASS_PORT": str(self.port),
            "CLASS_STATE_DIR": str(self.state),
        }
        self._log = open(self.log_path, "w")  # noqa: SIM115 - open while the hub runs
        hub = [str(Path(sys.executable).with_name("jupyterhub")), "-f", str(CONFIG)]
        self.proc = subprocess.Popen(
            hub, env=env, cwd=self.state, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until_ok(self.url + "hub/health", "JupyterHub", deadline_s, self._still_running)
        return self

    def _still_running(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"JupyterHub exited: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        reap(self.proc, grace_s=60)  # SIGTERM: the hub stops every server, then its proxy
        self._log.close()

    def sign_in(self, name: str) -> SignedIn:
        """Sign ``name`` in with the class password, as the login form does, and get an
        API token of theirs (as the hub's token page does)."""
        session = requests.Session()
        session.get(self.url + "hub/login", timeout=30)
        xsrf = session.cookies.get("_xsrf", path="/hub/")
        form = {"username": name, "password": self.password, "_xsrf": xsrf}
        signed = session.post(self.url + "hub/login", data=form, allow_redirects=False, timeout=60)
        if signed.status_code != 302:
            raise PermissionError(f"the hub refused {name!r} (HTTP {signed.status_code})")
        # The hub checks the token of the session it has just begun.
        xsrf = session.cookies.get("_xsrf", path="/hub/")
        made = session.post(
            f"{self.url}hub/api/users/{name}/tokens",
            data=json.dumps({"note": "signed in from Python"}),
            headers={"X-XSRFToken": xsrf},
            timeout=30,
        )
        made.raise_for_status()
        return SignedIn(self, name, made.json()["token"])


@dataclass
class SignedIn:
    """A learner signed in at the hub, with an API token of their own."""

    hub: Hub
    name: str
    token: str

    @property
    def url(self) -> str:
        """Their single-user server, behind the hub."""
        return f"{self.hub.url}user/{self.name}/"

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def _api(self, method: str, path: str) -> requests.Response:
        url = f"{self.hub.url}hub/api/users/{self.name}{path}"
        return requests.request(method, url, headers=self.api_headers(), timeout=60)

    def start_server(self) -> None:
        self._api("POST", "/server").raise_for_status()

    def wait_ready(self, deadline_s: float = 300) -> None:
        until = time.monotonic() + deadline_s
        while time.monotonic() < until:
            server = self._api("GET", "").json().get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name}'s server not ready after {deadline_s}s")

    def stop_server(self) -> None:
        self._api("DELETE", "/server").raise_for_status()


def remove_accounts(names: list[str]) -> None:
    """The OS accounts a root hub made for these learners, with their homes and whatever
    their labs left in the temporary directory: JupyterHub stops a server with SIGINT,
    which a server without a terminal does not turn into a kernel shutdown, so a killed
    kernel's lab leaves its state for that learner's next lab to remove."""
    if os.geteuid() != 0:
        return
    until = time.monotonic() + 30  # userdel refuses an account a process still runs as
    while _running_as(names) and time.monotonic() < until:
        time.sleep(0.2)
    for path in Path(tempfile.gettempdir()).glob(f"{STATE_PREFIX}*"):
        with contextlib.suppress(KeyError, OSError):  # an owner gone, a path gone meanwhile
            if path.owner() in names:
                shutil.rmtree(path)
    for name in names:
        subprocess.run(["userdel", "--remove", name], capture_output=True)
    left = [name for name in names if _account_exists(name)]
    if left:
        raise RuntimeError(f"could not remove the accounts {left}: {_running_as(left)}")


def _running_as(names: list[str]) -> list[int]:
    return [p.pid for p in psutil.process_iter(["username"]) if p.info["username"] in names]


def _account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
