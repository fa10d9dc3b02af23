"""The checkers of notebook 09 (choosing a pattern): right answers pass, wrong ones fail
with a hint that names what is wrong, malformed ones fail without raising.

The hands-on checker is judged against a lab of this module's own, with Secrets Manager,
as the notebook runs it (``start_lab(agentcore=True)``: its variables exported).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.client import BaseClient

from helpers import exercises
from helpers.exercises import ROTATION_SECRET
from helpers.lab import Lab
from helpers.masking import mask
from helpers.secrets.compare import direct_api_app, new_key

MALFORMED = [42, 4.2, ["C", "B"], {"1": ["C"], "x": {"y": None}}, (1, "C"), b"C"]
GARBAGE = "CBADA"  # a string: to the lettered checker no dict, to the key checker no key


# -- exercise 1, lettered: in tests/test_exercises_lettered.py ----------------------


# -- exercise 2: a rotation delivered by pattern 3 ----------------------------------------


@pytest.fixture(scope="module")
def aws_lab() -> Iterator[Lab]:
    lab = Lab(agentcore=True)
    lab.export_env()  # the agent's direct_api_app builds its client from the environment
    yield lab
    lab.stop()


@pytest.fixture
def sm(aws_lab: Lab) -> Iterator[BaseClient]:
    """The operator's client; no exercise secret before the test, none after it."""
    client = boto3.client("secretsmanager")
    yield client
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId=ROTATION_SECRET, ForceDeleteWithoutRecovery=True)


def setup_cell(sm: BaseClient) -> Callable[[], str]:
    """What the notebook's setup cell does: the first key, and the agent reading it."""
    sm.create_secret(Name=ROTATION_SECRET, SecretString=new_key())
    agent_key = direct_api_app(ROTATION_SECRET, ttl=0.25)
    agent_key()
    return agent_key


def rotate(sm: BaseClient) -> str:
    key = new_key()
    sm.put_secret_value(SecretId=ROTATION_SECRET, SecretString=key)
    return key


def delivered(agent_key: Callable[[], str], key: str) -> str:
    deadline = time.monotonic() + 5
    while (used := agent_key()) != key and time.monotonic() < deadline:
        time.sleep(0.05)
    assert used == key, "pattern 3 did not deliver the rotation"
    return used


def test_rotation_delivered_is_hands_on() -> None:
    assert exercises.check_rotation_delivered.hands_on


def test_the_rotated_key_the_agent_uses_passes(aws_lab: Lab, sm: BaseClient) -> None:
    agent_key = setup_cell(sm)
    key = rotate(sm)
    assert exercises.check_rotation_delivered(aws_lab, delivered(agent_key, key))


def test_the_key_before_any_rotation_fails_saying_nothing_was_rotated(
    aws_lab: Lab, sm: BaseClient
) -> None:
    agent_key = setup_cell(sm)
    verdict = exercises.check_rotation_delivered(aws_lab, agent_key())
    assert not verdict and "nothing has been rotated yet" in repr(verdict)
    assert "put_secret_value" in repr(verdict)


def test_the_key_the_cache_still_served_fails_naming_the_cache(
    aws_lab: Lab, sm: BaseClient
) -> None:
    agent_key = setup_cell(sm)
    first = agent_key()
    rotate(sm)
    served = agent_key()  # within the TTL: the cached, rotated-out key
    assert served == first
    verdict = exercises.check_rotation_delivered(aws_lab, served)
    assert not verdict and "rotated out of the store" in repr(verdict)
    assert "TTL" in repr(verdict)


def test_a_key_rotated_out_twice_still_counts_as_rotated_out(aws_lab: Lab, sm: BaseClient) -> None:
    agent_key = setup_cell(sm)
    first = agent_key()
    rotate(sm)
    rotate(sm)
    verdict = exercises.check_rotation_delivered(aws_lab, first)
    assert not verdict and "rotated out of the store" in repr(verdict)


def test_a_key_the_store_never_held_fails(aws_lab: Lab, sm: BaseClient) -> None:
    setup_cell(sm)
    rotate(sm)
    for answer in (new_key(), GARBAGE, "", "{'wk-': [None]}"):
        verdict = exercises.check_rotation_delivered(aws_lab, answer)
        assert not verdict and "no key the store has held" in repr(verdict)


def test_a_mask_of_the_right_key_fails_saying_it_is_a_mask(aws_lab: Lab, sm: BaseClient) -> None:
    agent_key = setup_cell(sm)
    used = delivered(agent_key, rotate(sm))
    verdict = exercises.check_rotation_delivered(aws_lab, mask(used))
    assert not verdict and "that is a mask" in repr(verdict)


def test_without_the_setup_cell_the_missing_secret_is_named(aws_lab: Lab, sm: BaseClient) -> None:
    verdict = exercises.check_rotation_delivered(aws_lab, new_key())
    assert not verdict and f"no secret {ROTATION_SECRET}" in repr(verdict)
    assert "setup cell" in repr(verdict)


@pytest.mark.parametrize("answer", MALFORMED)
def test_malformed_answers_fail_without_raising(aws_lab: Lab, answer: object) -> None:
    verdict = exercises.check_rotation_delivered(aws_lab, answer)
    assert isinstance(verdict, exercises.Verdict) and not verdict
    assert "pass the key as a string" in repr(verdict)


@pytest.mark.parametrize("answer", [None, ...])
def test_rotation_delivered_unanswered(aws_lab: Lab, answer: object) -> None:
    assert exercises.check_rotation_delivered(aws_lab, answer) is exercises.UNANSWERED


def test_a_lab_without_secrets_manager_is_named(lab: Lab) -> None:
    verdict = exercises.check_rotation_delivered(lab, new_key())
    assert not verdict and "start_lab(agentcore=True)" in repr(verdict)
