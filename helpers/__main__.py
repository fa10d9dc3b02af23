"""The lab from a terminal.

``python -m helpers serve`` runs the lab for clients outside Jupyter: it prints one
``export NAME=value`` line per endpoint variable (eval-able in a shell), then serves until
Ctrl-C. ``python -m helpers preflight`` starts one learner's whole lab, checks every
service's health, prints the start time and memory, and stops it: a trainer's check of a
machine before a class.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from .aws_mode import AwsMode, AwsModeError
from .cast.fitness_api import ACTIVITIES_PATH
from .idp.seed import FRONTEND_CLIENT_ID
from .lab import Lab, start_lab
from .processes import tree_rss_mib


def serve(agentcore: bool, aws_mode: AwsMode | None = None) -> int:
    # For a kernel in AWS mode, OpenBao too: its Vault is elsewhere (VAULT_ADDR).
    lab = start_lab(agentcore=agentcore, openbao=aws_mode is not None)
    if aws_mode is not None:
        try:
            register_app_of(aws_mode, lab)
        except AwsModeError as exc:
            lab.stop()
            print(f"python -m helpers serve: {exc}", file=sys.stderr)
            return 2
    # The MCP server on its runtime, for MCP clients (LAB_MCP_URL); a kernel in AWS mode
    # finds an empty account instead, as a learner's own would be.
    if lab.agentcore and aws_mode is None:
        lab.agentcore.create_mcp_runtime(activities_url=lab.urls.fitness_api + ACTIVITIES_PATH)
    exports = [f"export {name}={shlex.quote(value)}" for name, value in lab.env().items()]
    print("\n".join(exports), flush=True)
    print(f"# lab ready in {lab.ready_after_s * 1000:.0f} ms; Ctrl-C stops it", file=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        lab.stop()
        print("# lab stopped", file=sys.stderr)
    return 0


def register_app_of(aws_mode: AwsMode, lab: Lab) -> None:
    """What a provider's administrator does for a kernel in AWS mode: its clients get the
    secrets its configuration names, and its frontend's redirect URI is allowed."""
    clients = lab.idp.store.clients
    for client_id in aws_mode.client_secrets:
        if client_id not in clients:
            raise AwsModeError(f"{aws_mode.path}: the lab's IdP has no client {client_id}")
        clients[client_id].client_secret = aws_mode.client_secret(client_id)
    clients[FRONTEND_CLIENT_ID].redirect_uris.append(aws_mode.redirect_uri)


def preflight() -> int:
    began = time.perf_counter()
    lab = start_lab(agentcore=True, openbao=True)
    took = time.perf_counter() - began
    try:
        health = lab.health()
        mib = tree_rss_mib(os.getpid())
    finally:
        lab.stop()
    for name, said in health.items():
        print(f"  {name:<18} {said}")
    print(f"one learner's lab: ready in {took:.2f} s, {mib:.0f} MiB (before any notebook runs)")
    failing = [name for name, said in health.items() if said != "ok"]
    if failing:
        print(f"preflight failed: {', '.join(failing)} did not answer its health check")
        return 1
    print("preflight passed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    parser.add_argument(
        "command",
        choices=["serve", "preflight"],
        help="serve: run the lab until Ctrl-C; preflight: start, check and stop one lab",
    )
    parser.add_argument(
        "--no-agentcore",
        action="store_true",
        help="only the identity provider and the cast (no AWS emulation)",
    )
    parser.add_argument(
        "--aws-mode-config",
        type=Path,
        metavar="FILE",
        help="serve: register the app of a kernel in AWS mode configured by FILE",
    )
    args = parser.parse_args(argv)
    if args.command == "preflight":
        return preflight()
    try:
        aws_mode = AwsMode.load(args.aws_mode_config) if args.aws_mode_config else None
    except AwsModeError as exc:
        parser.error(str(exc))
    return serve(agentcore=not args.no_agentcore, aws_mode=aws_mode)


if __name__ == "__main__":
    sys.exit(main())
