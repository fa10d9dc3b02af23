"""Teaching diagrams for the notebooks, each drawn by a short-lived process of its own.

matplotlib, numpy and their fonts would stay in a kernel for the rest of its session,
about 40 MiB that a learner's laptop holds while the agents run. So a notebook's call
runs ``python -m helpers.diagrams.drawing`` (the figures themselves, see there) and
shows the PNG file it writes: the same picture, and the kernel never imports matplotlib.

A drawing process takes about a second, most of it importing matplotlib, so each PNG is
kept in the user's cache directory under a key made of the drawing code, matplotlib's
version and the arguments: the next run of the notebook shows it at once, and a change to
any of them draws it afresh. A figure with steps is drawn at every step at once, since a
notebook shows them in turn.
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
CACHE_VAR = "LAB_DIAGRAM_CACHE"  # how a drawing process learns where its parent looks
CACHE = Path(os.environ.get(CACHE_VAR) or Path(user_cache_dir("agent-identity-lab"), "diagrams"))
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


def mcp_discovery() -> Image:
    """How an MCP client that knows only a URL logs in: seven steps, five RFCs."""
    return _drawn("mcp_discovery")


def stride_consent() -> Image:
    """How an MCP server gets a user's consent at a third party, and who sees what."""
    return _drawn("stride_consent")


def kept_at(name: str, arguments: dict[str, object]) -> Path:
    """Where the PNG of ``name`` drawn with ``arguments`` is kept, by the code that draws it."""
    request = json.dumps([name, arguments], sort_keys=True)
    key = hashlib.sha256(
        DRAWING_CODE.read_bytes() + version("matplotlib").encode() + request.encode()
    ).hexdigest()
    return CACHE / f"{name}-{key[:16]}.png"


def keep(path: Path, png: bytes) -> None:
    # Written aside and renamed: kernels drawing the same picture at once never read half.
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_suffix(f".{os.getpid()}.tmp")
    aside.write_bytes(png)
    aside.replace(path)


def _drawn(name: str, **arguments: object) -> Image:
    from IPython.display import Image  # here: the drawing process imports this package too

    kept = kept_at(name, arguments)
    if not kept.is_file():
        _draw(name, arguments, kept)
    return Image(data=kept.read_bytes(), format="png")


def _draw(name: str, arguments: dict[str, object], kept: Path) -> None:
    drawing = subprocess.run(
        [sys.executable, "-m", "helpers.diagrams.drawing", name, json.dumps(arguments), kept],
        capture_output=True,
        env=child_env({CACHE_VAR: str(CACHE)}),
        timeout=DRAW_TIMEOUT_S,
    )
    message = drawing.stderr.decode(errors="replace").strip()
    if drawing.returncode == BAD_ARGUMENTS:
        raise ValueError(message)
    if drawing.returncode != 0:
        last = message.splitlines()[-1] if message else f"exit status {drawing.returncode}"
        raise RuntimeError(f"drawing {name} failed: {last}")
