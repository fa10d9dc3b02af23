"""Teaching diagrams for the notebooks, each drawn by a short-lived process of its own.

matplotlib, numpy and their fonts would stay in a kernel for the rest of its session,
about 40 MiB that a learner's laptop holds while the agents run. So a notebook's call
runs ``python -m helpers.diagrams.drawing`` (the figures themselves, see there) and
shows the PNG it prints: the same picture, and the kernel never imports matplotlib.

A drawing takes about a second, most of it importing matplotlib, so each PNG is kept in
the user's cache directory under a key made of the drawing code, matplotlib's version and
the arguments: the next run of the notebook shows it at once, and a change to any of
them draws it afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_cache_dir

from ..processes import child_env

if TYPE_CHECKING:
    from IPython.display import Image

BAD_ARGUMENTS = 2  # helpers.diagrams.drawing exits so when the arguments are refused
DRAW_TIMEOUT_S = 60
CACHE = Path(user_cache_dir("agent-identity-lab")) / "diagrams"
DRAWING_CODE = Path(__file__).with_name("drawing.py")


def login_sequence(step: int | None = None) -> Image:
    """The browser login as a numbered sequence diagram; ``step`` (0–5) is highlighted."""
    return _drawn("login_sequence", step=step)


def blast_radius_timeline(lifetimes: dict[str, float] | None = None) -> Image:
    """How long each leaked credential stays useful to an attacker, and for what."""
    return _drawn("blast_radius_timeline", lifetimes=lifetimes)


def request_chain(step: int | None = None) -> Image:
    """User → frontend → agent → MCP server → API, one audience per token; ``step`` (1–5)
    is highlighted."""
    return _drawn("request_chain", step=step)


def volume_swap() -> Image:
    """How the atomic writer publishes a new version of a secret volume, in four panels."""
    return _drawn("volume_swap")


def pattern_decision() -> Image:
    """Which way a secret should reach an agent: three questions, four answers."""
    return _drawn("pattern_decision")


def _drawn(name: str, **arguments: object) -> Image:
    from IPython.display import Image  # here: the drawing process imports this package too

    request = json.dumps([name, arguments], sort_keys=True)
    key = hashlib.sha256(
        DRAWING_CODE.read_bytes() + version("matplotlib").encode() + request.encode()
    ).hexdigest()
    cached = CACHE / f"{name}-{key[:16]}.png"
    if not cached.is_file():
        _keep(cached, _draw(name, arguments))
    return Image(data=cached.read_bytes(), format="png")


def _keep(path: Path, png: bytes) -> None:
    # Written aside and renamed: kernels drawing the same picture at once never read half.
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_suffix(f".{os.getpid()}.tmp")
    aside.write_bytes(png)
    aside.replace(path)


def _draw(name: str, arguments: dict[str, object]) -> bytes:
    drawing = subprocess.run(
        [sys.executable, "-m", "helpers.diagrams.drawing", name, json.dumps(arguments)],
        capture_output=True,
        env=child_env({}),
        timeout=DRAW_TIMEOUT_S,
    )
    message = drawing.stderr.decode(errors="replace").strip()
    if drawing.returncode == BAD_ARGUMENTS:
        raise ValueError(message)
    if drawing.returncode != 0:
        last = message.splitlines()[-1] if message else f"exit status {drawing.returncode}"
        raise RuntimeError(f"drawing {name} failed: {last}")
    return drawing.stdout
