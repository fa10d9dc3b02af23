"""Every notebook of the course, timed and weighed, beside an empty notebook.

    .venv/bin/python bench/notebooks.py [--repeat N] [NAME_PREFIX ...]

Each notebook runs top to bottom in a fresh kernel, as nbval runs it. While it runs, a
sampler adds up the resident memory of the kernel and of every process below it (the
agents, OpenBao, moto) every 20 ms: the peak of that sum is what a learner's laptop must
hold for the notebook. The reference is an empty notebook (one cell, ``1 + 1``): the
kernel's own start-up, shutdown and memory.

Targets on the course's 2-core reference machine: the whole course in at most 45 s, and
no notebook above 300 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
COURSE_TARGET_S = 45.0
MEMORY_TARGET_MIB = 300.0
SAMPLE_EVERY_S = 0.02


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    parts: dict[str, float]  # each process's MiB at the peak


class PeakMemory:
    """The largest RSS sum of a process tree seen while sampling, in MiB."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0.0
        self.parts: dict[str, float] = {}  # MiB of each process at the peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _tree(self) -> dict[str, float]:
        parts = {}
        for process in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # exited between listing and reading
                name = "kernel" if process is self.root else _name(process)
                parts[f"{name} {process.pid}"] = process.memory_info().rss / 2**20
        return parts

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            try:
                parts = self._tree()
            except psutil.Error:  # the kernel itself is gone: the run is over
                return
            if sum(parts.values()) > self.peak:
                self.peak, self.parts = sum(parts.values()), parts

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def _name(process: psutil.Process) -> str:
    """A child's name: the lab's agents say their kind; others their executable."""
    args = process.cmdline()
    return " ".join(args[-2:]) if "-m" in args else process.name()


def run_notebook(nb: nbformat.NotebookNode) -> Run:
    """Execute ``nb`` in a fresh kernel; its wall time and the peak memory of its tree."""
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    sampler: list[PeakMemory] = []
    client.on_notebook_start = lambda **_: sampler.append(PeakMemory(client.km.provisioner.pid))
    began = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - began
    peak = sampler[0] if sampler else None
    return Run(seconds, peak.stop() if peak else 0.0, peak.parts if peak else {})


def empty_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    return nb


def median_run(make: Callable[[], nbformat.NotebookNode], repeat: int) -> Run:
    runs = [run_notebook(make()) for _ in range(repeat)]
    median_peak = sorted(runs, key=lambda r: r.peak_mib)[len(runs) // 2]
    return Run(statistics.median(r.seconds for r in runs), median_peak.peak_mib, median_peak.parts)


def mark(met: bool) -> str:
    return "✓" if met else "✗"


def course_report(repeat: int, prefixes: tuple[str, ...] = (), parts: bool = False) -> None:
    """One row per notebook: seconds and peak MiB, each beside the empty notebook's."""
    run_notebook(empty_notebook())  # warm-up: the first kernel start pays for cold caches
    empty = median_run(empty_notebook, repeat)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    paths = [p for p in paths if not prefixes or p.name.startswith(prefixes)]
    print(
        f"{'notebook':<34} {'seconds':>8} {'empty':>7} {'ratio':>7}"
        f" {'peak MiB':>9} {'empty':>7} {'ratio':>7}  target ≤ {MEMORY_TARGET_MIB:.0f} MiB"
    )
    total = 0.0
    for path in paths:
        run = median_run(lambda p=path: nbformat.read(p, as_version=4), repeat)
        total += run.seconds
        print(
            f"{path.stem:<34} {run.seconds:>8.2f} {empty.seconds:>7.2f}"
            f" {run.seconds / empty.seconds:>6.1f}× {run.peak_mib:>9.0f} {empty.peak_mib:>7.0f}"
            f" {run.peak_mib / empty.peak_mib:>6.1f}×  {mark(run.peak_mib <= MEMORY_TARGET_MIB)}"
        )
        if parts:
            print("    at the peak: " + ", ".join(f"{k} {v:.0f}" for k, v in run.parts.items()))
    if not prefixes:
        print(
            f"{'whole course':<34} {total:>8.2f} {empty.seconds * len(paths):>7.2f}"
            f" {total / (empty.seconds * len(paths)):>6.1f}×"
            f"  target ≤ {COURSE_TARGET_S:.0f} s {mark(total <= COURSE_TARGET_S)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook")
    parser.add_argument("--parts", action="store_true", help="each process's MiB at the peak")
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose names start so")
    args = parser.parse_args()
    course_report(args.repeat, tuple(args.prefixes), args.parts)


if __name__ == "__main__":
    main()
