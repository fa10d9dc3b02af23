"""The IdP's signing keys: one current RS256 key, older ones kept public for verification.

Rotation is a lever the course pulls to show why verifiers look keys up by ``kid``:
tokens signed before a rotation stay valid while their key is still published.
"""

from __future__ import annotations

import itertools
import threading

from joserfc.jwk import KeySet, RSAKey


class KeyRing:
    def __init__(self) -> None:
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._keys: list[RSAKey] = []
        self.rotate()

    def _new_key(self) -> RSAKey:
        kid = f"lab-key-{next(self._serial)}"
        return RSAKey.generate_key(
            2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True
        )

    @property
    def current(self) -> RSAKey:
        return self._keys[-1]

    @property
    def current_kid(self) -> str:
        return self.current.kid

    def rotate(self, keep_previous: bool = True) -> str:
        """Start signing with a fresh key; optionally stop publishing the old ones."""
        key = self._new_key()
        with self._lock:
            self._keys = [*self._keys, key] if keep_previous else [key]
        return key.kid

    def jwks(self) -> dict:
        """The public half of every published key, as served at the JWKS endpoint."""
        return KeySet(list(self._keys)).as_dict(private=False)
