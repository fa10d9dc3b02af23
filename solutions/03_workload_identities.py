"""Notebook 03 · Workload identities: worked solutions."""

from helpers.exercises import Verdict, check_wat_scenarios
from helpers.lab import Lab


def wat_scenarios(lab: Lab) -> Verdict:
    """1 is the equation; 2 is not an access token; 3 is another workload than the role's;
    4 has no right to vouch for a user; 5 is allowed, and is the impersonation hole."""
    return check_wat_scenarios(
        {1: "allowed", 2: "refused", 3: "refused", 4: "refused", 5: "allowed"}
    )
