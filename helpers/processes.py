"""Stopping the lab's child processes (agents, OpenBao) without leaving any behind."""

from __future__ import annotations

import subprocess


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
