"""Stopping the lab's child processes (agents, OpenBao) without leaving any behind, nor
the state directories a lab keeps while it runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# The only variables a child inherits from the lab's own process: what an interpreter
# needs to start, never a credential. Everything else it gets is passed on purpose.
INHERITED = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "SYSTEMROOT", "TMPDIR")


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` plus the interpreter basics of :data:`INHERITED`, and nothing else."""
    return {k: os.environ[k] for k in INHERITED if k in os.environ} | dict(env)


def spawn(args: Sequence[str], **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, **popen)``, with the child reaped the moment it exits,
    whoever ended it.

    At shutdown ipykernel signals the kernel's children and waits until none is left; a
    child that exited but was not waited for is still a zombie child, so the kernel waited
    its full schedule and was then killed by Jupyter before the lab could stop (and clean
    up) at exit.
    """
    proc = subprocess.Popen(args, **popen)
    threading.Thread(target=proc.wait, name=f"reaper-{proc.pid}", daemon=True).start()
    return proc


def reap(proc: subprocess.Popen, *, grace_s: float = 5.0, terminate: bool = True) -> None:
    """Ask ``proc`` to exit (SIGTERM, unless it was told some other way), kill it if it is
    still there after ``grace_s``, and wait for it, so no zombie or stray process is left."""
    if proc.poll() is not None:
        return
    if terminate:
        proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


STATE_PREFIX = "agent-identity-lab-"


def state_dir(kind: str) -> Path:
    """A private directory for one lab part's state, named after this process.

    A lab removes its directories when it stops, but a process can be killed first: nbval
    kills each notebook's kernel outright. So every new one first removes those of
    processes that are gone (a vault, a WAT signing key, logs have no business outliving
    their lab).
    """
    remove_orphaned_state()
    return Path(tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{kind}-{os.getpid()}-"))


def remove_orphaned_state() -> None:
    """Remove this user's state directories whose process no longer runs."""
    for path in Path(tempfile.gettempdir()).glob(f"{STATE_PREFIX}*-*-*"):
        pid = path.name.removeprefix(STATE_PREFIX).split("-")[1]
        try:
            mine = path.stat().st_uid == os.getuid()
        except OSError:
            continue  # removed meanwhile
        if mine and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    import psutil

    try:  # a zombie was killed already; only its parent has not waited for it yet
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # exited between listing and reading
            total += process.memory_info().rss
    return total / 2**20
