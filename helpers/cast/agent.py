"""The fitness-coach agent's HTTP endpoint: it only answers callers with a valid token.

In notebooks 03+ the same agent runs behind the AgentCore-style runtime front door; here
it is the plain resource server the frontend calls in step 5 of the login flow.
"""

from __future__ import annotations

from flask import Flask, g, jsonify, request

from ..web import harden
from . import audiences
from .resource_server import ResourceServer

AUDIENCE = audiences.AGENT


def create_agent(resource_server: ResourceServer) -> Flask:
    app = harden(Flask("lab-agent"))
    app.add_url_rule("/healthz", endpoint="healthz", view_func=lambda: "ok")

    @app.post("/invocations")
    @resource_server.protect("agent:invoke")
    def invoke():  # noqa: ANN202
        prompt = (request.get_json(silent=True) or {}).get("prompt", "")
        claims = g.claims
        return jsonify(
            acting_for=claims["sub"],
            via_client=claims["client_id"],
            scopes=claims["scope"].split(),
            reply=f"Coach here. You asked: {prompt!r}. I will plan your week.",
        )

    return app
