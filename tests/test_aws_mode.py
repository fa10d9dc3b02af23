"""AWS mode: the cells only the lab can run are marked, and step aside when it is on.

Static: every notebook's lab-only cells carry both the ``lab-only`` tag and the comment
that says why, and no other cell touches anything :data:`helpers.lab_only.LAB_ONLY`
lists. Live: in a real kernel, a marked cell runs in the lab and is one line in AWS mode;
and notebooks run in AWS mode against the lab started as a process of its own
(``python -m helpers serve``), which the kernel reaches only through the standard AWS
variables and the AWS-mode configuration file.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import secrets
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import requests
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from helpers import aws
from helpers.aws_mode import REACHABLE_SERVERS, AwsMode, AwsModeError
from helpers.cast.fitness_api import ACTIVITIES_PATH
from helpers.lab import Lab, _warn_of_unreachable_servers
from helpers.lab_only import LAB_ONLY, MARKER, MODE_VAR, TAG, lab_only_uses
from helpers.serving import ports_to_bind_later

pytestmark = pytest.mark.aws_mode

ROOT = Path(__file__).parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
IN_AWS_MODE = [p.stem for p in NOTEBOOKS]
# Every client whose secret a notebook asks for: the live run below proves the list whole,
# as lab.client_secret raises in AWS mode for a client the file does not name.
CLIENTS = ["fitness-frontend", "fitness-agent", "fitness-api", "agentcore-outbound", "fitness-mcp"]
SKIPPED = "Skipped in AWS mode (lab-only): "
# The lab's runtimes run the code zips on this machine's Python: wheels for its Linux.
THIS_MACHINE = f"manylinux2014_{platform.machine().replace('arm64', 'aarch64')}"


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
        ('os.environ["AWS_ENDPOINT_URL_KMS"]', ["the lab's AWS endpoints"]),
        ("lab.urls.frontend + '/login'", []),
        ("lab.browser().sign_in(url, 'alice', pw)", []),
        ("calendar.clock = 3  # lab.clockwork", []),
    ],
)
def test_what_counts_as_lab_only(source: str, what: list[str]) -> None:
    assert lab_only_uses(source) == what
    assert set(what) <= set(LAB_ONLY.values())


def run_in_kernel(aws_mode: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    # start_lab() installs the transformer; here alone, so no provider is needed (the
    # notebooks below show start_lab doing it in AWS mode).
    if aws_mode:
        monkeypatch.setenv(MODE_VAR, "aws-mode.toml")
    else:
        monkeypatch.delenv(MODE_VAR, raising=False)
    lab_only_cell = new_code_cell(f"{MARKER} a lab lever\nimport sys\nmoved = True")
    lab_only_cell.metadata["tags"] = [TAG]
    nb = new_notebook(
        cells=[
            new_code_cell("from helpers import lab_only\nlab_only.install(get_ipython())"),
            lab_only_cell,
            new_code_cell("print('moved' in dir(), 'lab_only' in dir())"),
        ]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]


def test_a_lab_only_cell_runs_in_the_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_in_kernel(False, monkeypatch)[1:] == ["", "True True\n"]


def test_a_lab_only_cell_is_one_line_in_aws_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = run_in_kernel(True, monkeypatch)
    assert outputs[1:] == [
        "Skipped in AWS mode (lab-only): a lab lever\n",
        "False True\n",  # the cell did not run; the cells around it did
    ]


def write_config(path: Path, port: int, discovery_url: str | None = None) -> None:
    """The file, with the servers AWS calls reached as ``localhost`` on the ports after
    ``port``: another name than the 127.0.0.1 they bind, as a tunnel's would be."""
    oidc = f'[oidc]\ndiscovery_url = "{discovery_url}"\n' if discovery_url else ""
    names = "".join(f'{client} = "{secret_variable(client)}"\n' for client in CLIENTS)
    profiles = "".join(f'{name} = "lab-{name}"\n' for name in aws.PRINCIPALS)
    reachable = "".join(
        f'{name} = {{port = {p}, url = "http://localhost:{p}"}}\n'
        for p, name in enumerate(REACHABLE_SERVERS, start=port + 1)
    )
    path.write_text(
        f"{oidc}[app]\nfrontend_port = {port}\n[client_secrets]\n{names}[principals]\n{profiles}"
        f"[reachable_from_aws]\n{reachable}"
        f'[runtime_code]\nplatform = "{THIS_MACHINE}"\n'
    )


def write_credentials(path: Path) -> None:
    """A shared credentials file with a profile per principal, as an administrator would
    hand them out: the external lab's keys for its roles."""
    path.write_text(
        "".join(
            f"[lab-{name}]\naws_access_key_id = {c.access_key_id}\n"
            f"aws_secret_access_key = {c.secret_access_key}\n"
            for name, c in aws.PRINCIPALS.items()
        )
    )


def secret_variable(client_id: str) -> str:
    return f"LAB_{client_id.upper().replace('-', '_')}_CLIENT_SECRET"


def exports_of(serve: subprocess.Popen) -> dict[str, str]:
    said = []
    for line in serve.stderr:  # the exports are out once it says it is ready
        if line.startswith("# lab ready"):
            break
        said.append(line)
    else:
        raise AssertionError("python -m helpers serve stopped:\n" + "".join(said[-5:]))
    os.set_blocking(serve.stdout.fileno(), False)
    lines = serve.stdout.read().splitlines()  # export NAME=value, the value shell-quoted
    return dict(shlex.split(line)[1].split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def external_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, dict]]:
    """The lab as a process of its own, and the environment of a kernel in AWS mode.

    One for the whole course, as a learner's one account: each notebook deletes what it
    made, and the next one makes some of it again under the same names."""
    work = tmp_path_factory.mktemp("aws-mode")
    config, credentials = work / "aws-mode.toml", work / "credentials"
    port = ports_to_bind_later(1 + len(REACHABLE_SERVERS))
    write_config(config, port)
    write_credentials(credentials)
    client_secrets = {secret_variable(c): secrets.token_urlsafe(24) for c in CLIENTS}
    serve = subprocess.Popen(
        [sys.executable, "-m", "helpers", "serve", "--aws-mode-config", str(config)],
        env=os.environ | client_secrets,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exports = exports_of(serve)
        write_config(config, port, exports["LAB_OIDC_DISCOVERY_URL"])
        kernel_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_"))},
            **{k: v for k, v in exports.items() if k.startswith(("AWS_", "VAULT_", "BAO_"))},
            **client_secrets,
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            MODE_VAR: str(config),
        }
        yield kernel_env, exports
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
        serve.stdout.close()
        serve.stderr.close()


@pytest.mark.parametrize("name", IN_AWS_MODE)  # in course order, in one account
def test_the_notebook_runs_in_aws_mode_against_the_lab_as_a_process(
    external_lab: tuple[dict, dict], name: str
) -> None:
    kernel_env, exports = external_lab
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    nb.cells.append(new_code_cell("print(lab.urls.issuer, lab.idp, lab.agentcore)"))
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    client.execute(env=kernel_env)  # a cell that fails raises here, naming the cell
    for cell in nb.cells:
        if tagged(cell):
            # One stream, however the kernel batched it; nothing else.
            assert {o.output_type for o in cell.outputs} == {"stream"}
            assert "".join(o.text for o in cell.outputs) == (
                SKIPPED + cell.source.splitlines()[0][len(MARKER) :].strip() + "\n"
            )
    # The provider was the other process's; the kernel ran none of the lab's services.
    said = "".join(o.text for o in nb.cells[-1].outputs)
    assert said == f"{exports['LAB_OIDC_ISSUER']} None None\n"


@pytest.mark.parametrize(
    "text, error",
    [
        ("[app]\nfrontend_port = 'eighty'\n", "frontend_port must be a port number"),
        ("[app]\nfrontend_port = 8400\n[oidc]\ndiscovery_url = 3\n", "must be a URL"),
        ("[app\n", "is not TOML"),
        ("[app]\nfrontend_port = 8400\n[client_secrets]\nx = 5\n", "maps client ids"),
        (
            '[app]\nfrontend_port = 8400\n[reachable_from_aws]\nidp = {port = 1, url = "https://x"}\n',
            "idp: not one of fitness_api, stride_auth, stride_api",
        ),
        (
            "[app]\nfrontend_port = 8400\n[reachable_from_aws]\nfitness_api = {port = 8401}\n",
            "fitness_api needs a port number and a URL",
        ),
        ("reachable_from_aws = 3\n[app]\nfrontend_port = 8400\n", "maps servers to a port"),
        (
            '[app]\nfrontend_port = 8400\n[runtime_code]\nplatform = "win_amd64"\n',
            "platform must be a Linux wheel platform for arm64 or x86_64",
        ),
    ],
)
def test_a_wrong_configuration_says_what_is_wrong(tmp_path: Path, text: str, error: str) -> None:
    config = tmp_path / "aws-mode.toml"
    config.write_text(text)
    with pytest.raises(AwsModeError, match=error):
        AwsMode.load(config)


def test_the_servers_aws_calls_answer_at_the_urls_the_file_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Lab() as provider:  # the OIDC provider, here the lab's IdP
        port = ports_to_bind_later(1 + len(REACHABLE_SERVERS))
        config = tmp_path / "aws-mode.toml"
        write_config(config, port, provider.urls.discovery)
        for client in CLIENTS:
            monkeypatch.setenv(secret_variable(client), "s3cret")
        with Lab(aws_mode=AwsMode.load(config)) as lab:
            # The frontend is localhost too: the plain-HTTP redirect URI providers accept.
            assert lab.urls.frontend == f"http://localhost:{port}"
            login = requests.get(lab.urls.frontend + "/login", allow_redirects=False, timeout=5)
            assert login.headers["Location"].startswith(provider.urls.issuer)
            assert (
                f"redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fcallback"
                in login.headers["Location"]
            )
            api = f"http://localhost:{port + 1}"
            assert lab.urls.fitness_api == api  # what the notebooks hand to runtimes
            refused = requests.get(api + ACTIVITIES_PATH, timeout=5)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
            stride = lab.stride
            assert stride.issuer == f"http://localhost:{port + 2}"
            document = requests.get(stride.discovery, timeout=5).json()
            assert document["issuer"] == stride.issuer
            assert document["token_endpoint"].startswith(stride.issuer + "/")
            assert stride.activities_url.startswith(f"http://localhost:{port + 3}/")
            assert requests.get(stride.activities_url, timeout=5).status_code == 401


def test_starting_the_lab_names_the_servers_aws_cannot_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "aws-mode.toml"
    write_config(config, 8400)
    whole = AwsMode.load(config)
    _warn_of_unreachable_servers(whole)
    _warn_of_unreachable_servers(None)  # the lab: every server is the lab's
    assert capsys.readouterr().out == ""
    partial = dataclasses.replace(whole, reachable={"fitness_api": whole.reachable["fitness_api"]})
    _warn_of_unreachable_servers(partial)
    said = capsys.readouterr().out
    assert said.startswith("AWS mode: AWS cannot reach stride_auth, stride_api on 127.0.0.1")
    assert said.count("\n") == 1


def test_a_secret_comes_from_the_variable_the_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aws-mode.toml"
    write_config(config, 8400)
    mode = AwsMode.load(config)
    monkeypatch.delenv(secret_variable("fitness-api"), raising=False)
    with pytest.raises(AwsModeError, match="LAB_FITNESS_API_CLIENT_SECRET is not set"):
        mode.client_secret("fitness-api")
    monkeypatch.setenv(secret_variable("fitness-api"), "s3cret")
    assert mode.client_secret("fitness-api") == "s3cret"
    with pytest.raises(AwsModeError, match="names no variable for reporting-job"):
        mode.client_secret("reporting-job")


def test_the_readmes_file_names_every_client_and_principal_the_course_uses(
    tmp_path: Path,
) -> None:
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"^## AWS mode$.*?^```toml\n(.*?)^```", readme, re.S | re.M)
    assert example, "README's AWS mode section shows a whole file"
    config = tmp_path / "aws-mode.toml"
    config.write_text(example.group(1))
    mode = AwsMode.load(config)
    assert set(mode.client_secrets) == set(CLIENTS)
    assert set(mode.principals) == set(aws.PRINCIPALS)
    assert set(mode.reachable) == set(REACHABLE_SERVERS)  # every server AWS calls
    assert mode.oidc_discovery_url().endswith("/.well-known/openid-configuration")
