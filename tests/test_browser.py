"""The course as a learner meets it: JupyterLab in a real browser (Chromium, driven by
Playwright's Python API), started the way ``course.py lab`` starts it.

Every notebook is opened, its kernel restarted and all its cells run; the page must show
no error output, log no console error of ours, and render every widget. Screenshots go to
tests/artifacts/browser/ (git-ignored). Then deeper: the JWT inspector explains a tampered
and an unsigned token, the live vault viewer shows Bob's WAT opening nothing of Alice's,
and the interactive login is done by clicking, directly and through Jupyter's proxy.

Playwright's own browser download is not used: Debian's ``chromium`` is, through
``executable_path``. Without it the tests skip on a laptop, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN_TIMEOUT_MS = 180_000
# The notebook in front: JupyterLab may restore other tabs, which stay in the page hidden.
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# What JupyterLab itself logs when a kernel restarts under open widgets and its debugger
# panel; nothing of the course's. Anything else on the console fails the test.
JUPYTERLAB_RESTART_NOISE = (
    re.compile(r"^Could not restore the debugger state"),
    re.compile(r"^Comm not found for comm id"),
    re.compile(r"^Canceled future for \w+ message before replies were done"),
)
# Notebooks whose page the deeper tests use again once it has run.
KEPT = ("01_browser_login.ipynb", "04_outbound_tokens_and_vault.ipynb")

sys.path.insert(0, str(ROOT))
import course  # noqa: E402 - the course's own way of starting JupyterLab

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Debian's chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("no chromium here (apt-get install chromium); CI runs these tests")
    return found


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an event loop running in the main thread
    # while it lives, and tests after this module call asyncio.run().
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Chromium's sandbox needs a non-root user: CI runs as root.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=chromium, args=args)
        yield launched
        launched.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    def start(self) -> JupyterLab:
        shutil.copytree(ROOT / "notebooks", self.root / "notebooks")
        extra = ["--no-browser", f"--ServerApp.port={self.port}"]
        extra.append(f"--IdentityProvider.token={self.token}")
        self._log = open(self.root / "jupyterlab.log", "w")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("jupyter")),
                "lab",
                *course.lab_args(extra, str(self.root)),
            ],
            cwd=self.root,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "api", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not start: see {self.root / 'jupyterlab.log'}")

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
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


class Notebook:
    """One notebook open in JupyterLab, in a page of its own."""

    def __init__(self, browser: object, jupyterlab: JupyterLab, name: str) -> None:
        self.jupyterlab = jupyterlab
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self._error(str(error)))
        self.page.on("response", self._response)
        self.name = name
        # A workspace of its own, reset: otherwise JupyterLab restores the tabs other pages
        # opened, and two pages on one notebook share its kernel and its widgets.
        workspace = f"{Path(name).stem}-{secrets.token_hex(4)}"
        self.page.goto(
            f"{jupyterlab.url}lab/workspaces/{workspace}/tree/notebooks/{name}"
            f"?reset&token={jupyterlab.token}"
        )
        self.panel = self.page.locator(PANEL)
        try:
            self.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
            self.panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
            # The kernel JupyterLab started for the notebook must be up and connected, or a
            # restart races its start-up and leaves the page "Starting" for good.
            self.page.locator(".jp-StatusBar-Item", has_text=re.compile(r"\| Idle")).wait_for()
            self.page.wait_for_timeout(1000)
        except Exception:
            self.screenshot("-failed-to-open")
            raise

    def _response(self, response: object) -> None:
        if response.status >= 500:  # name the URL: the console only says "500"
            self.console_errors.append(f"HTTP {response.status} from {response.url}")

    def _console(self, message: object) -> None:
        if message.type == "error":
            self._error(message.text)

    def _error(self, text: str) -> None:
        if not any(noise.search(text) for noise in JUPYTERLAB_RESTART_NOISE):
            self.console_errors.append(text)

    def menu(self, menu: str, item: str) -> None:
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.get_by_text(item, exact=True).click()

    def restart_and_run_all(self) -> None:
        # A prompt shows [*] while its cell waits or runs: seen once, then gone from every
        # cell, the whole notebook has run.
        self.page.evaluate(
            """(panel) => {
              window.__ran = false;
              const busy = () => [...document.querySelectorAll(panel + ' .jp-InputArea-prompt')]
                .some(p => p.textContent.includes('*'));
              new MutationObserver(() => { if (busy()) window.__ran = true; })
                .observe(document.body, {subtree: true, childList: true, characterData: true});
            }""",
            PANEL,
        )
        for attempt in (1, 2):
            self.menu("Kernel", "Restart Kernel and Run All Cells…")
            self.page.locator(".jp-Dialog .jp-mod-accept").click()
            try:  # a restart that lands while the first kernel still starts up runs nothing
                self.page.wait_for_function("() => window.__ran", timeout=30_000)
                break
            except Exception:
                if attempt == 2:
                    raise
        self.wait_until_idle()

    def wait_until_idle(self) -> None:
        self.page.wait_for_function(
            """(panel) => window.__ran
              && ![...document.querySelectorAll(panel + ' .jp-InputArea-prompt')]
                   .some(p => p.textContent.includes('*'))
              && document.querySelector(
                   panel + " .jp-Notebook-ExecutionIndicator[data-status='idle']") !== null""",
            arg=PANEL,
            timeout=RUN_TIMEOUT_MS,
        )

    def run_new_cell(self, code: str) -> object:
        """Add a cell at the end, type ``code`` into it and run it; its output area."""
        cells = self.panel.locator(".jp-Notebook .jp-Cell")
        cells.last.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")  # a new cell below, in command mode
        self.page.keyboard.press("Enter")
        self.page.keyboard.insert_text(code)
        self.page.evaluate("() => { window.__ran = true; }")
        self.page.keyboard.press("Shift+Enter")
        return cells.nth(cells.count() - 2).locator(".jp-OutputArea")

    def error_outputs(self) -> list[str]:
        shown = self.panel.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
            ".jp-OutputArea-output[data-mime-type*='error']"
        )
        return shown.all_inner_texts()

    def broken_widgets(self) -> int:
        return self.panel.get_by_text(re.compile("Error displaying widget|Loading widget")).count()

    def screenshot(self, suffix: str = "") -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{Path(self.name).stem}{suffix}.png", full_page=True)

    def close(self) -> None:
        """Close the page and shut its kernel down (and with it the lab it started)."""
        self.context.close()
        api, auth = self.jupyterlab.url + "api", {"Authorization": f"token {self.jupyterlab.token}"}
        try:
            sessions = requests.get(f"{api}/sessions", headers=auth, timeout=10).json()
        except requests.ConnectionError:
            return  # JupyterLab is gone already, and its kernels with it
        for session in sessions:
            if session["path"].endswith(self.name):
                requests.delete(f"{api}/sessions/{session['id']}", headers=auth, timeout=30)


class RanNotebooks:
    """Notebooks opened and run once each, for the tests that look further into them."""

    def __init__(self, browser: object) -> None:
        self.browser, self.ran = browser, {}

    def get(self, jupyterlab: JupyterLab, name: str) -> Notebook:
        if (jupyterlab.url, name) not in self.ran:
            notebook = Notebook(self.browser, jupyterlab, name)
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
        self.ran.pop((jupyterlab.url, name)).close()

    def close(self) -> None:
        for notebook in self.ran.values():
            notebook.close()


@pytest.fixture(scope="module")
def notebooks(browser: object) -> Iterator[RanNotebooks]:
    ran = RanNotebooks(browser)
    yield ran
    ran.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "notebooks" in request.fixturenames:
        for notebook in request.getfixturevalue("notebooks").ran.values():
            notebook.screenshot("-failed")


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


def test_the_first_minute_opens_the_course_without_a_dialog(
    jupyterlab: JupyterLab, browser: object
) -> None:
    notebook = Notebook(browser, jupyterlab, "00_start_here.ipynb")
    try:
        notebook.page.wait_for_timeout(3000)  # the news prompt, when there is one, comes late
        assert notebook.page.locator(".jp-Dialog").count() == 0
        assert notebook.page.get_by_text("official Jupyter news").count() == 0
        listing = notebook.page.locator(".jp-DirListing-itemText").all_inner_texts()
        assert set(NOTEBOOKS) <= set(listing)
    finally:
        notebook.close()


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
    opens = {
        row.locator("td").last.inner_text(): row.locator("td").first.inner_text()
        for row in records.all()
    }
    owners = {owner.rsplit("#", 1)[-1]: says for owner, says in opens.items()}
    assert owners["user-1-alice"] == "no" and owners["user-2-bob"] == "yes", opens
    assert "Alice's WAT" not in live.locator("table").last.inner_text()
    live.locator("select").select_option("Alice's WAT")
    expect_text(live, "Alice's WAT opens it")
    notebook.screenshot("-live-vault")
    assert notebook.console_errors == []


def sign_in_by_clicking(notebook: Notebook, expected_prefix: str) -> str:
    """Run an interactive login cell, click its link, sign in and allow in the new tab."""
    output = notebook.run_new_cell(
        "from helpers.widgets import sign_in\n"
        "me = sign_in(lab, 'bob', interactive=True, timeout_s=120)\n"
        "print(me)"
    )
    link = output.locator("a[target='_blank']")
    link.wait_for(timeout=60_000)
    assert link.get_attribute("href").startswith(expected_prefix)
    with notebook.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_selector("input[name='username']")
    tab.fill("input[name='username']", "bob")
    tab.fill("input[name='password']", "bob-lab-password")
    tab.click("button[type='submit']")
    tab.click("button[value='allow']")
    tab.wait_for_selector("#user")
    assert tab.inner_text("#user") == "Signed in as Bob Cyclist"
    notebook.wait_until_idle()
    tab.close()
    return output.inner_text()


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


def expect_text(locator: object, text: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in locator.inner_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in: {locator.inner_text()[:500]!r}")
