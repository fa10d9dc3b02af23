"""Notebook 02 · Where each credential lives, and what a leak costs: worked solutions."""

from helpers.exercises import Verdict, check_leak_costs
from helpers.lab import Lab


def leak_costs(lab: Lab) -> Verdict:
    """A code is useless alone; an id token tells who, opens nothing; an access token works
    until it expires; a refresh token mints more; the client secret is the app itself."""
    return check_leak_costs(
        {
            "authorization code": "D",
            "id token": "B",
            "access token": "E",
            "refresh token": "A",
            "client secret": "C",
        }
    )
