"""A user's consent that only the user can give: the authorization URL goes back to them.

With USER_FEDERATION, AgentCore Identity answers a first request for a user's token with an
authorization URL instead. The SDK's ``@requires_access_token`` would then poll Identity
every 5 s for up to 10 minutes while the user consents; a request/response service (the
coach, the MCP server) hands the URL to its caller instead, and is asked again afterwards.
"""

from __future__ import annotations


class ConsentRequired(Exception):
    """AgentCore Identity has no token for this user yet: they must consent at ``url`` first."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def hand_back(url: str) -> None:
    """``on_auth_url`` for ``@requires_access_token``: stop, and let the caller show ``url``."""
    raise ConsentRequired(url)
