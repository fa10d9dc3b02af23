"""Stride in the lab: its authorization server (the IdP's code, Stride's realm and
accounts) and its API, on 127.0.0.1, with the developer settings page an app owner uses.

Stride stands in for a third-party service such as Strava. Nothing about it is wired to
the lab IdP: its own athletes, its own signing keys, its own issuer. An app that wants to
read a Stride athlete's activities registers at Stride (a client id and secret, and the
redirect URI its authorization codes go to) and asks the athlete to consent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .aws_mode import Reachable
from .cast import stride_api
from .cast.resource_server import ResourceServer
from .clock import LabClock
from .horizon import Horizon
from .idp import seed
from .idp.app import IdentityProvider
from .idp.models import Client, User
from .idp.realm import Realm
from .masking import mask
from .serving import BackgroundServer, stop_together

REALM = Realm(
    name="Stride",
    apis={stride_api.SCOPE: stride_api.AUDIENCE},
    accounts="Stride athletes",
    usernames=("alice.runs", "bob.rides"),
    passwords_in="helpers/stride.py",
)
# The same people as the lab's users 1 and 2, with accounts that have nothing to do with
# theirs at the lab IdP: another username, password and subject.
ATHLETES = [
    User("athlete-4417", "alice.runs", "alice-stride-password", "Alice R.", "alice@example.com"),
    User("athlete-5082", "bob.rides", "bob-stride-password", "Bob C.", "bob@example.com"),
]
APP_SCOPE = f"offline_access {stride_api.SCOPE}"  # what a registered app may ask for


@dataclass(frozen=True)
class StrideApp:
    """What Stride's developer settings page shows an app's owner after registering."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        secret = mask(self.client_secret)
        return f"StrideApp(client_id={self.client_id!r}, client_secret={secret!r})"


class Stride:
    """Stride's authorization server and API, running; stop with :meth:`stop`."""

    def __init__(
        self, clock: LabClock, horizon: Horizon, reachable: Mapping[str, Reachable] = {}
    ) -> None:
        """``reachable``: where AWS reaches Stride's two servers (helpers.aws_mode), if
        anywhere; its issuer and API then have those URLs, as Stride's own would."""
        self.horizon = horizon
        auth, api = reachable.get("stride_auth"), reachable.get("stride_api")
        self._servers = {
            "as": BackgroundServer("stride-as", auth.port if auth else 0),
            "api": BackgroundServer("stride-api", api.port if api else 0),
        }
        self.issuer = auth.url if auth else self._servers["as"].url
        self._api_url = api.url if api else self._servers["api"].url
        self.idp = IdentityProvider(self.issuer, clock, REALM)
        for athlete in ATHLETES:
            self.idp.store.add_user(athlete)
        api_client = seed.resource_server_client(stride_api.AUDIENCE, "Stride API")
        self.idp.store.add_client(api_client)
        api = stride_api.create_stride_api(
            ResourceServer(
                name=stride_api.AUDIENCE,
                audience=stride_api.AUDIENCE,
                issuer=self.issuer,
                discovery_url=self.discovery,
                introspection_auth=(api_client.client_id, api_client.client_secret),
                clock=clock,
            )
        )
        self._servers["as"].start(self.idp.app)
        self._servers["api"].start(api)
        for server in self._servers.values():
            server.wait_ready()

    @property
    def discovery(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def activities_url(self) -> str:
        return self._api_url + stride_api.ACTIVITIES_PATH

    # -- the developer settings page ---------------------------------------------
    def register_app(self, name: str) -> StrideApp:
        """A new app at Stride: a confidential client for the authorization code grant."""
        app = StrideApp(f"stride-app-{len(self.idp.store.clients)}", seed.new_secret())
        self.idp.store.add_client(
            Client(
                app.client_id,
                app.client_secret,
                name,
                [],  # no redirect URI until the owner adds one: no code goes anywhere
                ["authorization_code", "refresh_token"],
                APP_SCOPE,
            )
        )
        return app

    def allow_redirect(self, client_id: str, redirect_uri: str) -> list[str]:
        """Add the URL an app's authorization codes may go to (as seen from the learner's
        browser too); returns the app's redirect URIs."""
        client = self.idp.store.clients[client_id]
        for uri in self.horizon.both(redirect_uri):
            if uri not in client.redirect_uris:
                client.redirect_uris.append(uri)
        return client.redirect_uris

    def stop(self) -> None:
        stop_together(self._servers.values())
