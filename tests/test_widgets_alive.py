"""Widgets outlive Run All: they open on a sensible verdict, save a readable fallback for
static viewers, and a stopped lab is one line, never a library's traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import b64json, login_tokens
from IPython.core.interactiveshell import InteractiveShell

from helpers import stopped
from helpers.lab import Lab, start_lab
from helpers.widgets import inspect_for, inspector_for, vault_viewer_for
from helpers.widgets.vault_viewer import VaultViewer


@pytest.fixture
def own_lab() -> Iterator[Lab]:
    lab = Lab()
    yield lab
    lab.stop()


def test_the_inspector_opens_on_the_verdict_for_the_tokens_own_audience(own_lab: Lab) -> None:
    tokens = login_tokens(own_lab, scope="openid profile agent:invoke")
    widget = inspector_for(
        own_lab, {"id token": tokens["id_token"], "access": tokens["access_token"]}
    )
    assert (widget.audience.value, widget.report.verdict) == ("the frontend (id tokens)", "valid")
    widget.picker.value = "access"
    assert (widget.audience.value, widget.report.verdict) == ("the agent", "valid")
    widget.audience.value = "the fitness API"  # the learner's own question still gets asked
    assert widget.report.verdict == "wrong_audience"


def test_the_inspector_saves_a_readable_fallback_without_the_token(own_lab: Lab) -> None:
    token = login_tokens(own_lab)["id_token"]
    bundle = inspector_for(own_lab, {"id token": token})._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "valid" in bundle["text/plain"] and "VALID" in bundle["text/html"]
    assert "the user (subject) it is about: user-1-alice" in bundle["text/html"]
    assert token not in str(bundle)


def test_a_stopped_lab_is_one_line_in_the_inspector_and_the_viewer() -> None:
    lab = Lab(agentcore=True)
    token = login_tokens(lab)["access_token"]
    widget, viewer = inspector_for(lab, {"t": token}), vault_viewer_for(lab)
    lab.stop()
    widget.refresh()
    assert stopped.MESSAGE in widget.output.value
    assert viewer.text() == stopped.MESSAGE and stopped.MESSAGE in viewer.html()
    with pytest.raises(stopped.LabStopped) as raised:
        inspect_for(lab, token)
    assert raised.value._render_traceback_() == [stopped.MESSAGE]  # all IPython prints


def test_a_call_to_a_stopped_lab_in_a_notebook_is_explained_in_one_line(capsys) -> None:  # noqa: ANN001
    shell = InteractiveShell.instance()
    try:
        lab = start_lab()
        url = lab.urls.fitness_api
        shell.run_cell(f"import requests; requests.get({url!r}, timeout=2)")
        assert stopped.MESSAGE not in capsys.readouterr().out  # running: no such message
        lab.stop()
        shell.run_cell(f"import requests; requests.get({url!r}, timeout=2)")
        out = capsys.readouterr().out
        assert out.strip() == stopped.MESSAGE
        shell.run_cell("1 / 0")  # any other error is shown as ever
        assert "ZeroDivisionError" in capsys.readouterr().out
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()


class _Vault:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def raw_rows(self) -> list[dict]:
        return self.rows


def test_the_live_view_shows_what_the_chosen_wat_opens() -> None:
    def wat(user: str) -> str:
        claims = {"workload": "fitness-agent", "user": user}
        return f"{b64json({'alg': 'RS256'})}.{b64json(claims)}.sig"

    row = {
        "kind": "oauth2-token",
        "workloadIdentity": "fitness-agent",
        "userId": "alice",
        "credentialProvider": "lab-fitness-api",
        "ciphertext": "c" * 40,
        "wrappedDataKey": "k" * 40,
        "wrappedBy": "service:1",
    }
    live = VaultViewer(_Vault([row]), {"Alice's WAT": wat("alice"), "Bob's WAT": wat("bob")}).live()
    live.seen_with.value = "Bob's WAT"
    assert "Bob&#x27;s WAT opens it" in live.output.value and "Alice" not in live.output.value
    assert "<td><code>nothing</code></td>" in live.output.value
    assert "<tr><td><code>no</code></td><td><code>lab-fitness-api</code>" in live.output.value
    live.seen_with.value = "Alice's WAT"
    assert "<tr><td><code>yes</code></td><td><code>lab-fitness-api</code>" in live.output.value
