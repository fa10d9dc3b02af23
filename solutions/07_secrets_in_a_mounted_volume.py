"""Notebook 07 · Secrets through a mounted volume: worked solutions."""

import os
from collections.abc import Callable
from pathlib import Path

from helpers.exercises import Verdict, check_pair_reader, check_volume_reads
from helpers.lab import Lab


def volume_reads(lab: Lab) -> Verdict:
    """Two reads across a swap tear; one read after a sync sees the new key; subPath and a
    value read once at start-up never see it; reading one ..data version is consistent;
    AgentCore Runtime mounts no volume."""
    return check_volume_reads({1: "C", 2: "A", 3: "B", 4: "D", 5: "E", 6: "B"})


def pair_reader(lab: Lab) -> Verdict:
    """Read both keys inside the version directory ``..data`` names, resolved once: a swap
    can no longer redirect the second read. But the operator deletes the old version right
    after its swap, so the second read can fail with FileNotFoundError: then resolve
    ``..data`` again and read the whole pair from the new version."""

    def read_pair(mount: Path, between: Callable[[], None]) -> dict[str, str]:
        for attempt in range(100):
            version = mount / os.readlink(mount / "..data")  # resolve once
            try:
                client_id = (version / "client_id").read_text()
                if attempt == 0:
                    between()
                return {
                    "client_id": client_id,
                    "client_secret": (version / "client_secret").read_text(),
                }
            except FileNotFoundError:  # swapped and deleted under us: start over
                continue
        raise FileNotFoundError(f"no complete version under {mount}")

    return check_pair_reader(lab, read_pair)
