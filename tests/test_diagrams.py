"""The notebooks' diagrams: drawn by a process of their own, kept, refused with a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import helpers.diagrams as diagrams
from helpers.diagrams import drawing


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(diagrams, "CACHE", tmp_path)
    return tmp_path


def test_the_picture_is_the_figure_as_the_inline_backend_shows_it(cache: Path) -> None:
    shown = diagrams.request_chain(3)
    assert shown.format == "png"
    assert shown.data == drawing.png(drawing.request_chain(3))


def test_a_kept_picture_is_shown_without_drawing_again(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = diagrams.blast_radius_timeline()
    assert [p.suffix for p in cache.iterdir()] == [".png"]

    def no_drawing(*args: object, **kwargs: object) -> None:
        raise AssertionError("drew again")

    monkeypatch.setattr(subprocess, "run", no_drawing)
    assert diagrams.blast_radius_timeline().data == first.data
    with pytest.raises(AssertionError, match="drew again"):
        diagrams.blast_radius_timeline({"refresh": 86400.0})  # other arguments: another picture


def test_one_step_of_a_figure_draws_every_step_at_once(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = diagrams.login_sequence(step=2)
    assert len(list(cache.glob("login_sequence-*.png"))) == len(drawing.LOGIN_STEPS) + 1

    def no_drawing(*args: object, **kwargs: object) -> None:
        raise AssertionError("drew again")

    monkeypatch.setattr(subprocess, "run", no_drawing)
    later = [diagrams.login_sequence(step).data for step in (None, 0, 1, 2, 3, 4, 5)]
    assert later[3] == shown.data and len(set(later)) == 7
    assert later[5] == drawing.png(drawing.login_sequence(4))


def test_changed_drawing_code_draws_afresh(
    cache: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    diagrams.volume_swap()
    changed = tmp_path_factory.mktemp("code") / "drawing.py"
    changed.write_bytes(diagrams.DRAWING_CODE.read_bytes() + b"\n# a change\n")
    monkeypatch.setattr(diagrams, "DRAWING_CODE", changed)
    diagrams.volume_swap()
    assert len(list(cache.glob("volume_swap-*.png"))) == 2


@pytest.mark.parametrize("step", [-1, 6, "2"])
def test_a_step_out_of_range_is_the_drawings_value_error(cache: Path, step: object) -> None:
    with pytest.raises(ValueError, match="step must be between 0 and 5"):
        diagrams.login_sequence(step)  # type: ignore[arg-type]
    assert list(cache.iterdir()) == []  # nothing kept for a refused drawing


@pytest.mark.parametrize(
    "lifetimes", [{"nonsense": 1.0}, {"refresh": "soon"}, {"access": -5}, {"code": True}]
)
def test_lifetimes_that_are_not_seconds_are_refused(cache: Path, lifetimes: dict) -> None:
    with pytest.raises(ValueError, match="lifetimes: code, access, refresh, id in seconds"):
        diagrams.blast_radius_timeline(lifetimes)


def test_a_drawing_that_fails_says_so_in_one_line(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # a drawing process that fails
    with pytest.raises(RuntimeError, match=r"^drawing volume_swap failed: exit status 1$"):
        diagrams.volume_swap()
    assert list(cache.iterdir()) == []


def test_the_notebook_side_never_imports_matplotlib(cache: Path) -> None:
    probe = (
        "import sys; from helpers.diagrams import pattern_decision; pattern_decision();"
        " print('matplotlib' in sys.modules)"
    )
    env_cache = f"import helpers.diagrams as d, pathlib; d.CACHE = pathlib.Path({str(cache)!r}); "
    result = subprocess.run(
        [sys.executable, "-c", env_cache + probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]
