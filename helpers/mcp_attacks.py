"""The attacker's side of notebook 10: a rogue authorization server and altered metadata.

``RogueServer`` is a perfectly good authorization server, the lab IdP's own code, that
belongs to the attacker: a phishing copy of the login page, a user "alice" of its own, and
it mints tokens for the MCP runtime's URL as readily as the real one. ``PointedAt`` is
whoever alters the runtime's Protected Resource Metadata on its way to the client, so that
it names the rogue server. The MCP client cannot tell; the runtime can: it trusts the
issuer of its own authorizer's discovery URL, and nobody else's tokens.
"""

from __future__ import annotations

import json

import httpx2

from .clock import LabClock
from .idp.app import IdentityProvider
from .idp.seed import REALM, USERS
from .serving import BackgroundServer


class RogueServer:
    """An authorization server of the attacker's, on 127.0.0.1, for ``resource``."""

    def __init__(self, resource: str, audience: str) -> None:
        self._server = BackgroundServer("rogue-as")
        self.issuer = self._server.url
        self.idp = IdentityProvider(self.issuer, LabClock(), REALM)  # a copy, down to its pages
        alice = USERS[0]
        self.idp.store.add_user(alice)  # her name and password, phished
        self.idp.store.add_resource(resource, audience)
        self._server.start(self.idp.app)

    def __enter__(self) -> RogueServer:
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()


class PointedAt(httpx2.AsyncHTTPTransport):
    """A transport whose Protected Resource Metadata names ``issuer`` as the runtime's
    authorization server: what a client sees when someone altered it on the way."""

    def __init__(self, issuer: str) -> None:
        super().__init__()
        self.issuer = issuer

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await super().handle_async_request(request)
        if "/.well-known/oauth-protected-resource" not in request.url.path:
            return response
        metadata = json.loads(await response.aread())
        return httpx2.Response(200, json=metadata | {"authorization_servers": [self.issuer]})
