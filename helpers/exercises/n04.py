"""Check yourself, notebook 04 · Outbound tokens and the vault."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from .. import aws
from ..jwks import FetchFailed
from ..jwt_check import TokenRejected, decode_unverified
from .base import (
    UNANSWERED,
    Verdict,
    check_lettered,
    hands_on,
    judged,
    lacking,
    show_lettered,
    unanswered,
    verdict,
)

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = [
    "VAULT_CHOICES",
    "VAULT_SCENARIOS",
    "check_m2m_token",
    "check_vault_key",
    "check_vault_outcomes",
    "show_vault_scenarios",
]


# What GetResourceOauth2Token (or the return page) answers (notebook 04).
VAULT_CHOICES = {
    "A": "an access token, straight away",
    "B": "an authorization URL: a user must consent first",
    "C": "AccessDeniedException: nothing is handed out or stored",
}
VAULT_SCENARIOS = {
    "1": "M2M flow, with the agent's own WAT (no user).",
    "2": "USER_FEDERATION with Alice's WAT, before she ever consented.",
    "3": "USER_FEDERATION with Alice's WAT, after she consented.",
    "4": "USER_FEDERATION with Bob's WAT, after Alice (not Bob) consented.",
    "5": "Bob, signed in as himself, finishes the authorization URL of Alice's session.",
    "6": "USER_FEDERATION with Alice's WAT while the vault's KMS key is disabled.",
}
_VAULT_KEY = {"1": "A", "2": "B", "3": "A", "4": "B", "5": "C", "6": "C"}


def show_vault_scenarios() -> None:
    show_lettered(VAULT_CHOICES, VAULT_SCENARIOS)


def check_vault_outcomes(answers: object) -> Verdict:
    """04: match each scenario to what AgentCore Identity answers (a letter each)."""
    return check_lettered(
        answers,
        _VAULT_KEY,
        "You know what the vault hands out, to whom, and when it fails closed.",
        "a record belongs to one workload, one user and one provider",
    )


# -- shared by the hands-on checkers -----------------------------------------------------
def token_form_hint(token: object, what: str) -> Verdict | None:
    """A hint when ``token`` is not a JWT string at all; None when it looks like one."""
    if isinstance(token, dict):
        return verdict(False, "", f"hand over the token itself, not the whole response: {what}.")
    if not isinstance(token, str):
        return verdict(False, "", f"hand over the access token as a string: {what}.")
    try:
        decode_unverified(token)
    except TokenRejected as exc:
        return verdict(
            False, "", f"that is not an access token ({exc.explanation}) Hand over {what}."
        )
    return None


def judged_token(
    lab: Lab, token: object, form: str, judge: Callable[[Lab, str], Verdict]
) -> Verdict:
    """A token exercise's verdict: unanswered, not a token (``form`` says what is wanted),
    or ``judge``'s."""
    if unanswered(token):
        return UNANSWERED
    malformed = token_form_hint(token, form)
    if malformed is not None:
        return malformed
    return judged(judge, "token", lab, token)


def fitness_api_refusal(lab: Lab, token: str) -> str | None:
    """Why the fitness API would refuse ``token`` for GET activities, or None if it takes it.

    The API's own check: signature, iss, aud, typ, time, scope, then introspection.
    """
    try:
        lab.fitness_rs.check(token, "activities:read")
    except TokenRejected as exc:
        return f"the fitness API refuses this token: {exc.explanation}"
    except (FetchFailed, requests.RequestException):
        return "the lab did not answer: is it still running? If not, re-run the first cell."
    return None


# -- exercise 2: an M2M token --------------------------------------------------------------
OUTBOUND_CLIENT = "agentcore-outbound"  # helpers.agentcore.lab_part.OUTBOUND_CLIENT_ID
_M2M_FORM = "the string in the accessToken field of GetResourceOauth2Token's answer"


@hands_on
def check_m2m_token(lab: Lab, token: object) -> Verdict:
    """04: get an M2M token through the credential provider with the agent's own WAT."""
    return judged_token(lab, token, _M2M_FORM, _judge_m2m_token)


def _judge_m2m_token(lab: Lab, token: str) -> Verdict:
    if (missing := lacking(lab, "idp")) is not None:
        return missing
    refused = fitness_api_refusal(lab, token)
    if refused:
        return verdict(False, "", refused)
    claims = decode_unverified(token)[1]
    sub, client = claims.get("sub"), claims.get("client_id")
    if sub in lab.idp.store.users:
        return verdict(
            False,
            "",
            f"this token acts for the user {sub!r}. An M2M token acts for no user, only for"
            " the app itself: ask with oauth2Flow='M2M' and a WAT bound to no user"
            " (GetWorkloadAccessToken).",
        )
    return verdict(
        client == OUTBOUND_CLIENT and sub == OUTBOUND_CLIENT,
        "The fitness API takes it, and answers for the app itself (athlete"
        f" {OUTBOUND_CLIENT}): no user in it, and the agent never saw a client secret.",
        f"this token was issued to the client {client!r}, not fetched by AgentCore Identity:"
        " ask GetResourceOauth2Token for it, at the credential provider of section 1.",
    )


# -- exercise 3: a new customer managed key for the vault ----------------------------------
_KEY_ARN = re.compile(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")
_RETIRED = ("Disabled", "PendingDeletion")


def _kms(lab: Lab):  # noqa: ANN202 - a boto3 KMS client
    return aws.client("kms", lab.agentcore.moto.url, aws.OPERATOR, lab.botocore_loader)


@hands_on
def check_vault_key(lab: Lab, key_arn: object) -> Verdict:
    """04: move the token vault to a new customer managed key and retire the old one."""
    if unanswered(key_arn):
        return UNANSWERED
    if (missing := lacking(lab, "agentcore")) is not None:
        return missing
    if not isinstance(key_arn, str) or not _KEY_ARN.fullmatch(key_arn.strip()):
        return verdict(
            False,
            "",
            "hand over the new key's ARN as a string, arn:aws:kms:<region>:<account>:key/<id>"
            " (create_key answers it in KeyMetadata['Arn']), not a key id, an alias or a dict.",
        )
    return judged(_judge_vault_key, "key", lab, key_arn.strip())


def _judge_vault_key(lab: Lab, key_arn: str) -> Verdict:
    from botocore.exceptions import ClientError

    kms = _kms(lab)
    try:
        state = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    except ClientError:
        return verdict(
            False, "", "the lab's KMS has no key with this ARN: create one with kms.create_key."
        )
    if state != "Enabled":
        return verdict(
            False,
            "",
            f"this key is {state}: a vault whose key is not Enabled fails closed. Retire the"
            " old key, and keep the new one Enabled.",
        )
    if not kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]:
        return verdict(
            False, "", "automatic rotation is off for this key: turn it on, as section 6 did."
        )
    config = lab.agentcore.identity.vault.describe()["kmsConfiguration"]
    if config.get("kmsKeyArn") != key_arn:
        which = "another KMS key" if "kmsKeyArn" in config else "a service managed key"
        return verdict(
            False,
            "",
            f"the token vault does not use this key: its kmsConfiguration still names {which}."
            " Point the vault at the new key (control.set_token_vault_cmk).",
        )
    others = [k["KeyArn"] for k in kms.list_keys()["Keys"] if k["KeyArn"] != key_arn]
    retired = [
        a for a in others if kms.describe_key(KeyId=a)["KeyMetadata"]["KeyState"] in _RETIRED
    ]
    return verdict(
        bool(retired),
        "The vault runs on the new key; the old one is retired, and nothing was lost: every"
        " data key was re-wrapped, no record re-encrypted.",
        "the vault uses this key, but no key it used before is retired. Move the vault to a"
        " new key, then disable the old one (kms.disable_key) and see that Alice's read"
        " still works.",
    )
