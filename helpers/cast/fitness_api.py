"""A Strava-like fitness API: the downstream resource every agent wants to reach."""

from __future__ import annotations

from flask import Flask, g, jsonify

from ..web import harden
from . import audiences
from .resource_server import ResourceServer

AUDIENCE = audiences.FITNESS_API
ACTIVITIES_PATH = "/v1/athlete/activities"

ACTIVITIES = {
    "user-1-alice": [
        {"id": 101, "type": "run", "km": 10.2, "minutes": 52},
        {"id": 102, "type": "run", "km": 5.0, "minutes": 24},
    ],
    "user-2-bob": [{"id": 201, "type": "ride", "km": 42.0, "minutes": 95}],
}


def create_fitness_api(resource_server: ResourceServer) -> Flask:
    return activities_api("lab-fitness-api", resource_server, ACTIVITIES_PATH, ACTIVITIES)


def activities_api(
    name: str,
    resource_server: ResourceServer,
    path: str,
    activities: dict[str, list[dict]],
    scope: str = "activities:read",
) -> Flask:
    """An API with one endpoint: the activities of the athlete the bearer token names."""
    app = harden(Flask(name))
    app.add_url_rule("/healthz", endpoint="healthz", view_func=lambda: "ok")

    @app.get(path)
    @resource_server.protect(scope)
    def athlete_activities():  # noqa: ANN202
        # The token's subject decides whose data comes back: never a query parameter.
        athlete = g.claims["sub"]
        return jsonify(athlete=athlete, activities=activities.get(athlete, []))

    return app
