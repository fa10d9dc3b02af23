"""The checkers of notebook 08 (secrets by direct API call): right answers pass, wrong ones
fail with a hint that names what is wrong, malformed ones fail without raising.

The hands-on checker is judged against a real OpenBao: this module runs a lab of its own
with one, so its tokens are issued on a lab clock no other test has fast-forwarded
(OpenBao judges ``nbf`` and ``exp`` by wall time, see test_openbao.py).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import hvac
import pytest
from conftest import login_tokens

from helpers import exercises
from helpers.lab import Lab
from helpers.secrets.openbao import login_with_jwt

RIGHT = {1: "C", 2: "A", 3: "B", 4: "B", 5: "D", 6: "A", 7: "E", 8: "F"}
AGENT_SCOPE = "openid agent:invoke"  # a token for the agent: aud fitness-agent
MALFORMED = [42, 4.2, ["C", "A"], "CABBDAEF", {"1": ["C"], "x": {"y": None}}, (1, "C"), b"C"]


# -- exercise 1: what the agent's code does or gets ---------------------------------------


def test_the_hint_for_a_wrong_scenario_does_not_give_the_answer_away() -> None:
    # The shared cases are in test_exercises_lettered.py; this one is 08's own.
    one = exercises.check_api_secret_handling({**RIGHT, 5: "B"})  # stale past the hard TTL
    assert not one and "scenario 5 (" in repr(one) and "hard TTL" not in repr(one)


# -- exercise 2: a secret of your own, read back as the agent ----------------------------


@pytest.fixture(scope="module")
def bao_lab() -> Iterator[Lab]:
    with Lab(openbao=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def operator(bao_lab: Lab) -> hvac.Client:
    return bao_lab.openbao.server.client()


@pytest.fixture(scope="module")
def agent(bao_lab: Lab) -> hvac.Client:
    """The agent, logged in to OpenBao with Alice's access token, as in the notebook."""
    return login_with_jwt(
        bao_lab.openbao.server.url, login_tokens(bao_lab, scope=AGENT_SCOPE)["access_token"]
    )


def store(operator: hvac.Client, path: str, **fields: str) -> None:
    operator.secrets.kv.v2.create_or_update_secret(path, secret=fields)


def agent_reads(agent: hvac.Client, path: str) -> str:
    read = agent.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)
    return read["data"]["data"]["api_key"]


def new_value() -> str:
    return "mk-" + secrets.token_urlsafe(24)


def test_agent_secret_is_hands_on() -> None:
    assert exercises.check_agent_secret.hands_on


def test_a_secret_the_agent_read_back_passes(
    bao_lab: Lab, operator: hvac.Client, agent: hvac.Client
) -> None:
    store(operator, "fitness/maps-api-key", api_key=new_value())
    read = agent_reads(agent, "fitness/maps-api-key")
    assert exercises.check_agent_secret(bao_lab, "fitness/maps-api-key", read)
    # the KV v2 API path names the same secret
    assert exercises.check_agent_secret(bao_lab, "secret/data/fitness/maps-api-key", read)


def test_a_path_outside_the_agents_policy_fails_naming_the_policy(
    bao_lab: Lab, operator: hvac.Client, agent: hvac.Client
) -> None:
    value = new_value()
    store(operator, "billing/maps-api-key", api_key=value)
    with pytest.raises(hvac.exceptions.Forbidden):  # what the agent itself gets
        agent_reads(agent, "billing/maps-api-key")
    verdict = exercises.check_agent_secret(bao_lab, "billing/maps-api-key", value)
    assert not verdict
    assert "secret/data/billing/maps-api-key" in repr(verdict)
    assert "secret/data/fitness/*" in repr(verdict) and "403" in repr(verdict)


def test_a_value_other_than_the_stored_one_fails(
    bao_lab: Lab, operator: hvac.Client, agent: hvac.Client
) -> None:
    store(operator, "fitness/other-key", api_key=new_value())
    verdict = exercises.check_agent_secret(bao_lab, "fitness/other-key", new_value())
    assert not verdict and "not the value you passed" in repr(verdict)
    assert "fitness/other-key" in repr(verdict)


def test_a_path_with_nothing_stored_fails(bao_lab: Lab) -> None:
    verdict = exercises.check_agent_secret(bao_lab, "fitness/never-stored", new_value())
    assert not verdict and "nothing is stored at secret/data/fitness/never-stored" in repr(verdict)


def test_a_secret_without_the_api_key_field_fails(bao_lab: Lab, operator: hvac.Client) -> None:
    value = new_value()
    store(operator, "fitness/no-api-key", key=value)
    verdict = exercises.check_agent_secret(bao_lab, "fitness/no-api-key", value)
    assert not verdict and "no field api_key" in repr(verdict) and value not in repr(verdict)


def test_the_notebooks_own_weather_key_is_not_the_learners(
    bao_lab: Lab, operator: hvac.Client, agent: hvac.Client
) -> None:
    store(operator, "fitness/weather-api-key", api_key=new_value())
    verdict = exercises.check_agent_secret(
        bao_lab, "fitness/weather-api-key", agent_reads(agent, "fitness/weather-api-key")
    )
    assert not verdict and "a secret of your own" in repr(verdict)


@pytest.mark.parametrize(
    ("path", "agent_read"),
    [
        (42, "x"),
        ("fitness/maps-api-key", ["x"]),
        ({"path": ["fitness"]}, {"api_key": None}),
        ("", "x"),
        ("../../sys/policies", "x"),
        ("fitness/../billing/maps-api-key", "x"),
        ("fitness/a b; rm -rf /", "x"),
        ("fitness//x", "x"),
    ],
)
def test_malformed_answers_fail_without_raising(
    bao_lab: Lab, path: object, agent_read: object
) -> None:
    verdict = exercises.check_agent_secret(bao_lab, path, agent_read)
    assert isinstance(verdict, exercises.Verdict) and not verdict
    assert "pass two strings" in repr(verdict)


@pytest.mark.parametrize(("path", "agent_read"), [(None, "x"), ("fitness/x", None), (..., ...)])
def test_agent_secret_unanswered(bao_lab: Lab, path: object, agent_read: object) -> None:
    assert exercises.check_agent_secret(bao_lab, path, agent_read) is exercises.UNANSWERED


def test_a_lab_without_openbao_is_named(lab: Lab) -> None:
    verdict = exercises.check_agent_secret(lab, "fitness/maps-api-key", "x")
    assert not verdict and "no OpenBao" in repr(verdict)


def test_the_check_leaves_no_usable_token_behind(bao_lab: Lab, operator: hvac.Client) -> None:
    def accessors() -> set[str]:
        return set(operator.list("auth/token/accessors")["data"]["keys"])

    before = accessors()
    exercises.check_agent_secret(bao_lab, "fitness/never-stored", "x")
    # Its one-use token is gone once used; OpenBao revokes it just after the request, so a
    # listing made at once may still show it (seen under CI's load).
    deadline = time.monotonic() + 10
    while not accessors() <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert accessors() <= before
