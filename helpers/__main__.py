"""``python -m helpers serve``: run the lab in a terminal for clients outside Jupyter.

Prints one ``export NAME=value`` line per endpoint variable (eval-able in a shell), then
serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from .lab import start_lab


def serve(agentcore: bool) -> int:
    lab = start_lab(agentcore=agentcore)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    parser.add_argument("command", choices=["serve"], help="serve: run the lab until Ctrl-C")
    parser.add_argument(
        "--no-agentcore",
        action="store_true",
        help="only the identity provider and the cast (no AWS emulation)",
    )
    args = parser.parse_args(argv)
    return serve(agentcore=not args.no_agentcore)


if __name__ == "__main__":
    sys.exit(main())
