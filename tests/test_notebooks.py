"""Static checks on the committed notebooks (nbval re-executes them separately).

Outputs are committed, so they are published: no whole token or secret may be in one.
Each notebook must also keep the course's shape: objectives, map, recap, checked exercise.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

NOTEBOOKS = sorted(Path(__file__).parent.parent.joinpath("notebooks").glob("*.ipynb"))

WHOLE_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")
# Client secrets, codes, refresh tokens, verifiers are >= 43 url-safe characters;
# the longest innocent run in our outputs (a jti) is 32 hex characters.
OPAQUE_SECRET = re.compile(r"[A-Za-z0-9_-]{40,}")
HIDDEN_FROM_NBVAL = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def leaked_values(output: dict) -> list[str]:
    """Whole tokens or secret-looking strings in one output (images excluded)."""
    texts = [output.get("text", "")] + [
        value for mime, value in output.get("data", {}).items() if mime.startswith("text/")
    ]
    blob = "\n".join("".join(t) if isinstance(t, list) else str(t) for t in texts)
    opaque = [run for run in OPAQUE_SECRET.findall(blob) if len(set(run)) > 8]  # not "-----"
    return WHOLE_JWT.findall(blob) + opaque


def test_notebooks_are_numbered_in_sequence() -> None:
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_output_shows_a_whole_secret(path: Path) -> None:
    found = [
        v for cell in code_cells(load(path)) for out in cell["outputs"] for v in leaked_values(out)
    ]
    assert found == []


def test_the_scan_catches_a_planted_token() -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9." + "s" * 40
    assert leaked_values({"output_type": "stream", "text": [f"token: {jwt_like}"]})
    secret = secrets.token_urlsafe(32)  # how the lab makes client secrets
    assert leaked_values({"data": {"text/plain": f"'{secret}'"}})
    innocent = "eyJh…9xQa, jti 0123456789abcdef0123456789abcdef, " + "-" * 60
    assert not leaked_values({"data": {"text/plain": innocent}})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_ran_cleanly_and_is_compared(path: Path) -> None:
    for cell in code_cells(load(path)):
        source = "".join(cell["source"])
        assert cell["execution_count"] is not None, source[:60]
        assert not any(o["output_type"] == "error" for o in cell["outputs"]), source[:60]
        assert not any(marker in source for marker in HIDDEN_FROM_NBVAL), source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_objectives_map_recap_and_checked_exercise(path: Path) -> None:
    nb = load(path)
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    opening = "\n".join(markdown[:3])
    assert "In this notebook you will" in opening and "Where we are" in opening
    assert any("## Recap" in m for m in markdown)
    assert any("## Check yourself" in m for m in markdown)
    assert any("check_" in "".join(c["source"]) for c in code_cells(nb))


def _markdown(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_header_says_how_long_and_marks_this_stop_on_the_course_map(path: Path) -> None:
    nb = load(path)
    header = _markdown(nb)[0]
    minutes = re.search(r"\*\*Time:\*\* about (\d+) min", header)
    assert minutes, "the header says how long the notebook takes"
    # Reading (150 words a minute), a third of a minute per code cell, three minutes per
    # exercise: the estimate may round up, never below what the content needs.
    words = sum(len(re.findall(r"\w+", m)) for m in _markdown(nb))
    exercises = sum(
        1 for c in code_cells(nb) if re.search(r"^check_\w+\(", "".join(c["source"]), re.M)
    )
    needed = words / 150 + len(code_cells(nb)) / 3 + 3 * exercises
    assert needed <= int(minutes.group(1)) < needed + 10
    assert f"**▶ {path.name[:2]} " in header  # this stop, marked on the map
    for other in NOTEBOOKS:
        if other != path:
            assert f"]({other.name})" in header  # every other stop, linked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_h1_numbered_h2s_and_links_to_the_neighbours(path: Path) -> None:
    lines = [line for m in _markdown(load(path)) for line in m.splitlines()]
    assert len([line for line in lines if line.startswith("# ")]) == 1
    for h2 in (line for line in lines if line.startswith("## ")):
        assert re.match(r"## (\d+ · |Step \d · |Recap$|Check yourself$)", h2), h2
        assert len(h2) <= 60, f"keep it short for the table of contents: {h2}"
    footer = _markdown(load(path))[-1]
    index = NOTEBOOKS.index(path)
    neighbours = NOTEBOOKS[max(0, index - 1) : index] + NOTEBOOKS[index + 1 : index + 2]
    for neighbour in neighbours:
        assert f"]({neighbour.name})" in footer


def test_the_last_cell_never_stops_the_lab() -> None:
    """Widgets outlive Run All: the lab stops with the kernel, not in a final cell."""
    for path in NOTEBOOKS:
        assert not any("lab.stop()" in "".join(c["source"]) for c in code_cells(load(path)))


def test_notebook_03_makes_step_6a_through_the_sdk_as_its_users_write_it() -> None:
    """Beside boto3's call, the SDK's own: IdentityClient.get_workload_access_token with
    workload_name and user_token, whose WAT binds the same workload and user (nbval
    re-checks the saved outputs)."""
    cells = code_cells(load(NOTEBOOKS[0].with_name("03_workload_identities.ipynb")))
    at = next(i for i, c in enumerate(cells) if "IdentityClient(" in "".join(c["source"]))
    source = "".join(cells[at]["source"])
    assert re.search(r"\.get_workload_access_token\(workload_name=.+,\s*user_token=", source, re.S)
    # The comparison reads both WATs' claims: the next cell, lab-only (AWS's are opaque).
    compared = cells[at + 1]
    assert "lab-only" in compared["metadata"].get("tags", [])
    said = "".join("".join(output.get("text", "")) for output in compared["outputs"])
    assert "same workload and user as boto3's: True" in said
