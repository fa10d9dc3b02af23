"""A class on a real JupyterHub: the trainer's configuration (classroom/jupyterhub_config.py)
started as ``course.py hub`` starts it, with configurable-http-proxy from npm.

Two learners sign in at the hub in Chromium, each gets a Jupyter server of their own and
runs notebook 01 to the end in it; one signs in to their lab in their own browser, through
their server's proxy. Then isolation: neither learner's hub cookies, API token, lab tokens
or lab pages work for the other; as root, the hub gives each learner an OS account, so one
cannot read the other's files or lab state; stopping one learner's server leaves the other's
lab running and no process of the stopped learner's behind.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
from jupyterlab_ui import ROOT, Notebook, new_context, sign_in_by_clicking

sys.path.insert(0, str(ROOT))
from classroom.hub import Hub, remove_accounts  # noqa: E402 - the trainer's hub, started as course.py hub does

pytestmark = pytest.mark.hub

AS_ROOT = os.geteuid() == 0


@dataclass
class Learner:
    """One learner: a browser of their own, signed in at the hub, and their server."""

    hub: Hub
    name: str
    context: object = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"{self.hub.url}user/{self.name}/"

    def page_query(self) -> str:
        return ""

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def sign_in(self, browser: object) -> Learner:
        self.context = new_context(browser)
        page = self.context.new_page()
        page.goto(self.hub.url + "hub/login")
        page.fill("#username_input", self.name)
        page.fill("#password_input", self.hub.password)
        page.click("#login_submit")
        page.wait_for_url(re.compile(f"/user/{self.name}/lab"), timeout=120_000)
        page.close()
        # A token of the learner's own for the REST API, made as the hub's token page does.
        cookies = self.context.cookies(f"{self.hub.url}hub/api/")
        xsrf = next(c["value"] for c in cookies if c["name"] == "_xsrf" and c["path"] == "/hub/")
        made = self.context.request.post(
            f"{self.hub.url}hub/api/users/{self.name}/tokens",
            data=json.dumps({"note": "tests"}),
            headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"},
        )
        assert made.ok, made.text()
        self.token = made.json()["token"]
        return self

    def server_processes(self) -> list[psutil.Process]:
        """What runs as this learner's OS account (as root: an account per learner)."""
        return [p for p in psutil.process_iter(["username"]) if p.info["username"] == self.name]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    try:
        started = Hub(tmp_path_factory.mktemp("hub")).start()
    except FileNotFoundError as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def learners(hub: Hub, chromium_browser: object) -> Iterator[dict[str, Learner]]:
    names = [f"{first}-{secrets.token_hex(3)}" for first in ("ada", "ben")]
    signed_in = {name.split("-")[0]: Learner(hub, name) for name in names}
    try:
        for learner in signed_in.values():
            learner.sign_in(chromium_browser)
        yield signed_in
    finally:
        for learner in signed_in.values():
            if learner.context is not None:
                learner.context.close()
        if AS_ROOT:
            hub.stop()  # its accounts go once nothing of theirs runs
            remove_accounts(names)


@pytest.fixture(scope="module")
def ran(learners: dict[str, Learner]) -> Iterator[dict[str, Notebook]]:
    """Notebook 01, run to the end by each learner in their own server, both at once as in
    a class."""
    notebooks = {
        who: Notebook(learner.context, learner, "01_browser_login.ipynb")
        for who, learner in learners.items()
    }
    for notebook in notebooks.values():
        notebook.start_restart_and_run_all()
    for who, notebook in notebooks.items():
        notebook.wait_until_idle()
        notebook.screenshot(f"-hub-{who}")
    yield notebooks


def output_of(notebook: Notebook, code: str) -> str:
    output = notebook.run_new_cell(code)
    notebook.wait_until_idle()
    return output.inner_text().strip()


@pytest.mark.parametrize(
    "name",
    [
        "Ada Lovelace",  # not a name fit for an account and a URL
        "a",  # too short
        pytest.param(
            "root",
            marks=pytest.mark.skipif(not AS_ROOT, reason="only a root hub makes accounts"),
        ),
    ],
)
def test_a_name_the_hub_cannot_give_a_learner_is_refused_at_sign_in(hub: Hub, name: str) -> None:
    browser = requests.Session()
    browser.get(hub.url + "hub/login", timeout=10)
    form = {"username": name, "password": hub.password, "_xsrf": browser.cookies["_xsrf"]}
    refused = browser.post(hub.url + "hub/login", data=form, timeout=30)
    assert refused.status_code == 403
    assert "Invalid username or password" in refused.text
    with pytest.raises(PermissionError):
        hub.sign_in(name)
    assert not (hub.state / "home").exists() or list((hub.state / "home").iterdir()) == []


def test_each_learner_runs_notebook_01_to_the_end_in_their_own_server(
    learners: dict[str, Learner], ran: dict[str, Notebook]
) -> None:
    for notebook in ran.values():
        assert notebook.error_outputs() == []
        assert notebook.console_errors == []
        assert notebook.broken_widgets() == 0
    kernels = {who: int(output_of(ran[who], "import os; print(os.getpid())")) for who in ran}
    assert kernels["ada"] != kernels["ben"]
    for who, pid in kernels.items():  # each kernel runs under its learner's server
        server = psutil.Process(pid).parent()
        assert server.cmdline()[1] == str(ROOT / "classroom" / "singleuser.py")
        if AS_ROOT:
            assert psutil.Process(pid).username() == learners[who].name


def test_a_learner_signs_in_to_their_lab_through_their_own_proxy(
    learners: dict[str, Learner], ran: dict[str, Notebook]
) -> None:
    ada = learners["ada"]
    port = output_of(ran["ada"], "print(lab.urls.frontend.rsplit(':', 1)[1])")
    said = sign_in_by_clicking(ran["ada"], f"{ada.url}proxy/{port}/login?ticket=")
    assert "Signed in as Bob Cyclist in your browser." in said
    ran["ada"].screenshot("-hub-own-browser")


def test_one_learners_cookies_tokens_and_lab_pages_do_not_work_for_another(
    learners: dict[str, Learner], ran: dict[str, Notebook]
) -> None:
    ada, ben = learners["ada"], learners["ben"]
    # Ada's hub cookies and API token open nothing of Ben's server.
    assert ada.context.request.get(f"{ben.url}api/contents").status == 403
    as_ada = ada.api_headers()
    assert requests.get(f"{ben.url}api/sessions", headers=as_ada, timeout=10).status_code == 403
    assert requests.get(f"{ada.url}api/sessions", headers=as_ada, timeout=10).ok
    # Ada's lab pages, through her proxy, are hers: Ben's browser is turned away.
    port = output_of(ran["ada"], "print(lab.urls.frontend.rsplit(':', 1)[1])")
    assert ben.context.request.get(f"{ada.url}proxy/{port}/").status == 403
    # The token Ada's lab issued her means nothing to Ben's lab; Ben's own works there.
    adas_token = output_of(ran["ada"], "print(tokens['access_token'])")
    ask = (
        "import requests\n"
        "def ask(token):\n"
        "    return requests.post(lab.urls.agent + '/invocations', json={'prompt': 'hi'},\n"
        "        headers={'Authorization': 'Bearer ' + token}, timeout=10).status_code\n"
    )
    said = output_of(ran["ben"], ask + f"print(ask({adas_token!r}), ask(tokens['access_token']))")
    assert said == "401 200"


@pytest.mark.skipif(not AS_ROOT, reason="an OS account per learner needs a hub run as root")
def test_one_learner_cannot_read_anothers_files_or_lab_state(
    learners: dict[str, Learner], ran: dict[str, Notebook]
) -> None:
    ada = learners["ada"]
    # Notebook 04's lab keeps its state (token vault, WAT key) in a directory of Ada's.
    state = output_of(ran["ada"], "lab = start_lab(agentcore=True)\nprint(lab.agentcore.state_dir)")
    assert Path(state).owner() == ada.name
    home = pwd.getpwnam(ada.name).pw_dir
    probe = (
        "import os\n"
        "for path in ({!r}, {!r}):\n"
        "    try:\n"
        "        os.listdir(path); print('read', path)\n"
        "    except PermissionError:\n"
        "        print('refused')\n"
    ).format(state, f"{home}/agent-identity-lab")
    assert output_of(ran["ben"], probe).split() == ["refused", "refused"]


def test_stopping_one_learners_server_leaves_the_other_running_and_nothing_behind(
    learners: dict[str, Learner], ran: dict[str, Notebook]
) -> None:
    ada = learners["ada"]
    bens_lab = json.loads(output_of(ran["ben"], "import json; print(json.dumps(vars(lab.urls)))"))
    adas_kernel = int(output_of(ran["ada"], "import os; print(os.getpid())"))
    stopped = requests.delete(
        f"{ada.hub.url}hub/api/users/{ada.name}/server", headers=ada.api_headers(), timeout=60
    )
    assert stopped.status_code in (202, 204), stopped.text
    deadline = time.monotonic() + 30
    while psutil.pid_exists(adas_kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(adas_kernel)
    if AS_ROOT:
        assert learners["ada"].server_processes() == []
    for url in (bens_lab["frontend"], bens_lab["agent"]):
        assert requests.get(f"{url}/healthz", timeout=5).ok
    assert output_of(ran["ben"], "print(sorted(set(lab.health().values())))") == "['ok']"


def test_the_learners_server_skips_the_iri_grammars_and_checks_other_formats() -> None:
    check = """
import runpy, sys
runpy.run_path(sys.argv[1], run_name="classroom_singleuser")  # what the hub runs, less main()
import jsonschema
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
assert sys.modules["rfc3987_syntax"] is None
assert "iri" not in checker.checkers, "the iri grammars were built"
email = jsonschema.Draft7Validator({"format": "email"}, format_checker=checker)
assert not email.is_valid("no-at-sign") and email.is_valid("ada@example.org")
"""
    done = subprocess.run(
        [sys.executable, "-c", check, str(ROOT / "classroom" / "singleuser.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
