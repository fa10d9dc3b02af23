"""Notebook 03's checkers: who may get a WAT, a workload identity created by the learner,
and a WAT for Bob.

The hands-on checkers are judged against a real lab with AgentCore: workload identities
in the emulator's directory, WATs minted by its data plane and verified by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from helpers import aws
from helpers.exercises import (
    UNANSWERED,
    WAT_SCENARIOS,
    check_bob_wat,
    check_wat_scenarios,
    check_workload_identity,
)
from helpers.lab import Lab

RIGHT_WATS = {1: "allowed", 2: "refused", 3: "refused", 4: "refused", 5: "allowed", 6: "refused"}
JUNK = [42, 4.2, True, "garbage", b"bytes", ["A", "B"], [["x", {"y": None}]], {"n": {"j": [...]}}]
NEW_WORKLOAD = "nutrition-agent"
NO_AGENTCORE = SimpleNamespace(agentcore=None)  # all a checker sees of a lab without it


@dataclass(frozen=True)
class IdentityLab:
    lab: Lab
    control: BaseClient
    runtime: BaseClient

    @property
    def return_url(self) -> str:
        return self.lab.urls.frontend + "/nutrition/return"

    def access_token(self, user: str) -> str:
        browser = self.lab.browser()
        browser.sign_in(self.lab.urls.frontend + "/login", user, f"{user}-lab-password")
        tokens = self.lab.frontend.session_tokens(browser.session.cookies["frontend_session"])
        return tokens["access_token"]

    def wat_for(self, user: str) -> str:
        """What the learner does: the runtime's role trades the user's JWT for a WAT."""
        return self.runtime.get_workload_access_token_for_jwt(
            workloadName="fitness-agent", userToken=self.access_token(user)
        )["workloadAccessToken"]


@pytest.fixture(scope="module")
def il() -> Iterator[IdentityLab]:
    lab = Lab(agentcore=True)
    identity = lab.agentcore.identity
    control = aws.client("bedrock-agentcore-control", identity.control_server.url, aws.OPERATOR)
    control.create_workload_identity(name="fitness-agent")  # as notebook 03, section 1
    runtime = aws.client("bedrock-agentcore", identity.data_server.url, aws.AGENT_RUNTIME)
    yield IdentityLab(lab, control, runtime)
    lab.stop()


@pytest.fixture
def no_nutrition_agent(il: IdentityLab) -> Iterator[IdentityLab]:
    """The directory without the learner's workload identity, before and after the test."""

    def drop() -> None:
        try:
            il.control.delete_workload_identity(name=NEW_WORKLOAD)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ResourceNotFoundException"

    drop()
    yield il
    drop()


def refused(result: object) -> str:
    """The hint of a refusal (and that it is one, not the placeholder message)."""
    assert result is not UNANSWERED and not result, result
    text = repr(result)
    assert text.startswith("❌ Not yet. Hint: ") and len(text) > len("❌ Not yet. Hint: ") + 20
    return text


# -- Exercise 1 · who may get a WAT ----------------------------------------------------------
def test_wat_scenarios_right_answer_passes_in_any_spelling() -> None:
    assert check_wat_scenarios(RIGHT_WATS).ok
    assert check_wat_scenarios({str(k): f" {v.upper()} " for k, v in RIGHT_WATS.items()}).ok


def test_wat_scenarios_wrong_answer_names_the_scenarios() -> None:
    assert "scenario 5 " in refused(check_wat_scenarios({**RIGHT_WATS, 5: "refused"}))
    hint = refused(check_wat_scenarios({**RIGHT_WATS, 2: "allowed", 4: "allowed"}))
    assert "scenarios 2, 4 " in hint


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_wat_scenarios_malformed_answer_fails_without_raising(junk: object) -> None:
    assert refused(check_wat_scenarios(junk))


def test_wat_scenarios_junk_values_count_as_wrong() -> None:
    hint = refused(check_wat_scenarios({**RIGHT_WATS, 1: ["allowed"], 3: {"refused": None}}))
    assert "scenarios 1, 3 " in hint


@pytest.mark.parametrize("placeholder", [None, ...])
def test_wat_scenarios_placeholder_is_unanswered(placeholder: object) -> None:
    assert check_wat_scenarios(placeholder) is UNANSWERED


def test_every_scenario_has_an_answer() -> None:
    assert sorted(WAT_SCENARIOS) == sorted(str(k) for k in RIGHT_WATS)


# -- Exercise 2 · create a workload identity (hands-on) --------------------------------------
def test_the_created_workload_identity_passes(no_nutrition_agent: IdentityLab) -> None:
    il = no_nutrition_agent
    created = il.control.create_workload_identity(
        name=NEW_WORKLOAD, allowedResourceOauth2ReturnUrls=[il.return_url]
    )
    assert check_workload_identity(il.lab, created["workloadIdentityArn"]).ok


def test_a_workload_identity_not_yet_created_fails(no_nutrition_agent: IdentityLab) -> None:
    il = no_nutrition_agent
    arn = il.control.get_workload_identity(name="fitness-agent")["workloadIdentityArn"]
    hint = refused(check_workload_identity(il.lab, arn))
    assert "no workload identity named 'nutrition-agent'" in hint


@pytest.mark.parametrize(
    ("urls", "named"),
    [
        ([], "allows no return URL"),
        (["{}/"], "/nutrition/return/']"),  # exact strings: a trailing slash is another URL
        (["{}", "https://evil.example/return"], "evil.example"),
    ],
)
def test_wrong_return_urls_are_named(
    no_nutrition_agent: IdentityLab, urls: list[str], named: str
) -> None:
    il = no_nutrition_agent
    created = il.control.create_workload_identity(
        name=NEW_WORKLOAD, allowedResourceOauth2ReturnUrls=[u.format(il.return_url) for u in urls]
    )
    hint = refused(check_workload_identity(il.lab, created["workloadIdentityArn"]))
    assert named in hint and "exactly one" in hint


def test_fixing_the_return_urls_with_an_update_passes(no_nutrition_agent: IdentityLab) -> None:
    il = no_nutrition_agent
    created = il.control.create_workload_identity(name=NEW_WORKLOAD)
    assert not check_workload_identity(il.lab, created["workloadIdentityArn"])
    il.control.update_workload_identity(
        name=NEW_WORKLOAD, allowedResourceOauth2ReturnUrls=[il.return_url]
    )
    assert check_workload_identity(il.lab, created["workloadIdentityArn"]).ok


def test_another_resources_arn_fails(no_nutrition_agent: IdentityLab) -> None:
    il = no_nutrition_agent
    il.control.create_workload_identity(
        name=NEW_WORKLOAD, allowedResourceOauth2ReturnUrls=[il.return_url]
    )
    other = il.control.get_workload_identity(name="fitness-agent")["workloadIdentityArn"]
    assert "not its ARN" in refused(check_workload_identity(il.lab, other))


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_workload_identity_malformed_answers_fail_without_raising(
    no_nutrition_agent: IdentityLab, junk: object
) -> None:
    il = no_nutrition_agent
    il.control.create_workload_identity(
        name=NEW_WORKLOAD, allowedResourceOauth2ReturnUrls=[il.return_url]
    )
    hint = refused(check_workload_identity(il.lab, junk))
    assert ("not its ARN" if isinstance(junk, str) else "as a string") in hint


def test_workload_identity_without_agentcore_fails_without_raising() -> None:
    assert "agentcore=True" in refused(check_workload_identity(NO_AGENTCORE, "arn:aws:x"))


@pytest.mark.parametrize("placeholder", [None, ...])
def test_workload_identity_placeholder_is_unanswered(il: IdentityLab, placeholder: object) -> None:
    assert check_workload_identity(il.lab, placeholder) is UNANSWERED


# -- Exercise 3 · a WAT for Bob (hands-on) ---------------------------------------------------
def test_bobs_wat_from_his_access_token_passes(il: IdentityLab) -> None:
    assert check_bob_wat(il.lab, il.wat_for("bob")).ok


def test_alices_wat_is_not_bobs(il: IdentityLab) -> None:
    hint = refused(check_bob_wat(il.lab, il.wat_for("alice")))
    assert "#user-1-alice'" in hint and "not Bob" in hint


def test_a_wat_from_a_user_id_is_the_vouched_for_kind(il: IdentityLab) -> None:
    wat = il.runtime.get_workload_access_token_for_user_id(
        workloadName="fitness-agent", userId="bob"
    )["workloadAccessToken"]
    hint = refused(check_bob_wat(il.lab, wat))
    assert "'id:bob'" in hint and "vouched for" in hint


def test_a_machine_wat_binds_no_user(il: IdentityLab) -> None:
    wat = il.runtime.get_workload_access_token(workloadName="fitness-agent")
    assert "bound to no user" in refused(check_bob_wat(il.lab, wat["workloadAccessToken"]))


def test_a_wat_of_another_workload_is_named(il: IdentityLab) -> None:
    il.control.create_workload_identity(name="billing-agent")
    operator = aws.client(
        "bedrock-agentcore", il.lab.agentcore.identity.data_server.url, aws.OPERATOR
    )  # the operator may act as any workload; the runtime's role may not
    try:
        wat = operator.get_workload_access_token_for_jwt(
            workloadName="billing-agent", userToken=il.access_token("bob")
        )["workloadAccessToken"]
        assert "'billing-agent'" in refused(check_bob_wat(il.lab, wat))
    finally:
        il.control.delete_workload_identity(name="billing-agent")


def test_an_altered_wat_fails(il: IdentityLab) -> None:
    wat = il.wat_for("bob")
    header, claims, signature = wat.split(".")
    altered = f"{header}.{claims}.{signature[::-1]}"
    assert "does not recognise" in refused(check_bob_wat(il.lab, altered))


def test_bobs_access_token_is_not_a_wat(il: IdentityLab) -> None:
    assert "does not recognise" in refused(check_bob_wat(il.lab, il.access_token("bob")))


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_bob_wat_malformed_answers_fail_without_raising(il: IdentityLab, junk: object) -> None:
    hint = refused(check_bob_wat(il.lab, junk))
    assert ("does not recognise" if isinstance(junk, str) else "as a string") in hint


def test_bob_wat_without_agentcore_fails_without_raising() -> None:
    assert "agentcore=True" in refused(check_bob_wat(NO_AGENTCORE, "eyJ.x.y"))


@pytest.mark.parametrize("placeholder", [None, ...])
def test_bob_wat_placeholder_is_unanswered(il: IdentityLab, placeholder: object) -> None:
    assert check_bob_wat(il.lab, placeholder) is UNANSWERED


def test_the_hands_on_checkers_are_marked() -> None:
    assert check_workload_identity.__dict__.get("hands_on") is True
    assert check_bob_wat.__dict__.get("hands_on") is True
    assert not check_wat_scenarios.__dict__.get("hands_on")


def test_an_expired_wat_fails(il: IdentityLab) -> None:
    """Last: it moves the module's lab clock past a WAT's 15 minutes."""
    wat = il.wat_for("bob")
    assert check_bob_wat(il.lab, wat).ok
    il.lab.clock.advance(16 * 60)
    assert "15 min" in refused(check_bob_wat(il.lab, wat))
