"""Benchmarks of the lab, printed beside a reference measured in the same run.

    .venv/bin/python bench/run.py [--repeat N]

- lab start-up and stop: ``Lab()`` until every service answers its health probe, and
  ``stop()``, against one bare werkzeug server with a one-line WSGI app, treated the same;
- notebooks (``bench/notebooks.py``): every notebook executed top to bottom in a fresh
  kernel, its time and the peak memory of the kernel plus its children, each against an
  empty notebook (the kernel's own start-up, shutdown and memory), and the whole course;
- AgentCore Identity calls through boto3 (GetWorkloadAccessTokenForUserId,
  GetResourceApiKey) against moto's Secrets Manager GetSecretValue, the call an agent
  would otherwise make for the same secret;
- a Secrets Manager GetSecretValue through the lab's moto (``aws.MotoApp``) against the
  same call through moto's stock dispatcher, each on its own werkzeug server;
- our secret cache against aws-secretsmanager-caching (``bench/cache.py``).

Figures are medians; ratios say how much the lab adds to what any server or notebook
costs on this machine. Targets: lab ready < 1 s; the whole course <= 45 s and no notebook
above 300 MiB; AgentCore calls no slower than GetSecretValue (ratio <= 1.0).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from cache import compare_caches

from helpers import aws
from helpers.lab import Lab
from helpers.serving import BackgroundServer
from notebooks import course_report


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def start_and_stop(start: Callable[[], Lab | BackgroundServer], repeat: int) -> tuple[float, float]:
    """Median seconds until ready, and median seconds to stop again."""
    started, stopped = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        running = start()
        started.append(time.perf_counter() - began)
        began = time.perf_counter()
        running.stop()
        stopped.append(time.perf_counter() - began)
    return statistics.median(started), statistics.median(stopped)


def hello(environ: dict, start_response: Callable) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def start_bare_server() -> BackgroundServer:
    server = BackgroundServer("bench-bare")
    server.start(hello)
    server.wait_ready("/")
    return server


def agentcore_calls(repeat: int) -> None:
    """Per-call latency of the emulator beside moto's GetSecretValue, same client stack."""
    with Lab(agentcore=True) as lab:
        ident = lab.agentcore.identity
        control = aws.client("bedrock-agentcore-control", ident.control_server.url, aws.OPERATOR)
        data = aws.client("bedrock-agentcore", ident.data_server.url, aws.AGENT_RUNTIME)
        secrets = aws.client("secretsmanager", lab.agentcore.moto.url, aws.OPERATOR)
        control.create_workload_identity(name="fitness-agent")
        control.create_api_key_credential_provider(name="bench-key", apiKey="k" * 32)
        secrets.create_secret(Name="bench-key", SecretString="k" * 32)
        wat = data.get_workload_access_token_for_user_id(
            workloadName="fitness-agent", userId="bench"
        )["workloadAccessToken"]
        calls = {
            "GetWorkloadAccessTokenForUserId": lambda: data.get_workload_access_token_for_user_id(
                workloadName="fitness-agent", userId="bench"
            ),
            "GetResourceApiKey": lambda: data.get_resource_api_key(
                workloadIdentityToken=wat, resourceCredentialProviderName="bench-key"
            ),
        }
        reference = lambda: secrets.get_secret_value(SecretId="bench-key")  # noqa: E731
        for call in (reference, *calls.values()):  # warm connections and caches
            median_seconds(call, 20)
        moto = median_seconds(reference, repeat)
        for name, call in calls.items():
            seconds = median_seconds(call, repeat)
            print(row(name, seconds, moto, "≤ 1.0× GetSecretValue " + mark(seconds <= moto)))


def moto_calls(repeat: int) -> None:
    """The lab's moto dispatcher beside moto's own, same server, client and call."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    ours = aws.MotoApp()
    stock = DomainDispatcherApplication(create_backend_app)
    servers = [BackgroundServer(f"bench-moto-{n}") for n in ("lab", "stock")]
    try:
        timings = []
        for server, app in zip(servers, (ours, stock), strict=True):
            server.start(app)
            client = aws.client("secretsmanager", server.url, aws.OPERATOR)
            name = f"bench-{server.name}"
            client.create_secret(Name=name, SecretString="k" * 32)
            call = lambda: client.get_secret_value(SecretId=name)  # noqa: E731, B023
            median_seconds(call, 20)  # warm
            timings.append(median_seconds(call, repeat))
        print(row("GetSecretValue, lab's moto", *timings, "vs moto's own dispatcher"))
    finally:
        for server in servers:
            server.stop()
        ours.close()


def mark(met: bool) -> str:
    return "✓" if met else "✗"


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.3f} s"


def row(name: str, seconds: float, reference: float, target: str = "") -> str:
    ratio = seconds / reference
    return f"{name:<32} {duration(seconds):>10} {duration(reference):>10} {ratio:>7.2f}×  {target}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    args = parser.parse_args()

    print(f"{'measurement':<32} {'ours':>10} {'reference':>10} {'ratio':>8}  target")
    bare_start, bare_stop = start_and_stop(start_bare_server, args.repeat)
    lab_start, lab_stop = start_and_stop(Lab, args.repeat)
    print(row("lab start-up → ready", lab_start, bare_start, "< 1 s " + mark(lab_start < 1)))
    print(row("lab stop", lab_stop, bare_stop))

    moto_calls(args.repeat * 60)
    agentcore_calls(args.repeat * 60)
    compare_caches(args.repeat)
    print()
    course_report(max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
