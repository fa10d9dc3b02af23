"""The checker of notebook 08 (secrets by direct API call)."""

from __future__ import annotations

import pytest

from helpers import exercises

RIGHT = {1: "C", 2: "A", 3: "B", 4: "B", 5: "D", 6: "A", 7: "E", 8: "F"}


def other_than(letter: str) -> str:
    return "B" if letter == "A" else "A"


def test_checker_accepts_the_right_answers_however_written() -> None:
    assert exercises.check_api_secret_handling(RIGHT)
    written = {str(k): f" {v.lower()} " for k, v in RIGHT.items()}
    assert exercises.check_api_secret_handling(written)


def test_checker_names_the_wrong_scenarios() -> None:
    wrong = exercises.check_api_secret_handling({**RIGHT, 4: other_than(RIGHT[4]), 5: "B"})
    assert not wrong and "scenarios 4, 5 " in repr(wrong)
    missing = exercises.check_api_secret_handling({k: v for k, v in RIGHT.items() if k != 8})
    assert not missing and "scenario 8 " in repr(missing)


@pytest.mark.parametrize("answer", [None, ..., ["C", "A"], "CABBDAEF", 8])
def test_checker_never_raises(answer: object) -> None:
    verdict = exercises.check_api_secret_handling(answer)
    assert not verdict and repr(verdict)


def test_unanswered_asks_for_an_answer() -> None:
    assert "Replace the placeholder" in repr(exercises.check_api_secret_handling(None))


def test_exercise_offers_each_choice_once_and_uses_them_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    choices, scenarios = exercises.API_SECRET_CHOICES, exercises.API_SECRET_SCENARIOS
    assert len(set(choices.values())) == len(choices)
    assert set(RIGHT.values()) == set(choices)
    assert {str(n) for n in RIGHT} == set(scenarios)
    exercises.show_api_secret_scenarios()
    shown = capsys.readouterr().out
    assert all(f"{letter}. {outcome}" in shown for letter, outcome in choices.items())
    assert all(f"{n}. {scenario}" in shown for n, scenario in scenarios.items())
