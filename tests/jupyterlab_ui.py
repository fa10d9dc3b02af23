"""JupyterLab pages in a real Chromium, for the tests that use the course as a learner
does: directly (tests/test_browser.py) or through JupyterHub (tests/test_hub.py).

Chromium is Debian's ``chromium`` (Playwright's own download is not reachable here),
driven by Playwright's Python API. Without it the tests skip on a laptop, and fail under
``CI=true``.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from pathlib import Path
from typing import Protocol

import requests

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
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


class JupyterServer(Protocol):
    """Where a notebook page is opened: a JupyterLab of the tests' own, or a learner's
    server behind the hub."""

    url: str  # ends with a slash

    def page_query(self) -> str: ...  # what the page URL carries to sign in, if anything

    def api_headers(self) -> dict[str, str] | None: ...  # for the REST API, if the tests have it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_context(browser: object) -> object:
    """A browser context of its own (an empty cookie jar), sized for a notebook page."""
    return browser.new_context(viewport={"width": 1400, "height": 1000})


class Notebook:
    """One notebook open in JupyterLab: in a page of its own, or in the page of a notebook
    done with (``after``), in place of it. JupyterLab boots in a new page, some 10 s before
    the first cell shows; opened in its place, the next notebook is there in a second."""

    def __init__(
        self, context: object, server: JupyterServer, name: str, after: Notebook | None = None
    ) -> None:
        self.server = server
        self.context = context
        self.name = name
        if after is None:
            self.page = self.context.new_page()
            self._errors: list[str] = []
            self.page.on("console", self._console)
            self.page.on("pageerror", lambda error: self._error(str(error)))
            self.page.on("response", self._response)
        else:  # the page and its console go on; only what it logs from now on is ours
            self.page, self._errors = after.page, after._errors
        self._errors_before = len(self._errors)
        self.panel = self.page.locator(PANEL)
        try:
            if after is None:
                self._open_in_new_page()
            else:
                after.close_and_shut_down()
                self.menu("File", "Open from Path…")
                self.page.locator(".jp-Dialog input").fill(f"notebooks/{name}")
                self.page.locator(".jp-Dialog .jp-mod-accept").click()
            self.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
            self.panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
            # The kernel JupyterLab started for the notebook must be up and connected, or a
            # restart races its start-up and leaves the page "Starting" for good.
            self.page.locator(".jp-StatusBar-Item", has_text=re.compile(r"\| Idle")).wait_for()
            self.page.wait_for_timeout(1000)
        except Exception:
            self.screenshot("-failed-to-open")
            raise

    def _open_in_new_page(self) -> None:
        # A workspace of its own, reset: otherwise JupyterLab restores the tabs other pages
        # opened, and two pages on one notebook share its kernel and its widgets.
        workspace = f"{Path(self.name).stem}-{secrets.token_hex(4)}"
        self.page.goto(
            f"{self.server.url}lab/workspaces/{workspace}/tree/notebooks/{self.name}"
            f"?reset{self.server.page_query()}"
        )

    @property
    def console_errors(self) -> list[str]:
        """What the page logged as an error since this notebook opened."""
        return self._errors[self._errors_before :]

    def close_and_shut_down(self) -> None:
        """File > Close and Shut Down Notebook: the tab goes, and its kernel (and lab) too."""
        self.menu("File", "Close and Shut Down Notebook…")
        self.page.locator(".jp-Dialog .jp-mod-accept").click()
        self.panel.wait_for(state="detached")

    def _response(self, response: object) -> None:
        if response.status >= 500:  # name the URL: the console only says "500"
            self._errors.append(f"HTTP {response.status} from {response.url}")

    def _console(self, message: object) -> None:
        if message.type == "error":
            self._error(message.text)

    def _error(self, text: str) -> None:
        if not any(noise.search(text) for noise in JUPYTERLAB_RESTART_NOISE):
            self._errors.append(text)

    def menu(self, menu: str, item: str) -> None:
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.get_by_text(item, exact=True).click()

    def restart_and_run_all(self) -> None:
        self.start_restart_and_run_all()
        self.wait_until_idle()

    def start_restart_and_run_all(self) -> None:
        """Restart the kernel and run all cells; return once the first cell runs."""
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
        headers = self.server.api_headers()
        if headers is None:
            return  # the kernel goes with its server
        api = self.server.url + "api"
        try:
            sessions = requests.get(f"{api}/sessions", headers=headers, timeout=10).json()
        except requests.ConnectionError:
            return  # JupyterLab is gone already, and its kernels with it
        for session in sessions:
            if session["path"].endswith(self.name):
                requests.delete(f"{api}/sessions/{session['id']}", headers=headers, timeout=30)


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


def expect_text(locator: object, text: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in locator.inner_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in: {locator.inner_text()[:500]!r}")
