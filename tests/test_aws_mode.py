"""AWS mode: the cells only the lab can run are marked, and step aside when it is on.

Static: every notebook's lab-only cells carry both the ``lab-only`` tag and the comment
that says why, and no other cell touches anything :data:`helpers.lab_only.LAB_ONLY`
lists. Live: in a real kernel, a marked cell runs in the lab and is one line in AWS mode.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from helpers.lab_only import LAB_ONLY, MARKER, MODE_VAR, TAG, lab_only_uses

pytestmark = pytest.mark.aws_mode

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def code_cells(path: Path) -> list[tuple[int, nbformat.NotebookNode]]:
    nb = nbformat.read(path, as_version=4)
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]


def tagged(cell: nbformat.NotebookNode) -> bool:
    return TAG in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_lab_only_tag_and_its_comment_go_together(path: Path) -> None:
    cells = code_cells(path)
    assert [i for i, cell in cells if tagged(cell) != cell.source.startswith(MARKER)] == []
    reasons = [cell.source.splitlines()[0][len(MARKER) :] for _, cell in cells if tagged(cell)]
    assert all(reason.strip() for reason in reasons)  # each says why


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_other_cell_touches_anything_lab_only(path: Path) -> None:
    touching = {
        i: lab_only_uses(cell.source)
        for i, cell in code_cells(path)
        if not tagged(cell) and lab_only_uses(cell.source)
    }
    assert touching == {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_lab_only_cell_comes_before_the_lab_starts(path: Path) -> None:
    # start_lab() is what teaches the kernel to step over lab-only cells.
    cells = code_cells(path)
    starts = [i for i, cell in cells if "start_lab(" in cell.source]
    marked = [i for i, cell in cells if tagged(cell)]
    assert not marked or (starts and starts[0] < marked[0])


@pytest.mark.parametrize(
    "source, what",
    [
        ("lab.clock.advance(60)", ["the lab clock"]),
        ("lab.idp.store.token_log[-1]", ["the lab IdP's internals"]),
        ("lab.agentcore.restart()", ["the AgentCore emulator's internals"]),
        ("bao = lab.openbao.server.client()", ["the lab's OpenBao server"]),
        ("print(lab.health())", ["the lab's own services"]),
        ("lab.rotate_client_secret()", ["a lab lever"]),
        ("store = herd_backend().start()", ["the lab's throttled Secrets Manager"]),
        ("from helpers.agentcore.lab_part import X", ["the lab's wiring of AgentCore"]),
        ("lab.urls.frontend + '/login'", []),
        ("lab.browser().sign_in(url, 'alice', pw)", []),
        ("calendar.clock = 3  # lab.clockwork", []),
    ],
)
def test_what_counts_as_lab_only(source: str, what: list[str]) -> None:
    assert lab_only_uses(source) == what
    assert set(what) <= set(LAB_ONLY.values())


def run_in_kernel(aws_mode: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    if aws_mode:
        monkeypatch.setenv(MODE_VAR, "1")
    else:
        monkeypatch.delenv(MODE_VAR, raising=False)
    lab_only_cell = new_code_cell(
        f"{MARKER} the lab clock moves a minute on\nlab.clock.advance(60)\nmoved = True"
    )
    lab_only_cell.metadata["tags"] = [TAG]
    nb = new_notebook(
        cells=[
            new_code_cell("from helpers import start_lab\nlab = start_lab()"),
            lab_only_cell,
            new_code_cell("print('moved' in dir(), 'lab' in dir())"),
        ]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]


def test_a_lab_only_cell_runs_in_the_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_in_kernel(False, monkeypatch)[1:] == ["", "True True\n"]


def test_a_lab_only_cell_is_one_line_in_aws_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = run_in_kernel(True, monkeypatch)
    assert outputs[1:] == [
        "Skipped in AWS mode (lab-only): the lab clock moves a minute on\n",
        "False True\n",  # the cell did not run; the cells around it did
    ]
