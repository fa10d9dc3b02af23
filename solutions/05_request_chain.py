"""Notebook 05 · The request chain: worked solutions."""

from helpers.exercises import Verdict, check_chain_outcomes
from helpers.lab import Lab


def chain_outcomes(lab: Lab) -> Verdict:
    """Each token is good for its own audience only, and no exchange widens the scope or
    reaches an audience the identity provider does not know."""
    return check_chain_outcomes({1: "B", 2: "C", 3: "A", 4: "D", 5: "D"})
