"""What every exercise checker shares: a verdict that prints as one line with a hint,
and the lettered format (choices A, B, … and numbered scenarios answered with a letter).

A checker never raises on a learner's answer, never evaluates it as code: it compares
values and returns a :class:`Verdict`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..lab import Lab

Checker = TypeVar("Checker", bound=Callable[..., "Verdict"])


def hands_on(checker: Checker) -> Checker:
    """Mark a checker whose exercise has the learner do something in the lab (fetch,
    sign in, call, change something), not only answer a question."""
    checker.hands_on = True  # type: ignore[attr-defined]
    return checker


class Verdict:
    def __init__(self, ok: bool, message: str) -> None:
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message


UNANSWERED = Verdict(False, "✏️  Replace the placeholder with your answer, then run the cell again.")


def verdict(ok: bool, praise: str, hint: str) -> Verdict:
    return Verdict(ok, f"✅ {praise}" if ok else f"❌ Not yet. Hint: {hint}")


# The parts of the lab a checker may read, and the start cell that runs them. In AWS mode
# the kernel runs none of them: the provider and AWS are elsewhere, and their records are
# not the checker's to read.
LAB_PARTS = {
    "idp": ("identity provider", "start_lab()"),
    "agentcore": (
        "AgentCore emulator (AgentCore Identity, KMS, Secrets Manager)",
        "start_lab(agentcore=True)",
    ),
    "openbao": ("OpenBao server", "start_lab(openbao=True)"),
}


def lacking(lab: Lab, *parts: str) -> Verdict | None:
    """The verdict for a lab that does not run one of ``parts`` (keys of :data:`LAB_PARTS`),
    in one wording for every checker; None when it runs them all."""
    missing = next((part for part in parts if getattr(lab, part, None) is None), None)
    if missing is None:
        return None
    what, start = LAB_PARTS[missing]
    if getattr(lab, "aws_mode", None) is not None:
        hint = f"this check reads the lab's own {what}, which AWS mode does not run."
    else:
        hint = f"this lab runs no {what}: run this notebook's first code cell ({start}) again."
    return verdict(False, "", hint)


def judged(judge: Callable[..., Verdict], what: str, *args: object) -> Verdict:
    """``judge(*args)``, or a one-line verdict if the lab could not judge: a checker
    answers, it never raises."""
    try:
        return judge(*args)
    except Exception as exc:
        return verdict(False, "", f"the lab could not check this {what} ({type(exc).__name__}).")


def unanswered(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def numbered_answers(answers: dict) -> dict[str, str]:
    """{1: "Allowed "} and {"1": "allowed"} alike: keys as strings, values normalised."""
    return {str(k).strip(): str(v).strip().lower() for k, v in answers.items()}


# Lettered exercises: a list of outcomes (A, B, …) and numbered scenarios, each scenario
# answered with the letter of its outcome.


def show_lettered(choices: dict[str, str], scenarios: dict[str, str]) -> None:
    for letter, outcome in choices.items():
        print(f"{letter}. {outcome}")
    print()
    for number, scenario in scenarios.items():
        print(f"{number}. {scenario}")


def check_lettered(answers: object, key: dict[str, str], praise: str, clue: str) -> Verdict:
    """Every scenario of ``key`` (number -> letter) answered right; else name the wrong ones."""
    if unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return verdict(False, "", "Answer with a dict: scenario number → letter.")
    given = {k: v.upper() for k, v in numbered_answers(answers).items()}
    wrong = sorted(n for n, letter in key.items() if given.get(n) != letter)
    return verdict(
        not wrong,
        praise,
        f"look again at scenario{'s' if len(wrong) > 1 else ''} {', '.join(wrong)} ({clue})",
    )
