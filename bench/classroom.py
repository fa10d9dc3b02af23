"""A class on one machine: N learners at once on the trainer's JupyterHub, beside one alone.

    .venv/bin/python bench/classroom.py [N ...]        (default: 5 10 20)

For each class size a fresh hub (classroom/jupyterhub_config.py, as ``course.py hub``
runs it) gets N learners who sign in and start their servers at the same moment. Measured:
the time until every server is ready; then each learner runs notebooks 01 and 04 cell by
cell in a kernel of their own server, over the server's REST and websocket API as
JupyterLab does (jupyter-kernel-client), and the p50/p95 of each notebook's time; while
they run, a sampler adds up the resident memory of each learner's server, kernels and
their children every 100 ms: the peak per learner and the peak of the class's total.
Every figure is printed beside the same figure for one learner alone on a hub of its own
(the median of three such runs, measured first).

Targets on this 2-core, 24 GiB machine: 20 learners all ready in at most 60 s, and at
most 300 MiB per learner. Run as root, the hub makes an OS account per learner (removed
at the end); otherwise all learners share this account.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
from jupyter_kernel_client import JupyterKernelClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from classroom.hub import Hub, SignedIn, remove_accounts  # noqa: E402 - the trainer's hub
from helpers.processes import tree_rss_mib  # noqa: E402

NOTEBOOKS = ("01_browser_login.ipynb", "04_outbound_tokens_and_vault.ipynb")
READY_TARGET_S = 60.0
READY_TARGET_CLASS = 20
MEMORY_TARGET_MIB = 300.0
SAMPLE_EVERY_S = 0.1
CELL_TIMEOUT_S = 600
ALONE_RUNS = 3
HUB_LOG_LINES = 12  # of what the hub logged about a learner who failed


def code_cells(name: str) -> list[str]:
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@dataclass
class Learner:
    name: str
    ready_s: float = 0.0
    notebook_s: dict[str, float] = field(default_factory=dict)
    peak_mib: float = 0.0
    error: str = ""
    # What the learner's kernel client logged (a websocket closing says why) and what the
    # hub logged about the learner: shown when the learner fails.
    client_log: list[str] = field(default_factory=list)
    hub_log: list[str] = field(default_factory=list)

    def logger(self) -> logging.Logger:
        """A logger for this learner's kernel clients that keeps their messages here."""
        log = logging.getLogger(f"classroom-bench.{self.name}")
        log.setLevel(logging.INFO)
        log.propagate = False
        # Loggers outlive learners, and every class size reuses the names: this learner's
        # messages go to this learner, not to the one of that name in an earlier class.
        log.handlers = [_KeptIn(self.client_log)]
        return log


class _KeptIn(logging.Handler):
    def __init__(self, kept: list[str]) -> None:
        super().__init__(logging.INFO)
        self.kept = kept

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append(record.getMessage())


class ClassMemory:
    """Samples every learner's server tree; keeps each one's peak and the total's."""

    def __init__(self, hub: Hub, learners: dict[str, Learner]) -> None:
        self.hub, self.learners, self.total_peak_mib = hub, learners, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _servers(self) -> dict[str, int]:
        servers = {}
        for child in psutil.Process(self.hub.proc.pid).children():
            with contextlib.suppress(psutil.Error):
                name = child.environ().get("JUPYTERHUB_USER")
                if name in self.learners:
                    servers[name] = child.pid
        return servers

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            total = 0.0
            for name, pid in self._servers().items():
                with contextlib.suppress(psutil.Error):  # a server stopping meanwhile
                    mib = tree_rss_mib(pid)
                    learner = self.learners[name]
                    learner.peak_mib = max(learner.peak_mib, mib)
                    total += mib
            self.total_peak_mib = max(self.total_peak_mib, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_notebook(signed_in: SignedIn, name: str, log: logging.Logger) -> float:
    """Run every code cell of ``name`` in a new kernel of the learner's server; the time
    from asking for the kernel to the last cell's reply (closing it is not waited on by a
    learner, and the client's websocket sometimes takes 10 s to wind down)."""
    began = time.perf_counter()
    # The token in a header: the hub's servers refuse one in the websocket's URL.
    kernel_client = JupyterKernelClient(
        server_url=signed_in.url.rstrip("/"),
        token=signed_in.token,
        headers=signed_in.api_headers(),
        log=log,
    )
    with kernel_client as kernel:
        for number, code in enumerate(code_cells(name), 1):
            try:
                reply = kernel.execute(code, timeout=CELL_TIMEOUT_S)
            except RuntimeError as exc:  # the websocket to the kernel closed under it
                raise RuntimeError(f"{name}, code cell {number}: {exc}") from None
            if reply["status"] != "ok":
                raise RuntimeError(f"{name}, code cell {number}: {reply['status']}")
        ran_s = time.perf_counter() - began
    return ran_s


def attend(hub: Hub, learner: Learner, start: threading.Barrier, t0: list[float]) -> None:
    """One learner's session: sign in, start the server, run the notebooks."""
    try:
        start.wait()
        signed_in = hub.sign_in(learner.name)
        signed_in.start_server()
        signed_in.wait_ready()
        learner.ready_s = time.perf_counter() - t0[0]
        for name in NOTEBOOKS:
            learner.notebook_s[name] = run_notebook(signed_in, name, learner.logger())
    except Exception as exc:  # reported with the figures, not as a thread traceback
        learner.error = f"{type(exc).__name__}: {exc}"


def run_class(size: int, names: list[str]) -> tuple[list[Learner], float]:
    """``size`` learners at once on a fresh hub; the learners and the class's peak MiB."""
    learners = {name: Learner(name) for name in names[:size]}
    with tempfile.TemporaryDirectory(prefix="classroom-bench-") as state:
        hub = Hub(Path(state)).start()
        memory = ClassMemory(hub, learners)
        start, t0 = threading.Barrier(size + 1), [0.0]
        threads = [
            threading.Thread(target=attend, args=(hub, learner, start, t0))
            for learner in learners.values()
        ]
        for thread in threads:
            thread.start()
        t0[0] = time.perf_counter()
        start.wait()
        for thread in threads:
            thread.join()
        memory.stop()
        hub.stop()
        hub_log = hub.log_path.read_text(errors="replace")
    failed = [learner for learner in learners.values() if learner.error]
    for learner in failed:
        mine = [line for line in hub_log.splitlines() if learner.name in line]
        learner.hub_log = mine[-HUB_LOG_LINES:]
    if failed:  # the whole log outlives the hub's state: kernels log without a name
        kept = Path(tempfile.gettempdir()) / f"classroom-bench-{size}-hub.log"
        kept.write_text(hub_log)
        failed[0].hub_log.append(f"(the hub's whole log: {kept})")
    return list(learners.values()), memory.total_peak_mib


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def figures(learners: list[Learner], total_mib: float) -> dict[str, float]:
    """The class's figures, from the learners who got through."""
    done = [learner for learner in learners if not learner.error]
    row = {"all servers ready (s)": max(learner.ready_s for learner in done)}
    for name in NOTEBOOKS:
        times = [learner.notebook_s[name] for learner in done]
        row[f"notebook {name[:2]}, p50 (s)"] = percentile(times, 50)
        row[f"notebook {name[:2]}, p95 (s)"] = percentile(times, 95)
    row["peak per learner, largest (MiB)"] = max(learner.peak_mib for learner in learners)
    row["peak of the whole class (MiB)"] = total_mib
    return row


def target(label: str, size: int, value: float) -> str:
    if label.startswith("all servers ready") and size == READY_TARGET_CLASS:
        return f"<= {READY_TARGET_S:.0f} s " + ("ok" if value <= READY_TARGET_S else "MISSED")
    if label.startswith("peak per learner"):
        met = "ok" if value <= MEMORY_TARGET_MIB else "MISSED"
        return f"<= {MEMORY_TARGET_MIB:.0f} MiB {met}"
    return ""


def report(size: int, row: dict[str, float], alone: dict[str, float], failed: int) -> None:
    without = f" ({failed} failed: the figures are the others')" if failed else ""
    print(f"\n{size} learners at once, beside one alone{without}", flush=True)
    print(f"  {'measurement':<34} {'class':>9} {'alone':>9} {'ratio':>7}  target")
    for label, value in row.items():
        ratio = value / alone[label] if alone[label] else float("nan")
        print(
            f"  {label:<34} {value:>9.1f} {alone[label]:>9.1f} {ratio:>6.2f}x  "
            f"{target(label, size, value)}"
        )


def measured(
    size: int, names: list[str], say: Callable[[str], None]
) -> tuple[dict[str, float], list[Learner]]:
    """The class's figures, and the learners who failed (the figures leave them out)."""
    say(f"class of {size}: signing in, starting servers, running {', '.join(NOTEBOOKS)}...")
    began = time.perf_counter()
    learners, total = run_class(size, names)
    failed = [learner for learner in learners if learner.error]
    say(f"class of {size}: done in {time.perf_counter() - began:.0f} s, {len(failed)} failed")
    for learner in failed:
        say(f"  {learner.name}: {learner.error}")
        for line in learner.client_log:
            say(f"    kernel client: {line}")
        for line in learner.hub_log:
            say(f"    hub: {line}")
    if len(failed) == len(learners):
        raise SystemExit(f"class of {size}: every learner failed")
    return figures(learners, total), failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[5, 10, 20])
    sizes = parser.parse_args().sizes
    names = [f"bench-learner-{i:02d}" for i in range(1, max(sizes) + 1)]
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    failures = 0
    try:
        # One learner alone varies most (a cold first kernel): the median of three runs.
        runs = []
        for _ in range(ALONE_RUNS):
            run, failed = measured(1, names, say)
            runs.append(run)
            failures += len(failed)
        alone = {label: statistics.median(run[label] for run in runs) for label in runs[0]}
        for size in sizes:  # each size's figures as soon as they are in
            row, failed = measured(size, names, say)
            report(size, row, alone, len(failed))
            failures += len(failed)
    finally:
        remove_accounts(names)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
