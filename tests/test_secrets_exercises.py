"""The teaching aids of notebooks 06 and 07: their checkers and the volume-swap diagram."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from helpers import exercises
from helpers.diagrams.drawing import VOLUME_SWAP_STEPS, volume_swap

DEPLOY_TIME_RIGHT = {1: "C", 2: "B", 3: "E", 4: "A", 5: "D", 6: "B", 7: "A"}
VOLUME_RIGHT = {1: "C", 2: "A", 3: "B", 4: "D", 5: "E", 6: "B"}

# (checker, right answers, shower, choices, scenarios)
EXERCISES = [
    (
        exercises.check_deploy_time_exposure,
        DEPLOY_TIME_RIGHT,
        exercises.show_deploy_time_scenarios,
        exercises.DEPLOY_TIME_CHOICES,
        exercises.DEPLOY_TIME_SCENARIOS,
    ),
    (
        exercises.check_volume_reads,
        VOLUME_RIGHT,
        exercises.show_volume_scenarios,
        exercises.VOLUME_CHOICES,
        exercises.VOLUME_SCENARIOS,
    ),
]
IDS = ["deploy_time", "volume"]
Checker = Callable[[object], exercises.Verdict]


def other_than(letter: str) -> str:
    return "B" if letter == "A" else "A"


@pytest.mark.parametrize(("check", "right", "_show", "_choices", "_scenarios"), EXERCISES, ids=IDS)
def test_checker_accepts_the_right_answers_however_written(
    check: Checker, right: dict[int, str], _show: object, _choices: object, _scenarios: object
) -> None:
    assert check(right)
    assert check({str(k): f" {v.lower()} " for k, v in right.items()})


@pytest.mark.parametrize(("check", "right", "_show", "_choices", "_scenarios"), EXERCISES, ids=IDS)
def test_checker_names_the_wrong_scenarios(
    check: Checker, right: dict[int, str], _show: object, _choices: object, _scenarios: object
) -> None:
    wrong = check({**right, 1: other_than(right[1]), 2: other_than(right[2])})
    assert not wrong and "scenarios 1, 2 " in repr(wrong)
    missing = check({k: v for k, v in right.items() if k != 3})
    assert not missing and "scenario 3 " in repr(missing)


@pytest.mark.parametrize("answer", [None, ..., ["C", "B"], "CBEADBA", 7])
@pytest.mark.parametrize("check", [e[0] for e in EXERCISES], ids=IDS)
def test_checker_never_raises(check: Checker, answer: object) -> None:
    verdict = check(answer)
    assert not verdict and repr(verdict)


def test_unanswered_asks_for_an_answer() -> None:
    assert "Replace the placeholder" in repr(exercises.check_deploy_time_exposure(None))
    assert "Replace the placeholder" in repr(exercises.check_volume_reads(...))


@pytest.mark.parametrize(("_check", "right", "show", "choices", "scenarios"), EXERCISES, ids=IDS)
def test_exercise_offers_each_choice_once_and_uses_them_all(
    _check: object,
    right: dict[int, str],
    show: Callable[[], None],
    choices: dict[str, str],
    scenarios: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(set(choices.values())) == len(choices)
    assert set(right.values()) == set(choices)
    assert {str(n) for n in right} == set(scenarios)
    show()
    shown = capsys.readouterr().out
    assert all(f"{letter}. {outcome}" in shown for letter, outcome in choices.items())
    assert all(f"{n}. {scenario}" in shown for n, scenario in scenarios.items())


def png() -> bytes:
    buffer = io.BytesIO()
    volume_swap().savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def test_volume_swap_renders_deterministically() -> None:
    assert png() == png()


def test_volume_swap_has_a_panel_and_a_caption_per_step() -> None:
    figure = volume_swap()
    assert len(figure.axes) == len(VOLUME_SWAP_STEPS) == 4
    for axes, step in zip(figure.axes, VOLUME_SWAP_STEPS, strict=True):
        texts = " ".join(t.get_text().replace("\n", " ") for t in axes.texts)
        assert step in texts
