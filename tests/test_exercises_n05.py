"""Notebook 05's checkers: the chain scenarios, a token exchanged as the coach, and reading
an act chain.

The exchange checker is judged against a real lab with AgentCore: tokens exchanged by the
emulator and the IdP, refused or accepted by the fitness API's own check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from botocore.client import BaseClient
from conftest import (
    BOB,
    TIMEOUT,
    Forger,
    create_lab_oauth2_provider,
    login_tokens,
    token_exchange,
)

from helpers import aws
from helpers.exercises import (
    AUDIT_CLAIMS,
    UNANSWERED,
    check_act_chain,
    check_exchanged_token,
    show_audit_claims,
)
from helpers.lab import Lab

PROVIDER = "fitness-agent-obo"
CALL_ORDER = ["fitness-agent", "planner-agent", "fitness-mcp"]
JUNK = [42, "garbage", ["B", "C"], [["x", {"y": None}]], {"nested": {"junk": [None, ...]}}]


@dataclass(frozen=True)
class ChainLab:
    lab: Lab
    coach_role: BaseClient
    alice_token: str  # from the frontend's session: audience fitness-agent

    def exchange(self, audience: str = "fitness-api") -> str:
        """What the exercise asks: ON_BEHALF_OF_TOKEN_EXCHANGE with the coach's WAT."""
        wat = self.coach_role.get_workload_access_token_for_jwt(
            workloadName="fitness-agent", userToken=self.alice_token
        )["workloadAccessToken"]
        return self.coach_role.get_resource_oauth2_token(
            workloadIdentityToken=wat,
            resourceCredentialProviderName=PROVIDER,
            oauth2Flow="ON_BEHALF_OF_TOKEN_EXCHANGE",
            scopes=["activities:read"],
            audiences=[audience],
        )["accessToken"]

    def exchange_at_idp(self, subject: str, client: str, audience: str = "fitness-api") -> str:
        """RFC 8693 at the IdP's /token, as ``client``."""
        resp = token_exchange(self.lab, subject, client, audience)
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]


@pytest.fixture(scope="module")
def cl() -> Iterator[ChainLab]:
    lab = Lab(agentcore=True)
    try:
        identity = lab.agentcore.identity
        control = aws.client("bedrock-agentcore-control", identity.control_server.url, aws.OPERATOR)
        control.create_workload_identity(name="fitness-agent")
        create_lab_oauth2_provider(control, lab, PROVIDER, "fitness-agent")
        coach_role = aws.client("bedrock-agentcore", identity.data_server.url, aws.AGENT_RUNTIME)
        alice = lab.browser()
        alice.sign_in(f"{lab.urls.frontend}/login", "alice", "alice-lab-password")
        tokens = lab.frontend.session_tokens(alice.session.cookies["frontend_session"])
        yield ChainLab(lab, coach_role, tokens["access_token"])
    finally:
        lab.stop()


def hint(verdict: object) -> str:
    assert not verdict, verdict
    return repr(verdict)


# -- exercise 1, lettered: in tests/test_exercises_lettered.py ----------------------


# -- exercise 2: a token exchanged as the coach, for the fitness API --------------------------
def test_exchange_checker_is_hands_on() -> None:
    assert check_exchanged_token.hands_on
    assert not getattr(check_act_chain, "hands_on", False)


def test_the_coachs_exchange_for_the_fitness_api_passes(cl: ChainLab) -> None:
    verdict = check_exchanged_token(cl.lab, cl.exchange())
    assert verdict and "act" in repr(verdict)


def test_a_token_for_the_mcp_server_has_the_wrong_audience(cl: ChainLab) -> None:
    message = hint(check_exchanged_token(cl.lab, cl.exchange("fitness-mcp")))
    assert "aud is ['fitness-mcp']" in message


def test_alices_own_token_has_the_wrong_audience(cl: ChainLab) -> None:
    message = hint(check_exchanged_token(cl.lab, cl.alice_token))
    assert "aud is ['fitness-agent'" in message


def test_a_token_for_two_audiences_is_refused(cl: ChainLab) -> None:
    broad = login_tokens(cl.lab, scope="openid activities:read")["access_token"]
    assert "more than the fitness API" in hint(check_exchanged_token(cl.lab, broad))


def test_a_second_exchange_names_the_mcp_server_as_actor(cl: ChainLab) -> None:
    twice = cl.exchange_at_idp(cl.exchange("fitness-mcp"), "fitness-mcp")
    assert "act names 'fitness-mcp'" in hint(check_exchanged_token(cl.lab, twice))


def test_bobs_token_is_not_alices(cl: ChainLab) -> None:
    bob = login_tokens(cl.lab, BOB, scope="openid agent:invoke")["access_token"]
    for_bob = cl.exchange_at_idp(bob, "fitness-agent")
    assert "acts for 'user-2-bob'" in hint(check_exchanged_token(cl.lab, for_bob))


def test_forged_claims_each_get_their_hint(cl: ChainLab) -> None:
    forger = Forger(cl.lab)
    coach = {"sub": "fitness-agent"}

    def token(**claims: object) -> str:
        return forger.register(forger.sign(claims=forger.claims(**claims)))

    assert "no act claim" in hint(check_exchanged_token(cl.lab, token()))
    nested = token(act={**coach, "act": {"sub": "fitness-mcp"}})
    assert "nests an earlier actor" in hint(check_exchanged_token(cl.lab, nested))
    wider = token(act=coach, scope="activities:read activities:write")
    assert "scope is 'activities:read activities:write'" in hint(
        check_exchanged_token(cl.lab, wider)
    )
    expired = token(act=coach, exp=int(cl.lab.clock.now()) - 60)
    assert "expired" in hint(check_exchanged_token(cl.lab, expired))
    assert "acts for 'user-2-bob'" in hint(
        check_exchanged_token(cl.lab, token(act=coach, sub="user-2-bob"))
    )
    forged_aud = token(act=coach, aud="fitness-api")  # a string aud is one audience too
    assert check_exchanged_token(cl.lab, forged_aud)


def test_a_revoked_exchanged_token_fails(cl: ChainLab) -> None:
    token = cl.exchange()
    coach = ("fitness-agent", cl.lab.client_secret("fitness-agent"))
    resp = requests.post(
        f"{cl.lab.urls.issuer}/revoke", data={"token": token}, auth=coach, timeout=TIMEOUT
    )
    assert resp.status_code == 200, resp.text
    assert "revoked" in hint(check_exchanged_token(cl.lab, token))


def test_the_whole_response_is_not_the_token(cl: ChainLab) -> None:
    message = hint(check_exchanged_token(cl.lab, {"accessToken": "x", "ResponseMetadata": {}}))
    assert "not the whole response" in message


@pytest.mark.parametrize("answer", [*JUNK, "a.b.c", "x" * 10_000, "Bearer eyJ.eyJ.sig"])
def test_exchange_checker_malformed_answer_fails_without_raising(
    cl: ChainLab, answer: object
) -> None:
    assert "accessToken" in hint(check_exchanged_token(cl.lab, answer))


@pytest.mark.parametrize("answer", [None, ...])
def test_exchange_checker_placeholder_is_unanswered(cl: ChainLab, answer: object) -> None:
    assert check_exchanged_token(cl.lab, answer) is UNANSWERED


# -- exercise 3: reading the act chain -------------------------------------------------------
def test_the_audit_claims_shown_are_the_ones_checked(capsys: pytest.CaptureFixture[str]) -> None:
    show_audit_claims()
    assert json.loads(capsys.readouterr().out) == AUDIT_CLAIMS
    outside_in, act = [], AUDIT_CLAIMS["act"]
    while act:
        outside_in.append(act["sub"])
        act = act.get("act")
    assert outside_in[::-1] == CALL_ORDER


def test_the_call_order_passes_in_any_spelling() -> None:
    assert check_act_chain(CALL_ORDER)
    assert check_act_chain(tuple(f" {name.upper()} " for name in CALL_ORDER))


@pytest.mark.parametrize(
    ("answer", "clue"),
    [
        (CALL_ORDER[::-1], "wrong order"),
        (["planner-agent", "fitness-agent", "fitness-mcp"], "wrong order"),
        (["user-2-bob", *CALL_ORDER], "user-2-bob is the token's sub"),
        ([*CALL_ORDER, "fitness-api"], "fitness-api is the token's aud"),
        (["fitness-agent", "fitness-mcp"], "missing or listed twice"),
        (["fitness-agent", "fitness-agent", "fitness-mcp"], "missing or listed twice"),
        ([], "missing or listed twice"),
        (["fitness-agent", "fitness-frontend", "fitness-mcp"], "'fitness-frontend' is not an"),
    ],
)
def test_a_wrong_chain_gets_a_hint_naming_the_mistake(answer: list[str], clue: str) -> None:
    assert clue in hint(check_act_chain(answer))


@pytest.mark.parametrize(
    "answer",
    [42, "garbage", "fitness-agent, planner-agent", [1, 2, 3], [None], [["fitness-agent"]]]
    + [{"nested": {"junk": [None, ...]}}],
)
def test_act_chain_malformed_answer_fails_without_raising(answer: object) -> None:
    assert "list of service names" in hint(check_act_chain(answer))


@pytest.mark.parametrize("answer", [None, ...])
def test_act_chain_placeholder_is_unanswered(answer: object) -> None:
    assert check_act_chain(answer) is UNANSWERED
