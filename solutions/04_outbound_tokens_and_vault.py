"""Notebook 04 · Outbound tokens and the token vault: worked solutions."""

from helpers.exercises import Verdict, check_vault_outcomes
from helpers.lab import Lab


def vault_outcomes(lab: Lab) -> Verdict:
    """M2M needs no user; a user's first ask is a consent URL, then the vault answers; Bob
    has his own (empty) slot; session binding refuses Bob; a disabled key fails closed."""
    return check_vault_outcomes({1: "A", 2: "B", 3: "A", 4: "B", 5: "C", 6: "C"})
