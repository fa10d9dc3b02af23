"""Notebook 09 · Choosing a pattern: worked solutions."""

from helpers.exercises import Verdict, check_pattern_choices
from helpers.lab import Lab


def pattern_choices(lab: Lab) -> Verdict:
    """Rotation without redeploy on AgentCore: an API call; EKS without an SDK: a volume;
    a yearly key shipped with each release, and a job deployed per run: deploy time; a
    user's OAuth token: the token vault."""
    return check_pattern_choices({1: "C", 2: "B", 3: "A", 4: "D", 5: "A"})
