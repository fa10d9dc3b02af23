"""Notebook 05 · The request chain: worked solutions."""

import os

from helpers import aws
from helpers.exercises import (
    AUDIT_CLAIMS,
    Verdict,
    check_act_chain,
    check_chain_outcomes,
    check_exchanged_token,
)
from helpers.exercises.prerequisites import oauth2_provider_ready
from helpers.lab import Lab


def chain_outcomes(lab: Lab) -> Verdict:
    """Each token is good for its own audience only, and no exchange widens the scope or
    reaches an audience the identity provider does not know: not Stride's either, which
    only its own authorization server serves. A Stride consent lands in the vault only
    when the user signed in at the return page is the one who started it."""
    return check_chain_outcomes({1: "B", 2: "C", 3: "A", 4: "D", 5: "D", 6: "D", 7: "E", 8: "A"})


def exchanged_token(lab: Lab) -> Verdict:
    """Alice signs in at the frontend: her token is for the coach (aud fitness-agent). The
    coach's role trades it for a WAT of our own workload identity, fitness-agent
    (GetWorkloadAccessTokenForJWT: a runtime's identity gets WATs from its front door
    only), and asks AgentCore Identity for ON_BEHALF_OF_TOKEN_EXCHANGE at the provider
    whose client is the coach's own, for audience fitness-api and scope activities:read.
    The IdP mints a token for that one audience, still Alice's (sub), with the coach as
    the actor (act)."""
    name = "fitness-agent-obo"
    alice = lab.browser()
    alice.sign_in(lab.urls.frontend + "/login", "alice", "alice-lab-password")
    alice_token = lab.frontend.session_tokens(alice.session.cookies["frontend_session"])
    with oauth2_provider_ready(lab, name, "fitness-agent"):
        data_plane = os.environ["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
        coach_role = aws.client("bedrock-agentcore", data_plane, aws.AGENT_RUNTIME)
        coach_wat = coach_role.get_workload_access_token_for_jwt(
            workloadName="fitness-agent", userToken=alice_token["access_token"]
        )["workloadAccessToken"]
        answer = coach_role.get_resource_oauth2_token(
            workloadIdentityToken=coach_wat,
            resourceCredentialProviderName=name,
            oauth2Flow="ON_BEHALF_OF_TOKEN_EXCHANGE",
            scopes=["activities:read"],
            audiences=["fitness-api"],
        )
    return check_exchanged_token(lab, answer["accessToken"])


def act_chain(lab: Lab) -> Verdict:
    """Unwrap act from the outside in: the outermost sub is the current actor, the one
    that called the fitness API; each earlier actor sits inside the later one (RFC 8693
    §4.1). Read outside in, then reversed, gives the order of the calls. sub (the user) and
    aud (the receiver) are not actors."""
    outside_in = []
    act = AUDIT_CLAIMS.get("act")
    while isinstance(act, dict):
        outside_in.append(act["sub"])
        act = act.get("act")
    return check_act_chain(outside_in[::-1])
