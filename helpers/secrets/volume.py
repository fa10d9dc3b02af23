"""Pattern 2, a mounted volume: an operator syncs secrets from a store into files that the
app reads at runtime, in the layout Kubernetes' atomic writer gives secret volumes::

    mount/
      ..2025_01_31_12_00_00.k3j9x2/     one version: a file per key, mode 0400
      ..data -> ..2025_01_31_12_00_00.k3j9x2
      weather_api_key -> ..data/weather_api_key

A new version goes into a fresh timestamped directory; then ``..data_tmp`` is made to
point at it and renamed over ``..data``. rename(2) is atomic, so ``..data`` always names
one complete version, and the app sees a rotation on its next read, without a restart.
The previous version is deleted right after the swap.

Two pitfalls, both shown here:

- torn reads: two keys read through the top-level links can straddle a swap and come
  from two versions (:func:`read_naive`). :func:`read_consistent` resolves ``..data``
  once and reads every key from that directory, starting over if the directory vanished
  mid-read (ENOENT: the writer deleted the old version);
- subPath: a file mounted on its own is bound once, when the pod starts, and never sees
  a rotation (:func:`subpath_copy`).

AgentCore Runtime mounts no secret volumes (its filesystem configurations are session
storage and S3/EFS access, with no operator that syncs a secrets store): an agent there
gets its secrets from its environment or by API call instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the deployed agent reads volumes with this module: no botocore there
    from botocore.client import BaseClient

DATA = "..data"
_DATA_TMP = "..data_tmp"
FILE_MODE = 0o400
MOUNT_VAR = "SECRETS_DIR"  # tells the deployed agent to read its key from this mount
KEY_FILE = "weather_api_key"

Source = Callable[[], Mapping[str, str]]


# -- the atomic writer ----------------------------------------------------------------


def write_payload(target: Path, payload: Mapping[str, str]) -> Path:
    """Publish ``payload`` (file name -> content) as the volume's new version; return its dir."""
    for key in payload:
        _check_key(key)
    target.mkdir(parents=True, exist_ok=True)
    version = _write_version(target, payload)
    _swap(target, version)
    _link_keys(target, payload)
    _remove_old_versions(target, keep=version)
    return version


def _check_key(key: str) -> None:
    # A key is a file name in the version directory: a path or a ".." name would escape it
    # or collide with the writer's own entries.
    if not key or "/" in key or key.startswith(".."):
        raise ValueError(f"not a valid key for a secret volume: {key!r}")


def _write_version(target: Path, payload: Mapping[str, str]) -> Path:
    stamp = datetime.now(UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    version = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    for key, value in payload.items():
        fd = os.open(version / key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as file:
            file.write(value)
    return version


def _swap(target: Path, version: Path) -> None:
    tmp = target / _DATA_TMP
    tmp.unlink(missing_ok=True)  # left behind by a writer that died mid-swap
    os.symlink(version.name, tmp)  # relative: the mount may be seen under another path
    os.replace(tmp, target / DATA)


def _link_keys(target: Path, payload: Mapping[str, str]) -> None:
    for key in payload:
        link = target / key
        if not link.is_symlink():
            os.symlink(f"{DATA}/{key}", link)
    for entry in os.scandir(target):
        if entry.is_symlink() and not entry.name.startswith("..") and entry.name not in payload:
            os.unlink(entry.path)


def _remove_old_versions(target: Path, keep: Path) -> None:
    for entry in os.scandir(target):
        is_version = entry.name.startswith("..") and entry.is_dir(follow_symlinks=False)
        if is_version and entry.name != keep.name:
            shutil.rmtree(entry.path)


def data_dir(target: Path) -> Path:
    """The version directory ``..data`` points at right now."""
    return target / os.readlink(target / DATA)


# -- readers --------------------------------------------------------------------------


def _read_keys(
    directory: Path, keys: Sequence[str], between: Callable[[], None] | None
) -> dict[str, str]:
    first, *rest = keys
    values = {first: (directory / first).read_text()}
    if between is not None:
        between()
    values.update({key: (directory / key).read_text() for key in rest})
    return values


def read_naive(
    target: Path, keys: Sequence[str], between: Callable[[], None] | None = None
) -> dict[str, str]:
    """Each key through its top-level link. ``between`` runs after the first key: the
    lab's stand-in for a swap landing mid-read."""
    return _read_keys(target, keys, between)


def read_consistent(
    target: Path,
    keys: Sequence[str],
    between: Callable[[], None] | None = None,
    attempts: int = 100,
) -> dict[str, str]:
    """Every key from the one version ``..data`` named when the read began.

    ``between`` runs once, after the first key of the first attempt.
    """
    last_error: FileNotFoundError | None = None
    for attempt in range(attempts):
        try:
            return _read_keys(data_dir(target), keys, between if attempt == 0 else None)
        except FileNotFoundError as exc:  # that version was deleted mid-read: resolve again
            last_error = exc
    raise FileNotFoundError(
        f"no complete version under {target} after {attempts} attempts"
    ) from last_error


def subpath_copy(target: Path, key: str, dest: Path) -> Path:
    """A subPath mount: the file as it was when the pod started, never updated again."""
    shutil.copyfile(data_dir(target) / key, dest)
    dest.chmod(FILE_MODE)
    return dest


# -- the operator ---------------------------------------------------------------------


def secrets_manager_source(sm: BaseClient, files: Mapping[str, str]) -> Source:
    """A source reading each file's content from a Secrets Manager secret (name -> SecretId)."""

    def fetch() -> dict[str, str]:
        return {
            name: sm.get_secret_value(SecretId=secret_id)["SecretString"]
            for name, secret_id in files.items()
        }

    return fetch


class SecretsOperator:
    """Polls ``source`` every ``interval`` seconds and publishes changed values to ``target``."""

    def __init__(self, source: Source, target: Path, interval: float = 0.1) -> None:
        self.source = source
        self.target = target
        self.interval = interval
        self.writes = 0
        self.last_error: Exception | None = None
        self._published: dict[str, str] | None = None
        self._lock = threading.Lock()  # a notebook may call sync_once while the thread runs
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sync_once(self) -> bool:
        """Fetch once; write a new version only if a value changed. True if it wrote."""
        with self._lock:
            payload = dict(self.source())
            if payload == self._published:
                return False
            write_payload(self.target, payload)
            self._published = payload
            self.writes += 1
            return True

    def start(self) -> SecretsOperator:
        # The first sync runs here, not in the thread: as with a pod, nothing starts
        # before its volume holds the secrets, and a failing store fails the start.
        self.sync_once()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._poll, name="secrets-operator", daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.sync_once()
                self.last_error = None
            except Exception as exc:  # store unreachable: keep the last version, retry
                self.last_error = exc

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> SecretsOperator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate: Callable[[], bool], deadline_s: float = 10.0) -> float:
    """Seconds until ``predicate()`` holds: the delay before the app sees a change."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > deadline_s:
            raise TimeoutError(f"still not true after {deadline_s}s")
        time.sleep(0.002)
    return time.monotonic() - start
