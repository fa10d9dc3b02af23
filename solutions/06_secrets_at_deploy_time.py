"""Notebook 06 · Secrets at deploy time: worked solutions."""

from helpers.exercises import Verdict, check_deploy_time_exposure
from helpers.lab import Lab


def deploy_time_exposure(lab: Lab) -> Verdict:
    """Sealed: a ciphertext; redacted log: masked; no redeploy: the old key; the start-up
    environment keeps the plaintext; a swapped ciphertext does not decrypt; an allow-list
    keeps the key from a child; no allow-list gives it away."""
    return check_deploy_time_exposure({1: "C", 2: "B", 3: "E", 4: "A", 5: "D", 6: "B", 7: "A"})
