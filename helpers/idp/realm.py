"""What one authorization server is for: its name, the APIs its scopes open, who signs in.

The lab runs the same server code twice: as the course's identity provider, and as the
authorization server of Stride, a third-party fitness service with accounts of its own.
A realm is everything that differs between the two, injected as a deployment would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The scopes every realm serves, whatever its APIs: OIDC sign-in and refresh.
BASE_SCOPES = ("openid", "profile", "email", "offline_access")


@dataclass(frozen=True)
class Realm:
    name: str  # in every page title of this server
    # Scopes that grant access to an API, and that API's audience: RFC 9068 §3 lets the
    # server infer the resource from the scope (RFC 8707 ``resource`` may narrow it).
    apis: Mapping[str, str]
    # The line under the login form: whose accounts these are, and where the lab keeps
    # their passwords (fixtures, printed on purpose).
    accounts: str
    usernames: tuple[str, ...]
    passwords_in: str

    def audiences(self, scope: str) -> list[str]:
        """The APIs a token with ``scope`` is for, in a stable order."""
        return sorted({self.apis[s] for s in scope.split() if s in self.apis})

    def knows(self, audience: str) -> bool:
        return audience in self.apis.values()

    def invoking(self, audience: str) -> set[str]:
        """The scopes that let a client call ``audience`` for its user."""
        return {scope for scope, aud in self.apis.items() if aud == audience}

    @property
    def scopes(self) -> list[str]:
        return [*BASE_SCOPES, *self.apis]
