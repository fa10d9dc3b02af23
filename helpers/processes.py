"""Stopping the lab's child processes (agents, OpenBao) without leaving any behind."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

# The only variables a child inherits from the lab's own process: what an interpreter
# needs to start, never a credential. Everything else it gets is passed on purpose.
INHERITED = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "SYSTEMROOT", "TMPDIR")


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` plus the interpreter basics of :data:`INHERITED`, and nothing else."""
    return {k: os.environ[k] for k in INHERITED if k in os.environ} | dict(env)


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
