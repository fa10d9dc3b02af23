"""The lab's lifecycle: free ports on 127.0.0.1, readiness, a clean stop, the clock, the CLI."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

import boto3
import jwt
import pytest
import requests

from helpers.clock import LabClock
from helpers.lab import Lab


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((parts.hostname, parts.port)) == 0


def _lab_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lab-")]


def test_services_bind_loopback_only_and_answer_health() -> None:
    with Lab() as lab:
        urls = vars(lab.urls).values()
        assert all(urlsplit(u).hostname == "127.0.0.1" for u in urls)
        assert lab.health() == dict.fromkeys(["idp", "frontend", "agent", "fitness_api"], "ok")
        assert len({urlsplit(u).port for u in urls}) == 4


def test_stop_frees_ports_and_threads() -> None:
    before = set(_lab_threads())
    lab = Lab()
    urls = list(vars(lab.urls).values())
    assert all(_port_open(u) for u in urls)
    lab.stop()
    assert not any(_port_open(u) for u in urls)
    assert set(_lab_threads()) == before
    assert all(v.startswith("down") for v in lab.health().values())
    lab.stop()  # stopping twice is harmless


def test_start_lab_again_stops_the_previous_lab_and_exports_env() -> None:
    # In a child interpreter: start_lab() is process-global, like a notebook kernel.
    script = textwrap.dedent("""
        import os, socket, threading
        from urllib.parse import urlsplit
        from helpers import start_lab
        first = start_lab()
        second = start_lab()                      # the notebook's start cell, re-run
        assert first.stopped and not second.stopped
        assert os.environ["LAB_OIDC_ISSUER"] == second.urls.issuer
        port = urlsplit(first.urls.issuer).port
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
        second.stop()
        assert "LAB_OIDC_ISSUER" not in os.environ
        print(len([t for t in threading.enumerate() if t.name.startswith("lab-")]))
    """)
    # A child with none of the lab's variables, whatever other tests exported here.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "AWS_", "BEDROCK_"))}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == "0"


def test_a_rerun_start_cell_keeps_the_sdk_working() -> None:
    # The SDK reads its endpoint variables once, at import; a re-run start cell must not
    # move the endpoints out from under it.
    script = textwrap.dedent("""
        from helpers import start_lab
        first = start_lab(agentcore=True)
        from bedrock_agentcore.services.identity import IdentityClient
        second = start_lab(agentcore=True)
        assert first.stopped
        print(IdentityClient("us-east-1").create_workload_identity("rerun")["name"])
        second.stop()
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "AWS_", "BEDROCK_"))}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("rerun")


def test_the_emulator_listens_below_the_ports_the_os_hands_out() -> None:
    # A port from the OS's ephemeral range (Linux from 32768, macOS from 49152) may serve
    # another process's connection as soon as the lab stops: a re-run start cell, which
    # binds the same ports again for the imported SDK, would then lose them.
    with Lab(agentcore=True) as lab:
        assert all(port < 32768 for port in lab.agentcore_ports), lab.agentcore_ports


def test_a_remembered_port_taken_meanwhile_gives_the_emulator_other_ports() -> None:
    # Between two start cells any program may take a port the first lab had.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        control = probe.getsockname()[1]
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken = squatter.getsockname()[1]
        with Lab(agentcore=True, agentcore_ports=(control, taken)) as lab:
            assert taken not in lab.agentcore_ports
            env = lab.env()
            control_plane = boto3.client(
                "bedrock-agentcore-control",
                endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL"],
                region_name=env["AWS_REGION"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            )
            assert control_plane.create_workload_identity(name="moved")["name"] == "moved"
            # The control port bound before the data port failed is not held by anyone.
            assert not _port_open(f"http://127.0.0.1:{control}")


def test_s3_answers_at_the_exported_endpoint_for_each_lab_alone() -> None:
    # Code zips for runtimes go to S3: each lab's moto answers as an account of its own.
    with Lab(agentcore=True) as first, Lab(agentcore=True) as second:

        def s3(lab: Lab) -> object:
            env = lab.env()
            return boto3.client(
                "s3",
                endpoint_url=env["AWS_ENDPOINT_URL_S3"],
                region_name=env["AWS_REGION"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            )

        s3(first).create_bucket(Bucket="agent-code")
        s3(first).put_object(Bucket="agent-code", Key="coach.zip", Body=b"PK")
        got = s3(first).get_object(Bucket="agent-code", Key="coach.zip")["Body"].read()
        assert got == b"PK"
        assert s3(second).list_buckets()["Buckets"] == []


def test_lab_clock_fast_forwards_and_never_goes_back() -> None:
    clock = LabClock()
    start = clock.now()
    clock.advance(601)
    assert clock.now() - start >= 601
    with pytest.raises(ValueError):
        clock.advance(-1)


LAB_VARIABLES = {
    "LAB_OIDC_ISSUER",
    "LAB_OIDC_DISCOVERY_URL",
    "LAB_FRONTEND_URL",
    "LAB_AGENT_URL",
    "LAB_FITNESS_API_URL",
}
AWS_VARIABLES = {
    "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
    "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
    "BEDROCK_AGENTCORE_DP_ENDPOINT",
    "BEDROCK_AGENTCORE_CP_ENDPOINT",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_STS",
    "LAB_MCP_URL",  # serve's MCP server on its runtime
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
}


def test_serve_prints_exports_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in LAB_VARIABLES | AWS_VARIABLES]
        exports = dict(shlex.split(line)[1].split("=", 1) for line in lines)
        assert set(exports) == LAB_VARIABLES | AWS_VARIABLES
        discovery = requests.get(exports["LAB_OIDC_DISCOVERY_URL"], timeout=5).json()
        assert discovery["issuer"] == exports["LAB_OIDC_ISSUER"]
        # The exported settings are all a plain boto3 client needs.
        control = boto3.session.Session(
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            region_name=exports["AWS_REGION"],
        ).client(
            "bedrock-agentcore-control",
            endpoint_url=exports["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL"],
        )
        # The one runtime serve creates: the MCP server, behind its JWT authorizer.
        runtimes = control.list_agent_runtimes()["agentRuntimes"]
        assert [(r["agentRuntimeName"], r["status"]) for r in runtimes] == [
            ("fitness_mcp", "READY")
        ]
        workloads = control.list_workload_identities()["workloadIdentities"]
        assert [w["name"] for w in workloads] == [runtimes[0]["agentRuntimeId"]]
        assert quote(runtimes[0]["agentRuntimeArn"], safe="") in exports["LAB_MCP_URL"]
        anonymous = requests.post(exports["LAB_MCP_URL"], json={}, timeout=5)
        assert anonymous.status_code == 401  # MCP authorization: where to log in
        assert "resource_metadata=" in anonymous.headers["WWW-Authenticate"]
        assert anonymous.headers["x-amzn-ErrorType"] == "AccessDeniedException"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert not _port_open(exports["LAB_OIDC_ISSUER"])
        assert not _port_open(exports["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def test_serve_rejects_unknown_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "launch"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_preflight_checks_every_service_of_a_learners_lab_and_stops_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "preflight"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    checked = dict(line.split() for line in out.stdout.splitlines() if line.startswith("  "))
    services = ["idp", "frontend", "agent", "fitness_api", "agentcore-control", "openbao"]
    assert set(services) <= set(checked) and set(checked.values()) == {"ok"}
    assert re.search(r"ready in \d+\.\d\d s, \d+ MiB", out.stdout)
    assert out.stdout.rstrip().endswith("preflight passed")


def test_health_names_every_service_and_says_which_is_down() -> None:
    lab = Lab(agentcore=True, openbao=True)
    try:
        lab.openbao.server.stop()
        health = lab.health()
    finally:
        lab.stop()
    assert health.pop("openbao").startswith("down")
    assert set(health) >= {"agentcore-control", "agentcore-data"}
    assert set(health.values()) == {"ok"}


def test_frontend_refuses_to_start_without_its_secret() -> None:
    from helpers.cast.frontend import Frontend

    with Lab() as lab:
        env = {**lab.frontend_env(), "OAUTH_CLIENT_SECRET": ""}
        with pytest.raises(RuntimeError, match="OAUTH_CLIENT_SECRET"):
            Frontend(env, lab.clock)


def _signed_in_tokens(lab: Lab) -> dict:
    browser = lab.browser()
    browser.sign_in(f"{lab.urls.frontend}/login", "alice", "alice-lab-password")
    return lab.frontend.session_tokens(browser.session.cookies["frontend_session"])


def _invoke_agent(lab: Lab, token: str) -> requests.Response:
    """The user's token at the service it is for: the agent (audience fitness-agent)."""
    return requests.post(
        f"{lab.urls.agent}/invocations",
        json={"prompt": "How should I train this week?"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_key_rotation_keeps_old_tokens_valid_while_the_old_key_is_published() -> None:
    with Lab() as lab:
        old = _signed_in_tokens(lab)["access_token"]
        assert _invoke_agent(lab, old).status_code == 200  # the agent has cached the old JWKS
        new_kid = lab.rotate_signing_key()
        new = _signed_in_tokens(lab)["access_token"]
        assert jwt.get_unverified_header(new)["kid"] == new_kid
        # The agent meets an unknown kid, refetches the JWKS, and accepts both tokens.
        assert _invoke_agent(lab, new).status_code == 200
        assert _invoke_agent(lab, old).status_code == 200
        assert {
            k["kid"] for k in requests.get(f"{lab.urls.issuer}/jwks", timeout=5).json()["keys"]
        } == {jwt.get_unverified_header(old)["kid"], new_kid}


def test_key_rotation_without_the_old_key_retires_old_tokens() -> None:
    with Lab() as lab:
        old = _signed_in_tokens(lab)["access_token"]
        lab.rotate_signing_key(keep_previous=False)
        resp = _invoke_agent(lab, old)
        assert (
            resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
        )
        assert _invoke_agent(lab, _signed_in_tokens(lab)["access_token"]).status_code == 200


def test_a_kernel_shut_down_by_jupyter_stops_its_lab_and_its_agents() -> None:
    """Jupyter shuts a kernel down by asking; ipykernel then signals the kernel's children
    and waits until none is left. An agent it ended must be reaped at once, or the kernel
    waits out its schedule, Jupyter terminates it, and the lab never stops at exit."""
    import nbformat
    import psutil
    from nbclient import NotebookClient

    cell = nbformat.v4.new_code_cell(
        textwrap.dedent("""\
            import json, os, psutil
            from helpers import start_lab
            lab = start_lab(agentcore=True)
            lab.agentcore.deploy_coach(activities_url=lab.urls.fitness_api, authorizer="IAM")
            [agent] = [p.pid for p in psutil.Process().children() if "main.py" in p.cmdline()]
            print(json.dumps([os.getpid(), agent, str(lab.agentcore.state_dir)]))
        """)
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    client = NotebookClient(notebook, timeout=60, kernel_name="python3")
    with client.setup_kernel():
        client.execute_cell(cell, 0)
    kernel, agent, state_dir = json.loads(cell.outputs[0]["text"])
    assert not psutil.pid_exists(kernel) and not psutil.pid_exists(agent)
    assert not os.path.exists(state_dir)  # removed by the lab's stop at exit


def test_a_kernel_with_a_lab_exits_by_itself_when_asked_to_shut_down() -> None:
    """Jupyter asks, waits 2.5 s, then terminates: a kernel that needs the SIGTERM costs
    its notebook run those seconds. ipykernel's own shutdown races with its exit (the lab
    waits it out, helpers.lab); kernels shut down as nbclient does lost that race in 3 to
    6 runs of 10 with a lab running, so a few runs show it."""
    import nbformat
    from nbclient import NotebookClient

    cell = nbformat.v4.new_code_cell("from helpers import start_lab\nlab = start_lab()")
    for _ in range(4):
        client = NotebookClient(nbformat.v4.new_notebook(cells=[cell]), kernel_name="python3")
        with client.setup_kernel():
            client.execute_cell(cell, 0)
            kernel = client.km.provisioner.process  # its return code tells how it ended
        assert kernel.wait(timeout=10) == 0  # minus a signal number: Jupyter ended it


def test_the_lab_stops_as_soon_as_the_kernel_is_told_to_shut_down() -> None:
    """ipykernel sets the shell's exit_now on a shutdown request, then terminates the
    kernel's children on a schedule: the lab stops its own first, at that moment."""
    from IPython.core.interactiveshell import InteractiveShell

    from helpers.lab import start_lab

    shell = InteractiveShell.instance()
    try:
        lab = start_lab()
        again = start_lab()  # a re-run start cell: still one stop, of the current lab
        assert lab.stopped and not again.stopped
        shell.exit_now = True
        assert again.stopped
        assert not _port_open(again.urls.issuer)
    finally:
        InteractiveShell.clear_instance()


def test_state_left_by_a_killed_process_is_removed_by_the_next_lab() -> None:
    """nbval kills a notebook's kernel outright: its lab never stops, its state directory
    (vault, WAT key, logs) stays. The next lab part to make one removes it, and only it."""
    from helpers import processes

    code = "import os; print(os.getpid())"
    gone = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    orphan = Path(tempfile.mkdtemp(prefix=f"{processes.STATE_PREFIX}agentcore-{dead_pid}-"))
    (orphan / "wat-key.pem").write_text("a key nobody will stop")
    alive = Path(tempfile.mkdtemp(prefix=f"{processes.STATE_PREFIX}agentcore-{os.getpid()}-"))
    fresh = processes.state_dir("openbao")
    try:
        assert not orphan.exists()
        assert alive.is_dir() and fresh.is_dir()
        assert fresh.name.startswith(f"{processes.STATE_PREFIX}openbao-{os.getpid()}-")
    finally:
        shutil.rmtree(alive)
        shutil.rmtree(fresh)


def test_a_started_lab_spares_its_kernel_the_iri_grammars() -> None:
    # In a process of its own: this one may have loaded jsonschema's checkers already.
    check = textwrap.dedent("""
        from helpers import start_lab
        lab = start_lab()
        import jsonschema
        checker = jsonschema.Draft7Validator.FORMAT_CHECKER
        assert "iri" not in checker.checkers, "the iri grammars were built"
        assert checker.conforms("ada@example.org", "email")
        assert not checker.conforms("no-at-sign", "email")
        lab.stop()
    """)
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_jupyterlab_as_the_course_starts_it_skips_the_iri_grammars() -> None:
    # JupyterLab's own main() replaced by one that reports what the server would load.
    check = textwrap.dedent("""
        import sys, types
        def reporting_main():
            import jsonschema
            print("iri" in jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)
            return 0
        sys.modules["jupyterlab.labapp"] = types.SimpleNamespace(main=reporting_main)
        from helpers import jupyterlab_server
        jupyterlab_server.main()
    """)
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
