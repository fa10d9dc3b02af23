"""Notebook 07's checkers: the lettered volume scenarios, and the hands-on pair reader,
run against a volume the lab's Secrets Manager feeds while the operator swaps it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import aws, exercises
from helpers.exercises import PAIR_KEYS, check_pair_reader
from helpers.lab import Lab
from helpers.secrets.volume import read_consistent, read_naive

Reader = Callable[[Path, Callable[[], None]], object]


# -- exercise 1, lettered: in tests/test_exercises_lettered.py ----------------------


# -- Exercise 2: a reader that never tears ---------------------------------------------


@pytest.fixture(scope="module")
def store_lab() -> Iterator[Lab]:
    lab = Lab(agentcore=True)
    yield lab
    lab.stop()


def resolve_once(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    """The right reader, as the course's own helper writes it."""
    return read_consistent(mount, PAIR_KEYS, between)


def between_every_attempt(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    """Right too: a between() called again on a retry must not swap again."""
    while True:
        version = mount / os.readlink(mount / "..data")
        try:
            client_id = (version / "client_id").read_text()
            between()
            return {
                "client_id": client_id,
                "client_secret": (version / "client_secret").read_text(),
            }
        except FileNotFoundError:
            continue


def no_retry(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    version = mount / os.readlink(mount / "..data")
    client_id = (version / "client_id").read_text()
    between()
    return {"client_id": client_id, "client_secret": (version / "client_secret").read_text()}


def secret_first_naive(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    client_secret = (mount / "client_secret").read_text()
    between()
    return {"client_id": (mount / "client_id").read_text(), "client_secret": client_secret}


def between_last(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    values = {key: (mount / key).read_text() for key in PAIR_KEYS}
    between()
    return values


def never_between(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    return {key: (mount / key).read_text() for key in PAIR_KEYS}


def upper_cased(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    pair = resolve_once(mount, between)
    return {**pair, "client_secret": pair["client_secret"].upper()}


def guessed(mount: Path, between: Callable[[], None]) -> dict[str, str]:
    between()
    return {"client_id": "coach-v2", "client_secret": "secret-v2"}


def test_the_pair_reader_is_a_hands_on_exercise() -> None:
    assert check_pair_reader.hands_on is True


@pytest.mark.parametrize(
    "reader",
    [resolve_once, between_every_attempt],
    ids=["read_consistent", "between_every_attempt"],
)
def test_a_reader_of_one_version_passes(store_lab: Lab, reader: Reader) -> None:
    verdict = check_pair_reader(store_lab, reader)
    assert verdict and "one version" in repr(verdict)


@pytest.mark.parametrize(
    ("reader", "named"),
    [
        (lambda m, b: read_naive(m, PAIR_KEYS, b), "client_secret was read through its top-level"),
        (secret_first_naive, "client_id was read through its top-level"),
        (no_retry, "raised FileNotFoundError"),
        (between_last, "version 1 whole"),
        (never_between, "never called between()"),
        (upper_cased, "client_secret: not a value the volume held"),
        (guessed, "client_id and client_secret: not a value the volume held"),
    ],
    ids=["naive", "secret_first", "no_retry", "between_last", "never_between", "upper", "guess"],
)
def test_a_wrong_reader_fails_with_what_is_wrong(
    store_lab: Lab, reader: Reader, named: str
) -> None:
    verdict = check_pair_reader(store_lab, reader)
    assert not verdict and named in repr(verdict), verdict


def test_a_torn_read_says_which_versions(store_lab: Lab) -> None:
    verdict = check_pair_reader(store_lab, lambda m, b: read_naive(m, PAIR_KEYS, b))
    assert "client_id is from version 1, client_secret from version 2" in repr(verdict)


@pytest.mark.parametrize(
    ("reader", "named"),
    [
        (lambda mount: None, "raised TypeError"),
        (lambda m, b: 1 / 0, "raised ZeroDivisionError"),
        (lambda m, b: [b(), "client_id"], "return a dict of the two keys"),
        (lambda m, b: {"client_id": b(), "extra": {"x": [1]}}, "return a dict of the two keys"),
        (lambda m, b: {"client_id": [b()], "client_secret": {}}, "not a value the volume held"),
        (lambda m, b: (b(), "garbage")[1], "return a dict of the two keys"),
    ],
    ids=["signature", "raises", "list", "wrong_keys", "junk_values", "garbage_string"],
)
def test_a_malformed_reader_fails_without_raising(
    store_lab: Lab, reader: Reader, named: str
) -> None:
    verdict = check_pair_reader(store_lab, reader)
    assert isinstance(verdict, exercises.Verdict) and not verdict
    assert named in repr(verdict), verdict


@pytest.mark.parametrize("answer", ["read_pair", 42, [resolve_once], {"read_pair": None}])
def test_an_answer_that_is_no_function_is_explained(store_lab: Lab, answer: object) -> None:
    verdict = check_pair_reader(store_lab, answer)
    assert not verdict and "hand over your function itself" in repr(verdict)


@pytest.mark.parametrize("answer", [None, ..., lambda m, b: None, lambda m, b: ...])
def test_the_placeholder_is_unanswered(store_lab: Lab, answer: object) -> None:
    assert check_pair_reader(store_lab, answer) is exercises.UNANSWERED


def test_the_checker_leaves_no_secret_behind(store_lab: Lab) -> None:
    sm = aws.client("secretsmanager", store_lab.agentcore.moto.url, aws.OPERATOR)
    before = {s["Name"] for s in sm.list_secrets()["SecretList"]}
    assert check_pair_reader(store_lab, resolve_once)
    assert not check_pair_reader(store_lab, no_retry)
    assert {s["Name"] for s in sm.list_secrets()["SecretList"]} == before


def test_a_lab_without_secrets_manager_is_explained() -> None:
    verdict = check_pair_reader(SimpleNamespace(agentcore=None), resolve_once)
    assert not verdict and "agentcore=True" in repr(verdict)


def test_a_stopped_lab_is_explained_not_raised() -> None:
    lab = Lab(agentcore=True)
    lab.stop()
    verdict = check_pair_reader(lab, resolve_once)
    assert not verdict and "did not answer" in repr(verdict)
