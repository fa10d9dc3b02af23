"""Check yourself, notebook 07 · Secrets in a mounted volume."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import aws
from ..secrets.volume import SecretsOperator, Source
from .base import (
    UNANSWERED,
    Verdict,
    check_lettered,
    hands_on,
    lacking,
    show_lettered,
    unanswered,
    verdict,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from ..lab import Lab

__all__ = [
    "PAIR_KEYS",
    "VOLUME_CHOICES",
    "VOLUME_SCENARIOS",
    "check_pair_reader",
    "check_volume_reads",
    "show_volume_scenarios",
]


# What an app reads from a secret volume the operator keeps in sync (notebook 07).
VOLUME_CHOICES = {
    "A": "the new value, on its next read, without a restart",
    "B": "the old value, until the pod is restarted",
    "C": "values from two versions at once (a torn read)",
    "D": "every key from one complete version",
    "E": "nothing: the platform mounts no secret volume",
}
VOLUME_SCENARIOS = {
    "1": "The app reads two keys through their top-level links, and the operator's swap"
    " lands between the two reads.",
    "2": "The app reads weather_api_key through its top-level link, once the operator has"
    " synced a rotation from the store.",
    "3": "The app reads a key mounted on its own, with subPath, after a rotation.",
    "4": "The app resolves ..data once, reads both keys from that directory and starts over"
    " on FileNotFoundError, while a swap lands.",
    "5": "An agent deployed on AgentCore Runtime looks for its key in a mounted volume.",
    "6": "The app read the file once at start-up into a global variable, and a rotation followed.",
}
_VOLUME_KEY = {"1": "C", "2": "A", "3": "B", "4": "D", "5": "E", "6": "B"}


def show_volume_scenarios() -> None:
    show_lettered(VOLUME_CHOICES, VOLUME_SCENARIOS)


def check_volume_reads(answers: object) -> Verdict:
    """07: match each scenario to what the app reads (a letter each)."""
    return check_lettered(
        answers,
        _VOLUME_KEY,
        "You know when a volume rotates for free, and the two ways to lose that.",
        "which path does each read go through, and when is it resolved?",
    )


# -- Exercise 2: read a pair of keys from one version, while the operator swaps ----------

PAIR_KEYS = ("client_id", "client_secret")  # read in this order, between() after the first


def _pair(run: str, version: int) -> dict[str, str]:
    """Version ``version`` of the pair in one run of the checker (values unguessable)."""
    return {"client_id": f"coach-{run}-v{version}", "client_secret": f"secret-{run}-v{version}"}


class _Swap:
    """The exercise's stand-in for bad luck: on its first call, version 2 of the pair goes
    into Secrets Manager and the operator publishes it (swap, then delete version 1)."""

    def __init__(self, sm: BaseClient, secret_id: str, operator: SecretsOperator, run: str) -> None:
        self.sm, self.secret_id, self.operator, self.run = sm, secret_id, operator, run
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls == 1:
            new = json.dumps(_pair(self.run, 2))
            self.sm.put_secret_value(SecretId=self.secret_id, SecretString=new)
            self.operator.sync_once()


def _pair_source(sm: BaseClient, secret_id: str) -> Source:
    """One Secrets Manager secret holding the pair as JSON, one file per field."""

    def fetch() -> dict[str, str]:
        return json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])

    return fetch


@dataclass
class _Run:
    result: object  # what the learner's reader returned, or the exception it raised
    calls: int  # how often it called between()
    versions: dict[int, dict[str, str]]  # the pair's versions, 1 before the swap, 2 after
    stored: dict[str, str]  # what Secrets Manager holds once the reader is done


def _run_reader(lab: Lab, read_pair: Callable) -> _Run:
    """Run ``read_pair`` on a fresh pair volume synced from the lab's Secrets Manager,
    with a swap landing on its first between()."""
    sm = aws.client(
        "secretsmanager", lab.agentcore.moto.url, aws.OPERATOR, loader=lab.botocore_loader
    )
    run = secrets.token_hex(4)
    secret_id = f"exercise/coach-client-{run}"
    sm.create_secret(Name=secret_id, SecretString=json.dumps(_pair(run, 1)))
    try:
        with tempfile.TemporaryDirectory(prefix="pair-", ignore_cleanup_errors=True) as pod:
            mount = Path(pod) / "pair"
            operator = SecretsOperator(_pair_source(sm, secret_id), mount)
            operator.sync_once()
            swap = _Swap(sm, secret_id, operator, run)
            try:
                result: object = read_pair(mount, swap)
            except Exception as exc:  # the learner's code: any failure is an answer
                result = exc
            stored = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
            return _Run(result, swap.calls, {n: _pair(run, n) for n in (1, 2)}, stored)
    finally:
        sm.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)


def _versions_of(values: dict, run: _Run) -> dict[str, int | None]:
    """Which version each key's value came from (None: from no version)."""
    return {
        key: next((n for n, pair in run.versions.items() if values.get(key) == pair[key]), None)
        for key in PAIR_KEYS
    }


def _not_yet(hint: str) -> Verdict:
    return verdict(False, "", hint)


@hands_on
def check_pair_reader(lab: Lab, read_pair: object) -> Verdict:
    """07: write a reader that gets both keys of a volume from one version during a swap."""
    if unanswered(read_pair):
        return UNANSWERED
    if not callable(read_pair):
        return _not_yet(
            "hand over your function itself, read_pair (not called, not quoted): a"
            " def read_pair(mount, between) that returns a dict."
        )
    if (missing := lacking(lab, "agentcore")) is not None:
        return missing
    try:
        run = _run_reader(lab, read_pair)
    except Exception as exc:  # the lab's store unreachable (a stopped lab)
        return _not_yet(f"the lab's Secrets Manager did not answer ({type(exc).__name__}).")
    result = run.result
    if unanswered(result) and run.calls == 0:
        return UNANSWERED
    if isinstance(result, FileNotFoundError):
        return _not_yet(
            "your reader raised FileNotFoundError: after the swap the operator deleted the"
            " version directory you were reading from. Resolve ..data again and start over"
            " when that happens."
        )
    if isinstance(result, Exception):
        return _not_yet(
            f"your reader raised {type(result).__name__}: {str(result)[:120]}. It is called"
            " as read_pair(mount, between), with mount a pathlib.Path to the volume."
        )
    if run.calls == 0:
        return _not_yet(
            "your reader never called between(): call it right after reading client_id,"
            " that is where the swap lands."
        )
    if not isinstance(result, dict) or set(result) != set(PAIR_KEYS):
        return _not_yet(
            'return a dict of the two keys, {"client_id": ..., "client_secret": ...}, each'
            " the text of its file."
        )
    versions = _versions_of(result, run)
    if None in versions.values():
        wrong = " and ".join(key for key, n in versions.items() if n is None)
        return _not_yet(
            f"{wrong}: not a value the volume held. Return the text of each key's file, unchanged."
        )
    if versions["client_id"] != versions["client_secret"]:
        late = next(key for key, n in versions.items() if n == 2)
        return _not_yet(
            f"a torn read: client_id is from version {versions['client_id']}, client_secret"
            f" from version {versions['client_secret']}. {late} was read through its"
            " top-level link after the swap: resolve ..data once, read both keys there."
        )
    if versions["client_id"] == 1:
        return _not_yet(
            "that is version 1 whole, the pair from before the swap: read client_id, then"
            " call between(), then read client_secret."
        )
    return verdict(
        result == run.stored,
        "Both keys from one version, across a swap that deleted the directory you began in.",
        "that pair is not what Secrets Manager holds now: return what you read, unchanged.",
    )
