"""The cast's deployable code: what a learner uploads to S3 for ``CreateAgentRuntime``.

``code_zip("coach")``, ``code_zip("mcp")`` and ``code_zip("weather")`` zip the entry point of each
(``runtime_code/<kind>/main.py``). In the lab the runtime's Python already has the
course's packages, so the zip carries only the entry point.

In AWS mode the runtime's Python has nothing: the zip carries, beside the entry point, the
``helpers`` package it imports and the third-party distributions it needs, installed by
pip for the file's ``[runtime_code] platform`` (Linux on arm64 unless it says otherwise)
and Python 3.11, at the versions of the course's lock. pip runs once per requirement
list, platform and lock: its result waits, zipped, in the user's cache directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from platformdirs import user_cache_dir

from ..aws_mode import AwsMode

CODE = Path(__file__).parent / "runtime_code"
ENTRY_POINT = "main.py"
PACKAGE = Path(__file__).parent.parent  # helpers: every entry point imports from it
LOCK = PACKAGE.parent / "requirements.txt"  # the course's pip freeze
CACHE = Path(user_cache_dir("agent-identity-lab"), "runtime-code")
PYTHON_VERSION = "3.11"  # the notebooks' runtime: PYTHON_3_11
# A fixed date: the same code makes the same zip, byte for byte.
DATE_TIME = (2026, 1, 1, 0, 0, 0)
ARCHITECTURES = {"aarch64": "arm64", "x86_64": "x86_64"}  # as AWS names them

# The distributions each entry point imports, itself or through helpers, lazy imports
# included; pip adds what these need in turn. tests/test_deployable.py proves each whole.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "coach": (
        *("bedrock-agentcore", "pyjwt", "requests"),
        # helpers.cast.mcp_server, when deployed with an MCP runtime to call
        *("botocore", "httpx2", "mcp", "mcp-types", "starlette"),
    ),
    "mcp": (
        *("bedrock-agentcore", "botocore", "httpx2", "mcp", "mcp-types", "pyjwt"),
        *("starlette", "uvicorn"),
    ),
    "weather": ("bedrock-agentcore",),
}


def code_zip(kind: str) -> bytes:
    """The code of ``kind`` ("coach", "mcp" or "weather") as a deployment zip."""
    folder = CODE / kind
    if not (folder / ENTRY_POINT).is_file():
        raise ValueError(f"no deployable code named {kind!r}: try 'coach', 'mcp' or 'weather'")
    mode = AwsMode.from_env()
    if mode is None:
        return _zipped(folder)
    # The vendored zip with the code appended: only the dependencies wait in the cache,
    # the course's own code is read anew each time.
    buffer = io.BytesIO(_vendored(kind, mode.runtime_platform).read_bytes())
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, folder)
        _add(archive, PACKAGE, prefix=f"{PACKAGE.name}/")
    return buffer.getvalue()


def _zipped(folder: Path, pattern: str = "*.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, folder, pattern)
    return buffer.getvalue()


def _add(archive: zipfile.ZipFile, folder: Path, pattern: str = "*.py", prefix: str = "") -> None:
    for path in sorted(folder.rglob(pattern)):
        name = path.relative_to(folder)
        # bin/ holds pip's console scripts, for this machine's Python: of no use there.
        if not path.is_file() or "__pycache__" in name.parts or name.parts[0] == "bin":
            continue
        info = zipfile.ZipInfo(prefix + name.as_posix(), date_time=DATE_TIME)
        archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)


def _vendored(kind: str, platform: str) -> Path:
    """The zip of ``kind``'s dependencies for ``platform``: pip's ``--target`` folder,
    built once for each requirement list, platform, Python version and lock."""
    if not LOCK.is_file():
        raise RuntimeError(f"vendoring {kind}.zip's dependencies needs the course's lock {LOCK}")
    install = [
        *("install", "--platform", platform, "--implementation", "cp"),
        *("--python-version", PYTHON_VERSION, "--only-binary=:all:", "--no-compile"),
        *REQUIREMENTS[kind],
    ]
    lock = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    key = hashlib.sha256(json.dumps([install, lock]).encode()).hexdigest()[:16]
    entry = CACHE / f"{kind}-{platform}-{key}"
    if not (entry / "packages.zip").is_file():
        with _one_build_at_a_time(entry):
            if not (entry / "packages.zip").is_file():  # else built while this one waited
                _build(kind, platform, install, entry)
    return entry / "packages.zip"


@contextlib.contextmanager
def _one_build_at_a_time(entry: Path) -> Iterator[None]:
    """Processes that need the same build (a kernel and a test worker, say) wait for the
    first one's instead of running pip beside it. The OS drops the lock with its holder."""
    locks = CACHE / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / entry.name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(kind: str, platform: str, install: list[str], entry: Path) -> None:
    arch = next(name for suffix, name in ARCHITECTURES.items() if platform.endswith(suffix))
    print(
        f"vendoring {kind}.zip's dependencies for Linux/{arch}, once (pip, under a minute): "
        f"pip install {' '.join(REQUIREMENTS[kind])}",
        flush=True,
    )
    # CACHE exists: the build's lock lives in it. No other build of entry runs meanwhile.
    with tempfile.TemporaryDirectory(prefix=".building-", dir=CACHE) as building:
        staged = Path(building, entry.name)
        packages = staged / "packages"
        _pip([*install, "--target", str(packages), "-c", str(LOCK)], f"vendoring {kind}.zip")
        (staged / "packages.zip").write_bytes(_zipped(packages, "*"))
        staged.rename(entry)  # whole or not at all, should pip or Python be stopped


def _pip(args: list[str], what: str) -> None:
    """``pip args``, or one line that says why it failed: pip's first error."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        # The first ERROR names the distribution; the last may only link to pip's docs.
        lines = [line for line in done.stderr.splitlines() if line.strip()] or ["no output"]
        errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
        raise RuntimeError(f"{what} failed: pip says {(errors or lines[-1:])[0]}")
