"""Resource indicators (RFC 8707): the client names the API a token is for, by its URI.

Without ``resource`` the IdP infers a token's audience from its scopes (tokens.py); with
it, the token is bound to that one API and nothing else. An API is known here once its
operator registered it (``Store.add_resource``: the URI MCP clients learn from the API's
Protected Resource Metadata, and the audience it checks); any other URI is
``invalid_target``. The code remembers the resource of its authorization request: the token
request may repeat it but not change it, and neither may a refresh.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error

from .models import Store


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2 / RFC 8693 §2.2.2: no token for the resource or audience asked for."""

    error = "invalid_target"


def requested(datalist: dict[str, list[str]], store: Store) -> str | None:
    """The one registered resource a request names, None if it names none."""
    values = datalist.get("resource", [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidTargetError(description="One resource per token in this lab.")
    uri = values[0]
    parts = urlsplit(uri)
    if not (parts.scheme and parts.netloc) or parts.fragment or "#" in uri:
        raise InvalidTargetError(description="resource must be an absolute URI, no fragment.")
    if uri not in store.resources:
        raise InvalidTargetError(description=f"{uri!r} is not a resource this IdP knows.")
    return uri


def same_as_granted(datalist: dict[str, list[str]], store: Store, granted: str | None) -> None:
    """A token or refresh request may repeat the granted resource, never name another."""
    asked = requested(datalist, store)
    if asked is not None and asked != granted:
        raise InvalidTargetError(description="The grant was not made for this resource.")


class ResourceIndicator:
    """The authorization code grant's extension for RFC 8707, as authlib's PKCE one is."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, grant) -> None:  # noqa: ANN001 - authlib grant
        grant.register_hook("after_validate_authorization_request_payload", self.at_authorize)
        grant.register_hook("after_validate_token_request", self.at_token)

    def at_authorize(self, grant, redirect_uri: str) -> None:  # noqa: ANN001
        grant.request.resource = requested(grant.request.payload.datalist, self.store)

    def at_token(self, grant, result: object) -> None:  # noqa: ANN001
        granted = grant.request.authorization_code.resource
        same_as_granted(grant.request.payload.datalist, self.store, granted)
        grant.request.resource = granted
