"""What a relying party fetches from an identity provider, fetched once and kept.

- :class:`Documents`: JSON documents by URL (OIDC discovery, RFC 8414 metadata), each
  read on first use and kept; :func:`endpoint_in` reads an endpoint out of one (a
  provider publishes its own paths there, no relying party may guess them);
- :class:`KeySet`: a JWKS (RFC 7517), kept until a token names a key it does not hold.
  Then it is fetched again, because the IdP may have rotated its keys; but at most once
  per :data:`REFETCH_INTERVAL_S`, so a flood of tokens with made-up ``kid`` values
  cannot become a flood of requests to the IdP;
- :func:`verify_with`: a verification that gets one more try with fresh keys.

Every service of the lab that checks tokens uses these, each with its own instances: a
cache belongs to one relying party, never to the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import requests

from .jwt_check import TokenRejected

REFETCH_INTERVAL_S = 30.0  # as long as jose's remote JWKS cool-down
FETCH_TIMEOUT_S = 5.0

T = TypeVar("T")


class FetchFailed(Exception):
    """The document could not be read: the IdP is down, or answered something else."""


def fetch_json(url: str, what: str) -> dict:
    """GET ``url`` and return its JSON object, or :class:`FetchFailed` in one sentence."""
    try:
        resp = requests.get(url, timeout=FETCH_TIMEOUT_S)
        resp.raise_for_status()
        document = resp.json()
    except requests.ConnectionError:
        raise FetchFailed(f"Could not reach {url} for the {what}: nothing answers there.") from None
    except (requests.RequestException, ValueError) as exc:
        raise FetchFailed(f"Could not read the {what} at {url} ({type(exc).__name__}).") from None
    if not isinstance(document, dict):
        raise FetchFailed(f"The {what} at {url} is not a JSON object.")
    return document


def endpoint_in(document: dict, field: str, url: str) -> str:
    """The endpoint ``field`` (``jwks_uri``, ...) of the discovery document read from
    ``url``, or :class:`FetchFailed` when the provider publishes none."""
    endpoint = document.get(field)
    if not isinstance(endpoint, str) or not endpoint:
        raise FetchFailed(f"The discovery document at {url} names no {field}.")
    return endpoint


class Documents:
    """JSON documents by URL, each fetched on first use and kept for this object's life."""

    def __init__(self, what: str = "discovery document") -> None:
        self.what = what
        self._by_url: dict[str, dict] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> dict:
        with self._lock:
            if url not in self._by_url:
                self._by_url[url] = fetch_json(url, self.what)
            return self._by_url[url]


class KeySet:
    """An IdP's JWKS as one relying party sees it: cached, refetched sparingly.

    ``url`` may be a callable, for a JWKS whose address comes from a discovery document
    that is itself only read when first needed.
    """

    def __init__(
        self,
        url: str | Callable[[], str],
        *,
        refetch_interval_s: float = REFETCH_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url if callable(url) else (lambda: url)
        self.refetch_interval_s = refetch_interval_s
        self._monotonic = monotonic
        self._jwks: dict | None = None
        self._last_refetch = -float("inf")
        self._lock = threading.Lock()
        self.fetches = 0  # requests made to the IdP, for tests and the curious

    def _fetch(self) -> dict:
        self.fetches += 1
        return fetch_json(self._url(), "identity provider's keys (JWKS)")

    def current(self) -> dict:
        """The keys as last fetched (fetching them the first time)."""
        with self._lock:
            if self._jwks is None:
                self._jwks = self._fetch()
            return self._jwks

    def refetch(self) -> bool:
        """Fetch again after an unknown ``kid``, unless that was done too recently."""
        with self._lock:
            now = self._monotonic()
            if now - self._last_refetch < self.refetch_interval_s:
                return False
            self._last_refetch = now
            self._jwks = self._fetch()
            return True


def verify_with(keys: KeySet, verify: Callable[[dict], T]) -> T:
    """``verify(jwks)``, tried once more with refetched keys when the ``kid`` is unknown."""
    try:
        return verify(keys.current())
    except TokenRejected as exc:
        if exc.reason != "unknown_kid" or not keys.refetch():
            raise
    return verify(keys.current())
