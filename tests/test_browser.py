"""The course as a learner meets it: JupyterLab in a real browser (Chromium, driven by
Playwright's Python API; see tests/jupyterlab_ui.py), started the way ``course.py lab``
starts it.

Every notebook is opened, its kernel restarted and all its cells run; the page must show
no error output, log no console error of ours, and render every widget. Screenshots go to
tests/artifacts/browser/ (git-ignored). Then deeper: the JWT inspector explains a tampered
and an unsigned token, the live vault viewer shows Bob's WAT opening nothing of Alice's,
and the interactive login is done by clicking, directly and through Jupyter's proxy.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from jupyterlab_ui import (
    ROOT,
    Notebook,
    expect_text,
    free_port,
    new_context,
    sign_in_by_clicking,
)

from helpers.processes import reap
from helpers.serving import wait_until_ok

NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Notebooks whose page the deeper tests use again once it has run.
KEPT = ("01_browser_login.ipynb", "04_outbound_tokens_and_vault.ipynb")

sys.path.insert(0, str(ROOT))
import course  # noqa: E402 - the course's own way of starting JupyterLab

pytestmark = pytest.mark.browser


@dataclass
class JupyterLab:
    """JupyterLab on a copy of the course (its autosave must not touch the real one)."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def page_query(self) -> str:
        return f"&token={self.token}"

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def start(self) -> JupyterLab:
        shutil.copytree(ROOT / "notebooks", self.root / "notebooks")
        extra = ["--no-browser", f"--ServerApp.port={self.port}"]
        extra.append(f"--IdentityProvider.token={self.token}")
        self._log = open(self.root / "jupyterlab.log", "w")  # noqa: SIM115
        self._proc = subprocess.Popen(
            course.lab_command(sys.executable, course.lab_args(extra, str(self.root))),
            cwd=self.root,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_until_ok(self.url + "api", f"JupyterLab (log: {self.root / 'jupyterlab.log'})", 60)
        return self

    def stop(self) -> None:
        reap(self._proc, grace_s=20)
        self._log.close()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    lab = JupyterLab(tmp_path_factory.mktemp("course")).start()
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def proxied_jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab as on a hub: the lab's pages reach the browser only through its proxy."""
    lab = JupyterLab(tmp_path_factory.mktemp("course-proxied"))
    lab.env = {"LAB_JUPYTER_URL": lab.url}
    lab.start()
    yield lab
    lab.stop()


class RanNotebooks:
    """Notebooks opened and run once each, for the tests that look further into them.

    A notebook done with leaves its page to the next one, which opens in place of it: the
    page boots JupyterLab once for several notebooks."""

    def __init__(self, browser: object) -> None:
        self.browser, self.ran = browser, {}
        self.spare: dict[str, Notebook] = {}  # JupyterLab's URL -> a page free for the next

    def get(self, jupyterlab: JupyterLab, name: str) -> Notebook:
        if (jupyterlab.url, name) not in self.ran:
            previous = self.spare.pop(jupyterlab.url, None)
            context = previous.context if previous else new_context(self.browser)
            notebook = Notebook(context, jupyterlab, name, after=previous)
            try:
                notebook.restart_and_run_all()
            except Exception:
                notebook.screenshot("-failed-to-run")
                notebook.close()
                raise
            notebook.screenshot()
            self.ran[jupyterlab.url, name] = notebook
        return self.ran[jupyterlab.url, name]

    def done_with(self, jupyterlab: JupyterLab, name: str) -> None:
        self.leave(jupyterlab, self.ran.pop((jupyterlab.url, name)))

    def leave(self, jupyterlab: JupyterLab, notebook: Notebook) -> None:
        """``notebook``'s page is free for the next notebook (one spare page is enough)."""
        previous = self.spare.pop(jupyterlab.url, None)
        if previous is not None:
            previous.close()
        self.spare[jupyterlab.url] = notebook

    def close(self) -> None:
        for notebook in [*self.ran.values(), *self.spare.values()]:
            notebook.close()


@pytest.fixture(scope="module")
def notebooks(chromium_browser: object) -> Iterator[RanNotebooks]:
    ran = RanNotebooks(chromium_browser)
    yield ran
    ran.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "notebooks" in request.fixturenames:
        for notebook in request.getfixturevalue("notebooks").ran.values():
            notebook.screenshot("-failed")


def test_the_first_minute_opens_the_course_without_a_dialog(
    jupyterlab: JupyterLab, notebooks: RanNotebooks
) -> None:
    # First in this file: the first page JupyterLab serves, as a learner's first minute.
    notebook = Notebook(new_context(notebooks.browser), jupyterlab, "00_start_here.ipynb")
    try:
        notebook.page.wait_for_timeout(3000)  # the news prompt, when there is one, comes late
        assert notebook.page.locator(".jp-Dialog").count() == 0
        assert notebook.page.get_by_text("official Jupyter news").count() == 0
        listing = notebook.page.locator(".jp-DirListing-itemText").all_inner_texts()
        assert set(NOTEBOOKS) <= set(listing)
    except BaseException:
        notebook.close()
        raise
    notebooks.leave(jupyterlab, notebook)  # the next notebook opens in this page


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_runs_clean_in_jupyterlab(
    jupyterlab: JupyterLab, notebooks: RanNotebooks, name: str
) -> None:
    notebook = notebooks.get(jupyterlab, name)
    assert notebook.error_outputs() == []
    assert notebook.console_errors == []
    assert notebook.broken_widgets() == 0
    views = notebook.panel.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.widget-view+json']"
    )
    for view in views.all():  # every widget view has a widget in it
        assert view.locator(".jupyter-widgets, .widget-box, .lm-Widget").count() > 0
    if name not in KEPT:
        notebooks.done_with(jupyterlab, name)


# A cell that prints the access token with one more scope written into its claims (in the
# browser only: this output is never saved).
TAMPER = """import base64, json
h, c, s = tokens["access_token"].split(".")
claims = json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
claims["scope"] += " activities:write"
print(h, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="), s, sep=".")"""


def test_the_jwt_inspector_explains_a_tampered_and_an_unsigned_token(
    jupyterlab: JupyterLab, notebooks: RanNotebooks
) -> None:
    notebook = notebooks.get(jupyterlab, "01_browser_login.ipynb")
    tampered = notebook.run_new_cell(TAMPER)
    notebook.wait_until_idle()
    token = tampered.inner_text().strip()
    inspector = notebook.panel.locator(".jupyter-widgets textarea").first
    verdict = inspector.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
    inspector.fill(token)
    expect_text(verdict, "REJECTED (bad_signature)")
    expect_text(verdict, "altered or signed by someone else")
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + token.split(".")[1] + "."
    inspector.fill(unsigned)
    expect_text(verdict, "REJECTED (alg_none)")
    expect_text(verdict, "an unsigned token that anyone could have written")
    notebook.screenshot("-inspector")
    assert notebook.console_errors == []


def test_the_live_vault_viewer_shows_bobs_wat_opening_nothing_of_alices(
    jupyterlab: JupyterLab, notebooks: RanNotebooks
) -> None:
    notebook = notebooks.get(jupyterlab, "04_outbound_tokens_and_vault.ipynb")
    live = notebook.panel.locator(".widget-vbox").filter(
        has=notebook.page.get_by_text("Re-read the vault")
    )
    live.locator("select").select_option("Bob's WAT")
    expect_text(live, "Bob's WAT opens it")  # the kernel re-read the vault for Bob's WAT
    records = live.locator("table").first.locator("tbody tr")
    # Each record: does the WAT open it, and whose is it (workload, user)?
    opens = {
        (cells[-2], cells[-1].rsplit("#", 1)[-1]): cells[0]
        for cells in (row.locator("td").all_inner_texts() for row in records.all())
    }
    # Bob's WAT is the notebook agent's: it opens Bob's record of that workload, and
    # neither Alice's records nor Bob's record of the coach.
    assert {owner for owner, says in opens.items() if says == "yes"} == {
        ("fitness-agent", "user-2-bob")
    }, opens
    assert {"user-1-alice", "user-2-bob"} <= {user for _, user in opens}, opens
    assert "Alice's WAT" not in live.locator("table").last.inner_text()
    live.locator("select").select_option("Alice's WAT")
    expect_text(live, "Alice's WAT opens it")
    notebook.screenshot("-live-vault")
    assert notebook.console_errors == []


def test_the_interactive_login_by_clicking(jupyterlab: JupyterLab, notebooks: RanNotebooks) -> None:
    notebook = notebooks.get(jupyterlab, "01_browser_login.ipynb")
    frontend = notebook.run_new_cell("print(lab.urls.frontend)")
    notebook.wait_until_idle()
    said = sign_in_by_clicking(notebook, frontend.inner_text().strip() + "/login?ticket=")
    assert "Signed in as Bob Cyclist in your browser." in said
    notebook.screenshot("-own-browser")
    assert notebook.console_errors == []


def test_the_interactive_login_through_jupyters_proxy(
    proxied_jupyterlab: JupyterLab, notebooks: RanNotebooks
) -> None:
    notebook = notebooks.get(proxied_jupyterlab, "00_start_here.ipynb")  # the quickest lab
    port = notebook.run_new_cell("print(lab.urls.frontend.rsplit(':', 1)[1])")
    notebook.wait_until_idle()
    prefix = f"{proxied_jupyterlab.url}proxy/{port.inner_text().strip()}/login?ticket="
    said = sign_in_by_clicking(notebook, prefix)
    assert "Signed in as Bob Cyclist in your browser." in said
    notebook.screenshot("-own-browser-proxied")
    assert notebook.console_errors == []
