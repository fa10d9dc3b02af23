"""Notebook 08 · Secrets by direct API call: worked solutions."""

from helpers.exercises import Verdict, check_api_secret_handling
from helpers.lab import Lab


def api_secret_handling(lab: Lab) -> Verdict:
    """Throttling: back off with jitter; permission denied: give up; stale within the hard
    TTL: serve it and refresh; past it: the error; EXTERNAL follows the secret; provider 51
    is over the quota."""
    return check_api_secret_handling(
        {1: "C", 2: "A", 3: "B", 4: "B", 5: "D", 6: "A", 7: "E", 8: "F"}
    )
