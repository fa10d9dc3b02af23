"""Notebook 07 · Secrets through a mounted volume: worked solutions."""

from helpers.exercises import Verdict, check_volume_reads
from helpers.lab import Lab


def volume_reads(lab: Lab) -> Verdict:
    """Two reads across a swap tear; one read after a sync sees the new key; subPath and a
    value read once at start-up never see it; reading one ..data version is consistent;
    AgentCore Runtime mounts no volume."""
    return check_volume_reads({1: "C", 2: "A", 3: "B", 4: "D", 5: "E", 6: "B"})
