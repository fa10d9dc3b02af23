"""Notebook 09 · Choosing a pattern: worked solutions."""

import time

import boto3

from helpers.exercises import (
    ROTATION_SECRET,
    Verdict,
    check_pattern_choices,
    check_rotation_delivered,
)
from helpers.lab import Lab
from helpers.secrets.compare import direct_api_app, new_key


def pattern_choices(lab: Lab) -> Verdict:
    """Rotation without redeploy on AgentCore: an API call; EKS without an SDK: a volume;
    a yearly key shipped with each release, and a job deployed per run: deploy time; a
    user's OAuth token: the token vault."""
    return check_pattern_choices({1: "C", 2: "B", 3: "A", 4: "D", 5: "A"})


def rotation_delivered(lab: Lab) -> Verdict:
    """Rotate in the store only, and keep reading through the agent: within the TTL its
    cache serves the old key; the first read past it still does (stale-while-revalidate)
    while one refresh runs in the background; the reads after that have the new key. No
    redeploy, no change to the agent."""
    sm = boto3.client("secretsmanager")  # the operator's client
    sm.create_secret(Name=ROTATION_SECRET, SecretString=new_key())  # the setup cell
    agent_key = direct_api_app(ROTATION_SECRET, ttl=0.25)
    agent_key()  # the agent's cache now holds the first key

    rotated = new_key()
    sm.put_secret_value(SecretId=ROTATION_SECRET, SecretString=rotated)
    deadline = time.monotonic() + 5
    while (delivered := agent_key()) != rotated and time.monotonic() < deadline:
        time.sleep(0.05)
    return check_rotation_delivered(lab, delivered)
