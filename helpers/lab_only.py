"""Cells that pull the lab's levers, and how they step aside in AWS mode.

Most cells make the calls a learner would make against AWS and a real identity
provider. A few reach into the lab itself: its clock, the IdP's internals, the
emulator's throttle, a restart of a service. Such a cell carries the cell tag
``lab-only`` and starts with a comment that says why, for example::

    # lab-only: the lab clock moves an hour on
    lab.clock.advance(3600)

In the lab the comment is only a comment. In AWS mode (``LAB_AWS_MODE`` set) the kernel
runs one line instead, which says the cell was skipped and why. ``tests/test_aws_mode.py``
proves that the tag and the comment go together, and that no other cell touches
anything listed in :data:`LAB_ONLY`.
"""

from __future__ import annotations

import os
import re
from typing import Any

MODE_VAR = "LAB_AWS_MODE"
TAG = "lab-only"
MARKER = "# lab-only:"
# What only the lab has, as a pattern over a cell's source, and what it is.
LAB_ONLY: dict[str, str] = {
    r"\blab\.clock\b": "the lab clock",
    r"\blab\.idp\b": "the lab IdP's internals",
    r"\blab\.agentcore\b": "the AgentCore emulator's internals",
    r"\blab\.openbao\b": "the lab's OpenBao server",
    r"\blab\.(env|health)\(": "the lab's own services",
    r"\blab\.(rotate_client_secret|rotate_signing_key|redeploy_frontend|register_key_client)\b": (
        "a lab lever"
    ),
    r"\bherd_backend\b|\bThrottledSecretsManager\b": "the lab's throttled Secrets Manager",
    r"\bhelpers\.agentcore\.lab_part\b": "the lab's wiring of AgentCore",
    # boto3 reads these itself; a cell that names them would fail on AWS, which has none.
    r"\bAWS_ENDPOINT_URL": "the lab's AWS endpoints",
}


def aws_mode() -> bool:
    """Whether the notebooks run against AWS and a real OIDC provider, not the lab."""
    return bool(os.environ.get(MODE_VAR))


def lab_only_uses(source: str) -> list[str]:
    """What of the lab ``source`` touches, by :data:`LAB_ONLY`'s descriptions."""
    return [what for pattern, what in LAB_ONLY.items() if re.search(pattern, source)]


def skip_in_aws_mode(lines: list[str]) -> list[str]:
    """An IPython input transformer: a lab-only cell becomes one line in AWS mode."""
    if not (lines and lines[0].startswith(MARKER) and aws_mode()):
        return lines
    reason = lines[0][len(MARKER) :].strip()
    return [f"print({f'Skipped in AWS mode (lab-only): {reason}'!r})\n"]


def install(shell: Any) -> None:
    """Let ``shell`` (the notebook's IPython) step over lab-only cells in AWS mode."""
    if skip_in_aws_mode not in shell.input_transformers_post:
        shell.input_transformers_post.append(skip_in_aws_mode)
