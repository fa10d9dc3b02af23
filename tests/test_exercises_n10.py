"""The hands-on checker of notebook 10 (Bob through the MCP server): a real login of
Bob's through the official client passes; Alice's answer, a made-up answer and malformed
ones fail with a hint, without raising.

The lettered exercise is in tests/test_exercises_lettered.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from conftest import MCP_REDIRECT, lab_with_mcp_runtime, mcp_list_and_call, mcp_provider

from helpers import exercises
from helpers.lab import Lab
from helpers.mcp_login import ScriptedUser


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from lab_with_mcp_runtime()


def answer_of(lab: Lab, username: str, password: str) -> dict:
    """What list_activities answers a real client that logged in as ``username``."""
    user = ScriptedUser(username, password, MCP_REDIRECT)
    return mcp_list_and_call(lab.agentcore.mcp_url, mcp_provider(lab.agentcore.mcp_url, user))[1]


@pytest.fixture(scope="module")
def bobs(lab: Lab) -> dict:
    return answer_of(lab, "bob", "bob-lab-password")


def test_bobs_real_answer_passes(lab: Lab, bobs: dict) -> None:
    assert exercises.check_bob_through_mcp(lab, bobs).ok


def test_alices_answer_is_not_bobs(lab: Lab) -> None:
    verdict = exercises.check_bob_through_mcp(lab, answer_of(lab, "alice", "alice-lab-password"))
    assert not verdict.ok and "not Bob's" in verdict.message


def test_a_made_up_token_id_is_caught(lab: Lab, bobs: dict) -> None:
    forged = copy.deepcopy(bobs)
    forged["tokens"]["received"]["jti"] = "0" * 32
    verdict = exercises.check_bob_through_mcp(lab, forged)
    assert not verdict.ok and "never issued" in verdict.message


def test_a_token_for_another_audience_is_caught(lab: Lab, bobs: dict) -> None:
    wrong = copy.deepcopy(bobs)
    wrong["tokens"]["received"]["aud"] = ["fitness-api"]
    verdict = exercises.check_bob_through_mcp(lab, wrong)
    assert not verdict.ok and "not bound" in verdict.message


@pytest.mark.parametrize("answer", [None, ..., 42, "bob", ["tokens"], {"body": {}}, {"tokens": 1}])
def test_unanswered_and_malformed_answers_get_a_hint(lab: Lab, answer: object) -> None:
    verdict = exercises.check_bob_through_mcp(lab, answer)
    assert not verdict.ok and verdict.message
