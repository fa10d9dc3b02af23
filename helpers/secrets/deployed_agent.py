"""The deployed agent both secret-delivery patterns run: a real child process that holds a
weather API key and says, masked, which one it uses.

Where the key comes from is decided by the environment it is deployed with, one variable:

- ``WEATHER_API_KEY``: the key itself, read once at start-up (deploy time, plaintext);
- ``WEATHER_API_KEY_KMS``: a KMS ciphertext, decrypted once at start-up under the
  encryption context (app, parameter) it was sealed with (deploy time, sealed);
- ``SECRETS_DIR``: a mounted secret volume, read again on every request (volume).

The lab talks to it over a pipe (one JSON request per line on its stdin, one JSON answer
per line on its stdout), so it listens on no port another process could call. Its log
goes to stderr, which the lab keeps in an unnamed temporary file: what was logged is
inspectable, and no plaintext is left on disk after the lab exits.

``deploy(env)`` starts one with exactly ``env`` plus the interpreter's basics (the same
allow-list as every child of the lab, :data:`helpers.processes.INHERITED`); ``redeploy``
replaces it and measures how long there was no agent.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from ..masking import mask
from ..processes import child_env, reap, spawn
from .deploy_time import (
    LOG_REDACTION_VAR,
    PLAIN_VAR,
    SEALED_VAR,
    WEATHER_PARAM,
    RedactingFilter,
    SealError,
    kms_from_env,
    unseal,
)
from .volume import KEY_FILE, MOUNT_VAR, read_consistent

READY = "READY"
# The grandchild the agent spawns: it reports the environment it was given.
_PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"

# -- the child: the agent itself -------------------------------------------------------


def _key_source(env: Mapping[str, str]) -> tuple[str, Callable[[], str]]:
    """Where the key comes from, and how to get its current value."""
    if PLAIN_VAR in env:
        key = env[PLAIN_VAR]
        return "environment", lambda: key
    if SEALED_VAR in env:
        key = unseal(kms_from_env(env), WEATHER_PARAM, env[SEALED_VAR])
        return "environment, sealed with KMS", lambda: key
    if MOUNT_VAR in env:
        mount = Path(env[MOUNT_VAR])
        return "volume", lambda: read_consistent(mount, [KEY_FILE])[KEY_FILE]
    raise SystemExit(f"no weather API key: set {PLAIN_VAR}, {SEALED_VAR} or {MOUNT_VAR}")


def _logger(secrets: Iterable[str]) -> logging.Logger:
    handler = logging.StreamHandler()  # stderr: the lab keeps it as the agent's log
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if os.environ.get(LOG_REDACTION_VAR) == "1":
        handler.addFilter(RedactingFilter(secrets))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    return logging.getLogger("fitness-agent")


def _current_key(read_key: Callable[[], str], request: dict[str, Any]) -> dict[str, Any]:
    return {"key": mask(read_key())}


def _forget(read_key: Callable[[], str], request: dict[str, Any]) -> dict[str, Any]:
    # What agents are told to do once they have read a secret from their environment.
    for var in (PLAIN_VAR, SEALED_VAR):
        if var in os.environ:
            del os.environ[var]
    return {"environ": sorted(os.environ)}


def _spawn(read_key: Callable[[], str], request: dict[str, Any]) -> dict[str, Any]:
    allow = request["allow"]
    # env=None is what subprocess, os.system and most libraries do: inherit everything.
    env = None if allow is None else {k: os.environ[k] for k in allow if k in os.environ}
    child = subprocess.run(
        [sys.executable, "-c", _PRINT_ENV],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return {"env": json.loads(child.stdout)}


_OPS = {"key": _current_key, "forget": _forget, "spawn": _spawn}


def main() -> None:
    try:
        source, read_key = _key_source(os.environ)
    except SealError as exc:
        raise SystemExit(f"deploy failed: {exc}") from exc
    key = read_key()
    # The naive line this lab is about: the resolved config, key included, in the log.
    _logger([key]).info("starting with config %s", {"source": source, "weather_api_key": key})
    print(READY, flush=True)
    for line in sys.stdin:  # ends when the lab closes the pipe: that is how it stops us
        request = json.loads(line)
        print(json.dumps(_OPS[request["op"]](read_key, request)), flush=True)


# -- the lab's side: deploy, ask, stop ---------------------------------------------------


class DeployError(RuntimeError):
    """The agent did not start, or stopped answering; the message is its last log line."""


class DeployedAgent:
    """A running agent, from :func:`deploy` to :meth:`stop`."""

    def __init__(self, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self._proc = proc
        self._log = log
        self._final_log = ""
        self._lock = threading.Lock()  # one request on the pipe at a time

    @property
    def pid(self) -> int:
        return self._proc.pid

    def current_key(self) -> str:
        """The key the agent uses right now, masked."""
        return self._request("key")["key"]

    def forget_env(self) -> list[str]:
        """The agent deletes the key's variable from ``os.environ``; the names left there."""
        return self._request("forget")["environ"]

    def spawn_child(self, allow: Iterable[str] | None = None) -> dict[str, str]:
        """The environment of a process the agent spawns: all of its own if ``allow`` is
        None, else only the variables named in ``allow``."""
        return self._request("spawn", allow=None if allow is None else list(allow))["env"]

    def log_text(self) -> str:
        """Everything the agent has logged so far (kept after :meth:`stop`)."""
        if self._log.closed:
            return self._final_log
        fd = self._log.fileno()
        # pread, not seek+read: the agent writes through the same open file, and moving
        # the shared offset would make it overwrite its own log.
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def _last_log_line(self) -> str:
        lines = self.log_text().strip().splitlines()
        return lines[-1] if lines else "(nothing logged)"

    def _read_line(self, deadline_s: float) -> str:
        ready, _, _ = select.select([self._proc.stdout], [], [], deadline_s)
        return self._proc.stdout.readline().decode().strip() if ready else ""

    def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        if self._log.closed:
            raise DeployError(f"agent {self.pid} was stopped (replaced by a redeploy?)")
        with self._lock:
            self._proc.stdin.write(json.dumps({"op": op, **fields}).encode() + b"\n")
            self._proc.stdin.flush()
            line = self._read_line(deadline_s=30)
        if not line:
            raise DeployError(f"agent {self.pid} did not answer {op!r}: {self._last_log_line()}")
        return json.loads(line)

    def stop(self) -> None:
        """Close its stdin (the agent exits on EOF); kill it if it does not within 5 s."""
        if self._log.closed:
            return
        self._proc.stdin.close()
        reap(self._proc, terminate=False)
        self._proc.stdout.close()
        self._final_log = self.log_text()
        self._log.close()

    def __enter__(self) -> DeployedAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def deploy(env: Mapping[str, str], ready_s: float = 30.0) -> DeployedAgent:
    """Start an agent with ``env`` and wait until it has loaded its key."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the agent
    proc = spawn(
        [sys.executable, "-m", __name__],
        env=child_env(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    agent = DeployedAgent(proc, log)
    if agent._read_line(ready_s) != READY:
        reason = agent._last_log_line()
        agent.stop()
        raise DeployError(f"the agent did not start: {reason}")
    return agent


def redeploy(agent: DeployedAgent, env: Mapping[str, str]) -> tuple[DeployedAgent, float]:
    """Replace ``agent`` by one deployed with ``env``; also the seconds with no agent ready
    (stop, start, key loaded): the price of every rotation at deploy time."""
    start = time.monotonic()
    agent.stop()
    replacement = deploy(env)
    return replacement, time.monotonic() - start


if __name__ == "__main__":
    main()
