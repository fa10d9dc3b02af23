"""Check yourself, notebook 03 · Workload identities."""

from __future__ import annotations

from .base import UNANSWERED, Verdict, numbered_answers, unanswered, verdict

__all__ = ["WAT_SCENARIOS", "check_wat_scenarios", "show_wat_scenarios"]


# Who may get a workload access token, and how (notebook 03).
WAT_SCENARIOS = {
    "1": "The runtime's execution role trades Alice's access token for a WAT of fitness-agent.",
    "2": "The runtime's execution role trades Alice's ID token for a WAT of fitness-agent.",
    "3": "The runtime's execution role asks for a WAT of another workload, billing-agent.",
    "4": "A partner app whose role may only InvokeAgentRuntime sends a runtime user id.",
    "5": "A backend whose role may InvokeAgentRuntimeForUser copies the user id from the"
    " request body into the runtime user id.",
}
_WAT_KEY = {"1": "allowed", "2": "refused", "3": "refused", "4": "refused", "5": "allowed"}


def show_wat_scenarios() -> None:
    for number, scenario in WAT_SCENARIOS.items():
        print(f"{number}. {scenario}")


def check_wat_scenarios(answers: object) -> Verdict:
    """03: for each scenario, does AgentCore Identity answer "allowed" or "refused"?"""
    if unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return verdict(False, "", 'Answer with a dict: scenario number → "allowed" or "refused".')
    given = numbered_answers(answers)
    wrong = sorted(n for n, outcome in _WAT_KEY.items() if given.get(n) != outcome)
    return verdict(
        not wrong,
        "Right. And 5 is the dangerous one: AgentCore allows it, because a signed call from a"
        " trusted backend is all it sees — the user id must come from that backend's own login.",
        f"look again at scenario{'s' if len(wrong) > 1 else ''} {', '.join(wrong)}"
        " (who signs the call, which token, which workload?)",
    )
