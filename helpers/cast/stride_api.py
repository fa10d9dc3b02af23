"""Stride: a Strava-like fitness service of its own, with its own accounts.

Unlike the fitness API, Stride trusts nobody's tokens but those of its own authorization
server: an account at the lab IdP means nothing here. Alice has a Stride account as well
(another username, another password, another subject), and only she can let an app read
it, by consenting at Stride. That is the case token exchange cannot serve and USER_FEDERATION
can (notebook 05).
"""

from __future__ import annotations

from flask import Flask

from .fitness_api import activities_api
from .resource_server import ResourceServer

AUDIENCE = "stride-api"
SCOPE = "activity:read"  # Stride's own scope name: not the lab IdP's activities:read
ACTIVITIES_PATH = "/api/v3/athlete/activities"

# Stride athletes by Stride's own subject: its ids, not the lab IdP's.
ACTIVITIES = {
    "athlete-4417": [
        {"id": 9001, "sport": "trail run", "km": 14.5, "minutes": 88},
        {"id": 9002, "sport": "swim", "km": 1.5, "minutes": 35},
    ],
    "athlete-5082": [{"id": 9101, "sport": "gravel ride", "km": 61.0, "minutes": 150}],
}


def create_stride_api(resource_server: ResourceServer) -> Flask:
    return activities_api("lab-stride-api", resource_server, ACTIVITIES_PATH, ACTIVITIES, SCOPE)
