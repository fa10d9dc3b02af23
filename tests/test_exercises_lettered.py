"""Every lettered exercise (scenario number → letter, notebooks 04–10), checked alike.

Each checker answers through ``base.check_lettered``; each gets the same cases here: the
right answers pass however they are written (string keys, spaces, lower case), a wrong
or missing scenario is named in the hint, a placeholder is unanswered, and malformed
answers fail with a hint instead of raising. The right answers are written out here, from
the notebooks' scenarios, not read from the checkers' keys.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import exercises

LETTERED: dict[str, tuple[Callable[[object], exercises.Verdict], dict[int, str]]] = {
    "04 vault outcomes": (
        exercises.check_vault_outcomes,
        {1: "A", 2: "B", 3: "A", 4: "B", 5: "C", 6: "C"},
    ),
    "05 chain outcomes": (
        exercises.check_chain_outcomes,
        {1: "B", 2: "C", 3: "A", 4: "D", 5: "D", 6: "D", 7: "E", 8: "A"},
    ),
    "06 deploy-time exposure": (
        exercises.check_deploy_time_exposure,
        {1: "C", 2: "B", 3: "E", 4: "A", 5: "D", 6: "B", 7: "A"},
    ),
    "07 volume reads": (
        exercises.check_volume_reads,
        {1: "C", 2: "A", 3: "B", 4: "D", 5: "E", 6: "B"},
    ),
    "08 API secret handling": (
        exercises.check_api_secret_handling,
        {1: "C", 2: "A", 3: "B", 4: "B", 5: "D", 6: "A", 7: "E", 8: "F"},
    ),
    "09 pattern choices": (
        exercises.check_pattern_choices,
        {1: "C", 2: "B", 3: "A", 4: "D", 5: "A"},
    ),
    "10 MCP defences": (
        exercises.check_mcp_defences,
        {1: "A", 2: "C", 3: "D", 4: "B", 5: "A"},
    ),
}
each_checker = pytest.mark.parametrize("check, right", LETTERED.values(), ids=LETTERED)
MALFORMED = [
    42,
    3.5,
    "CBADA",
    b"C",
    ["C", "B"],
    (1, "C"),
    object(),
    {"nested": {"junk": [None, ...]}},
]


def stable_id(answer: object) -> str:
    # A bare object's repr holds its address: the same test would get another id per run.
    return "object()" if type(answer) is object else repr(answer)


def other_letter(letter: str) -> str:
    return "B" if letter == "A" else "A"


def hint(verdict: exercises.Verdict) -> str:
    assert isinstance(verdict, exercises.Verdict) and not verdict, verdict
    assert verdict is not exercises.UNANSWERED
    return repr(verdict)


@each_checker
def test_the_right_answers_pass_however_written(check: Callable, right: dict) -> None:
    assert check(right)
    assert check({str(n): f" {letter.lower()} " for n, letter in right.items()})


@each_checker
def test_a_wrong_scenario_is_named_alone_and_two_together(check: Callable, right: dict) -> None:
    first, last = min(right), max(right)
    assert f"scenario {first} (" in hint(check({**right, first: other_letter(right[first])}))
    both = {**right, first: other_letter(right[first]), last: other_letter(right[last])}
    assert f"scenarios {first}, {last} (" in hint(check(both))


@each_checker
def test_a_missing_scenario_is_named(check: Callable, right: dict) -> None:
    last = max(right)
    assert f"scenario {last} (" in hint(check({n: v for n, v in right.items() if n != last}))


@each_checker
@pytest.mark.parametrize("answer", [None, ...])
def test_the_placeholder_is_unanswered(check: Callable, right: dict, answer: object) -> None:
    assert check(answer) is exercises.UNANSWERED


@each_checker
@pytest.mark.parametrize("answer", MALFORMED, ids=stable_id)
def test_a_malformed_answer_fails_without_raising(
    check: Callable, right: dict, answer: object
) -> None:
    said = hint(check(answer))
    assert "Not yet" in said and "Replace the placeholder" not in said


@each_checker
def test_junk_values_count_as_wrong_scenarios(check: Callable, right: dict) -> None:
    everything = ", ".join(str(n) for n in sorted(right))
    assert f"scenarios {everything} (" in hint(check({1: ["C"], 2: {"A": None}, 3: None}))
