"""Every exercise has a worked solution in solutions/, and every solution passes its
checker against a running lab; every notebook has two or more checked exercises, one of
them hands-on; no checker evaluates what a learner typed."""

from __future__ import annotations

import ast
import json
import re
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import exercises
from helpers.lab import Lab

ROOT = Path(__file__).parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CALL = re.compile(r"^(check_\w+)\(", re.M)  # a notebook cell that runs a checker


def solutions() -> list[tuple[str, Callable]]:
    found = []
    for path in SOLUTIONS:
        for name, value in runpy.run_path(str(path)).items():
            solution = not name.startswith("_") and callable(value)
            if solution and getattr(value, "__module__", None) == "<run_path>":
                found.append((f"{path.stem}:{name}", value))
    return found


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab(agentcore=True, openbao=True)
    lab.export_env()  # as start_lab does in a notebook, without stopping the shared lab
    yield lab
    lab.stop()


@pytest.mark.parametrize(("name", "solve"), solutions(), ids=[n for n, _ in solutions()])
def test_each_solution_passes_its_checker(lab: Lab, name: str, solve: Callable) -> None:
    verdict = solve(lab)
    assert isinstance(verdict, exercises.Verdict) and verdict.ok, verdict


def checkers_in(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return [
        m for c in cells if c["cell_type"] == "code" for m in CALL.findall("".join(c["source"]))
    ]


def test_every_notebook_has_two_or_more_exercises_one_of_them_hands_on() -> None:
    per_notebook = {path.stem: checkers_in(path) for path in NOTEBOOKS}
    assert all(len(found) >= 2 for found in per_notebook.values()), per_notebook
    assert sum(len(found) for found in per_notebook.values()) >= 25
    for stem, found in per_notebook.items():
        assert any(getattr(exercises, name).__dict__.get("hands_on") for name in found), stem


def test_every_checker_of_a_notebook_has_a_worked_solution() -> None:
    solved = "\n".join(path.read_text() for path in SOLUTIONS)
    for path in NOTEBOOKS:
        for name in checkers_in(path):
            assert f"{name}(" in solved, f"{path.stem}: no solution calls {name}"


def test_no_checker_evaluates_a_learners_answer() -> None:
    for path in (ROOT / "helpers" / "exercises").glob("*.py"):
        calls = {
            node.func.id
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not calls & {"eval", "exec", "compile", "__import__"}, path.name
