"""The teaching aids of notebook 05: the request-chain diagram and its checker."""

from __future__ import annotations

import io

import pytest

from helpers import exercises
from helpers.diagrams.drawing import AUDIENCE_COLOURS, CHAIN_STEPS, request_chain

RIGHT = {1: "B", 2: "C", 3: "A", 4: "D", 5: "D", 6: "D", 7: "E", 8: "A"}


def png(step: int | None) -> bytes:
    buffer = io.BytesIO()
    request_chain(step).savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


@pytest.mark.parametrize("step", [None, *range(1, len(CHAIN_STEPS) + 1)])
def test_request_chain_renders_deterministically(step: int | None) -> None:
    assert png(step) == png(step)


def test_request_chain_highlights_the_step_it_is_given() -> None:
    assert len({png(step) for step in (None, 1, 3)}) == 3


@pytest.mark.parametrize("step", [0, len(CHAIN_STEPS) + 1])
def test_request_chain_rejects_unknown_steps(step: int) -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        request_chain(step)


def test_every_hop_audience_has_its_colour() -> None:
    assert set(AUDIENCE_COLOURS) == {"fitness-agent", "fitness-mcp", "fitness-api"}
    assert len(set(AUDIENCE_COLOURS.values())) == 3


def test_chain_checker_needs_every_scenario_right() -> None:
    assert exercises.check_chain_outcomes(RIGHT)
    assert exercises.check_chain_outcomes({str(k): f" {v.lower()} " for k, v in RIGHT.items()})
    wrong = exercises.check_chain_outcomes({**RIGHT, 1: "C", 4: "A"})
    assert not wrong and "scenarios 1, 4" in repr(wrong)
    assert "scenario 2 " in repr(exercises.check_chain_outcomes({**RIGHT, 2: "A"}))


@pytest.mark.parametrize("answer", [None, ..., ["B", "C"], "B"])
def test_chain_checker_never_raises(answer: object) -> None:
    verdict = exercises.check_chain_outcomes(answer)
    assert not verdict and repr(verdict)


def test_chain_exercise_offers_each_choice_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(set(exercises.CHAIN_CHOICES.values())) == len(exercises.CHAIN_CHOICES)
    assert set(RIGHT.values()) == set(exercises.CHAIN_CHOICES)  # every choice is used
    exercises.show_chain_scenarios()
    shown = capsys.readouterr().out
    assert all(f"{n}. " in shown for n in exercises.CHAIN_SCENARIOS)
