"""Dynamic client registration (RFC 7591), as MCP clients use it: open, and narrow.

An MCP client meets the lab's MCP server with no prior arrangement, so it registers itself
here (authlib's endpoint). Anyone may register, which is the point and the risk, so a
self-registered client gets little:
- it is public (``none``): no secret to keep, PKCE protects its codes; asking for a
  secret-based method is refused, omitting the method registers a public client (the
  server may substitute metadata, RFC 7591 §3.2.1);
- its redirect URIs are loopback ``http`` or ``https`` (RFC 8252 §7.3, native apps);
- it may ask for ``SELF_REGISTERED_SCOPE`` only: reading activities, never acting as the
  agent; and its consent page says that its name is its own claim.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint, InvalidClientMetadataError
from authlib.oauth2.rfc7591.errors import InvalidRedirectURIError

from ..clock import LabClock
from .models import Client, Store

SELF_REGISTERED_SCOPE = "openid profile offline_access activities:read"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
USER_GRANTS = {"authorization_code", "refresh_token"}


class OpenRegistration(ClientRegistrationEndpoint):
    """RFC 7591 without an initial access token, for public clients only."""

    def __init__(self, store: Store, clock: LabClock, metadata: dict) -> None:
        super().__init__()
        self.store, self.clock, self.metadata = store, clock, metadata

    def authenticate_token(self, request) -> bool:  # noqa: ANN001 - authlib request
        return True  # open registration: who registers is not known, hence the limits

    def get_server_metadata(self) -> dict:
        return self.metadata

    def generate_client_info(self, request) -> dict:  # noqa: ANN001
        # A public client: no secret, so none to expire (RFC 7591 §3.2.1). Its id is no
        # secret either: numbered, so that a notebook's outputs repeat.
        with self.store.lock:
            number = 1 + sum(c.self_registered for c in self.store.clients.values())
            self.store.add_client(_reserved(f"mcp-client-{number}"))
        return {"client_id": f"mcp-client-{number}", "client_id_issued_at": int(self.clock.now())}

    def extract_client_metadata(self, request) -> dict:  # noqa: ANN001
        """authlib's checks of the metadata, then the lab's limits, before anything is made."""
        metadata = super().extract_client_metadata(request)
        _check_public(request.payload.data)
        _check_redirect_uris(metadata.get("redirect_uris") or [])
        scope = metadata.get("scope") or SELF_REGISTERED_SCOPE
        if not set(scope.split()) <= set(SELF_REGISTERED_SCOPE.split()):
            raise InvalidClientMetadataError(
                f"A self-registered client may ask for {SELF_REGISTERED_SCOPE!r} at most."
            )
        grant_types = metadata.get("grant_types") or ["authorization_code"]
        if not set(grant_types) <= USER_GRANTS:
            raise InvalidClientMetadataError(f"grant_types: only {sorted(USER_GRANTS)}.")
        return {
            **metadata,
            "token_endpoint_auth_method": "none",
            "scope": scope,
            "grant_types": grant_types,
        }

    def save_client(self, client_info: dict, client_metadata: dict, request) -> Client:  # noqa: ANN001
        client = Client(
            client_id=client_info["client_id"],
            client_secret="",
            client_name=client_metadata.get("client_name") or client_info["client_id"],
            redirect_uris=client_metadata["redirect_uris"],
            grant_types=client_metadata["grant_types"],
            scope=client_metadata["scope"],
            token_endpoint_auth_method="none",
            self_registered=True,
        )
        self.store.add_client(client)
        return client


def _check_public(sent: dict) -> None:
    method = sent.get("token_endpoint_auth_method", "none")
    if method != "none":
        raise InvalidClientMetadataError(
            "Self-registered clients are public: token_endpoint_auth_method must be 'none'."
        )


def _check_redirect_uris(uris: list[str]) -> None:
    if not uris:
        raise InvalidRedirectURIError("Register at least one redirect URI.")
    for uri in uris:
        parts = urlsplit(uri)
        loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if not (loopback or parts.scheme == "https") or parts.fragment:
            raise InvalidRedirectURIError(
                f"{uri!r}: a self-registered client redirects to loopback http or https."
            )


def _reserved(client_id: str) -> Client:
    """A placeholder that holds the id until ``save_client`` replaces it: it can do nothing
    (no redirect URI, no grant)."""
    return Client(client_id, "", client_id, [], [], "", "none", self_registered=True)
