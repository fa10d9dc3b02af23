"""Secrets on a mounted volume: the atomic-writer layout, rotation without a restart, and
the two pitfalls (torn reads across keys, subPath copies), on a real directory.

The torn read is forced deterministically with the readers' ``between`` hook (a swap
between the two reads); the long swap loop only checks that the fixed reader never sees
mixed versions, so nothing here depends on thread timing.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.aws import OPERATOR, MotoServer, client
from helpers.masking import mask
from helpers.secrets.deployed_agent import deploy
from helpers.secrets.volume import (
    DATA,
    KEY_FILE,
    MOUNT_VAR,
    SecretsOperator,
    data_dir,
    read_consistent,
    read_naive,
    secrets_manager_source,
    subpath_copy,
    wait_until,
    write_payload,
)

KEYS = ["username", "password"]
VERSION_DIR = re.compile(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+")


def payload(version: int) -> dict[str, str]:
    return {"username": f"user-v{version}", "password": f"pass-v{version}"}


def versions(values: dict[str, str]) -> set[str]:
    return {value.rsplit("-v", 1)[1] for value in values.values()}


def swap_to(mount: Path, version: int) -> Callable[[], None]:
    return lambda: write_payload(mount, payload(version))


@pytest.fixture(scope="module", autouse=True)
def no_operator_left_running() -> Iterator[None]:
    yield
    assert not [t for t in threading.enumerate() if t.name == "secrets-operator"]


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    path = tmp_path / "mount"
    write_payload(path, payload(1))
    return path


@pytest.fixture
def fine_thread_switching() -> Iterator[None]:
    # Hand the GIL over often: the threads interleave more finely (more reads land
    # mid-swap), and the writer is not starved by the reader's busy loop.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


class Store:
    """A secret store the operator polls: a dict, plus a count of how often it was read."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0
        self.down = False

    def __call__(self) -> dict[str, str]:
        if self.down:
            raise ConnectionError("store unreachable")
        self.reads += 1
        return dict(self.values)


# -- the layout -----------------------------------------------------------------------


def test_layout_matches_the_atomic_writer(mount: Path) -> None:
    version = data_dir(mount)
    assert (mount / DATA).is_symlink()
    assert VERSION_DIR.fullmatch(os.readlink(mount / DATA))
    assert version.parent == mount
    for key in KEYS:
        assert os.readlink(mount / key) == f"{DATA}/{key}"
        assert stat.S_IMODE((version / key).stat().st_mode) == 0o400
    assert sorted(os.listdir(mount)) == sorted([DATA, version.name, *KEYS])
    assert read_naive(mount, KEYS) == payload(1)


def test_swap_repoints_data_and_removes_the_old_version(mount: Path) -> None:
    old = data_dir(mount)
    new = write_payload(mount, payload(2))
    assert data_dir(mount) == new != old
    assert not old.exists()
    assert [p.name for p in mount.iterdir() if not p.is_symlink()] == [new.name]
    assert read_naive(mount, KEYS) == payload(2)


@pytest.mark.usefixtures("fine_thread_switching")
def test_swap_is_atomic_data_always_resolves(mount: Path) -> None:
    misses = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal misses
        while not done.is_set():
            try:
                os.readlink(mount / DATA)
            except FileNotFoundError:
                misses += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    for version in range(200):
        write_payload(mount, payload(version))
    done.set()
    watcher.join()
    assert misses == 0


def test_a_removed_key_loses_its_link(mount: Path) -> None:
    write_payload(mount, {"username": "user-v2"})
    assert not (mount / "password").is_symlink()
    assert read_naive(mount, ["username"]) == {"username": "user-v2"}


@pytest.mark.parametrize("key", ["", "a/b", "../escape", DATA])
def test_keys_that_are_not_plain_file_names_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="not a valid key"):
        write_payload(tmp_path, {key: "value"})


# -- torn reads -----------------------------------------------------------------------


def test_naive_reader_tears_across_a_swap(mount: Path) -> None:
    values = read_naive(mount, KEYS, between=swap_to(mount, 2))
    assert values == {"username": "user-v1", "password": "pass-v2"}


def test_consistent_reader_retries_when_its_version_is_deleted(mount: Path) -> None:
    # The first attempt read user-v1, then the swap deleted its version directory: the
    # password read hit ENOENT, and only a fresh attempt can return version 2 whole.
    assert read_consistent(mount, KEYS, between=swap_to(mount, 2)) == payload(2)


def test_consistent_reader_gives_up_without_any_version(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="after 3 attempts"):
        read_consistent(tmp_path, KEYS, attempts=3)


@pytest.mark.usefixtures("fine_thread_switching")
def test_consistent_reader_never_tears_in_a_long_swap_loop(mount: Path) -> None:
    done = threading.Event()

    def writer() -> None:
        for version in range(2, 1002):
            write_payload(mount, payload(version))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    try:
        while not done.is_set():
            assert len(versions(read_consistent(mount, KEYS))) == 1
            reads += 1
    finally:
        thread.join()
    assert reads > 0
    assert read_consistent(mount, KEYS) == payload(1001)


# -- subPath --------------------------------------------------------------------------


def test_subpath_copy_stays_stale(mount: Path, tmp_path: Path) -> None:
    copy = subpath_copy(mount, "password", tmp_path / "password")
    write_payload(mount, payload(2))
    assert copy.read_text() == "pass-v1"
    assert (mount / "password").read_text() == "pass-v2"


# -- the operator ---------------------------------------------------------------------


def test_operator_writes_only_on_change(tmp_path: Path) -> None:
    store = Store(payload(1))
    operator = SecretsOperator(store, tmp_path / "mount")
    assert operator.sync_once()
    first = data_dir(operator.target)
    assert not operator.sync_once()
    assert (operator.writes, data_dir(operator.target)) == (1, first)
    store.values = payload(2)
    assert operator.sync_once()
    assert operator.writes == 2
    assert read_consistent(operator.target, KEYS) == payload(2)


def test_operator_stops_cleanly(tmp_path: Path) -> None:
    store = Store(payload(1))
    operator = SecretsOperator(store, tmp_path / "mount", interval=0.01).start()
    assert operator.running
    wait_until(lambda: store.reads >= 3)  # it polls
    operator.stop()
    assert not operator.running
    assert "secrets-operator" not in {thread.name for thread in threading.enumerate()}
    operator.stop()  # a second stop is harmless


def test_operator_keeps_the_last_version_while_the_store_is_down(tmp_path: Path) -> None:
    store = Store(payload(1))
    with SecretsOperator(store, tmp_path / "mount", interval=0.01) as operator:
        store.down = True
        wait_until(lambda: operator.last_error is not None)
        assert read_consistent(operator.target, KEYS) == payload(1)
        store.values, store.down = payload(2), False
        wait_until(lambda: read_consistent(operator.target, KEYS) == payload(2))
        wait_until(lambda: operator.last_error is None)


def test_app_sees_a_rotation_without_restart(tmp_path: Path) -> None:
    old, new = "wk-old-0123456789abcdef", "wk-new-fedcba9876543210"
    store = Store({KEY_FILE: old})
    with (
        SecretsOperator(store, tmp_path / "mount", interval=0.05) as operator,
        deploy({MOUNT_VAR: str(operator.target)}) as agent,
    ):
        pid = agent.pid
        assert agent.current_key() == mask(old)
        store.values = {KEY_FILE: new}
        wait_until(lambda: agent.current_key() == mask(new))
        assert agent.pid == pid


def test_operator_syncs_from_secrets_manager(tmp_path: Path) -> None:
    with MotoServer() as moto:
        sm = client("secretsmanager", moto.url, OPERATOR)
        sm.create_secret(Name="fitness/weather-api-key", SecretString="wk-v1")
        source = secrets_manager_source(sm, {KEY_FILE: "fitness/weather-api-key"})
        with SecretsOperator(source, tmp_path / "mount", interval=0.05) as operator:
            assert (operator.target / KEY_FILE).read_text() == "wk-v1"
            sm.put_secret_value(SecretId="fitness/weather-api-key", SecretString="wk-v2")
            wait_until(lambda: (operator.target / KEY_FILE).read_text() == "wk-v2")
        sm.close()
