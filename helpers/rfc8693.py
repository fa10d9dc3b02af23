"""OAuth 2.0 Token Exchange (RFC 8693): its registered names, and the client's request.

Shared by the IdP, which grants exchanges, and by every client that asks for one (the
AgentCore emulator on an agent's behalf, the tests): the protocol, not either party.
"""

from __future__ import annotations

from authlib.integrations.requests_client import OAuth2Session

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def exchange(
    oauth: OAuth2Session, token_endpoint: str, subject_token: str, scopes: list[str], **target: str
) -> dict:
    """Trade ``subject_token`` for a token to ``audience=`` (or ``resource=``)."""
    return oauth.fetch_token(
        token_endpoint,
        grant_type=GRANT_TYPE,
        subject_token=subject_token,
        subject_token_type=ACCESS_TOKEN_TYPE,
        scope=" ".join(scopes),
        **target,
    )
