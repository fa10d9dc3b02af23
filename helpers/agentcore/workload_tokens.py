"""Workload access tokens (WATs): the emulator's proof of *which agent* acts *for whom*.

A real WAT is opaque to its holder. Ours is a JWT signed by the emulator, so the course
can decode it, but callers must treat it as opaque: only the emulator verifies it.
It binds one workload identity to one user (or to no user, for a machine-only agent).

Lifetime: 15 minutes — a WAT is minted per invocation by the runtime, so it only needs
to outlive one request; a leaked one is worth little.

A WAT minted from a user's JWT also lets the emulator find that JWT again, for
ON_BEHALF_OF_TOKEN_EXCHANGE. The JWT stays here, keyed by the WAT's ``jti`` and forgotten
when the WAT expires; it is never put inside the WAT, which its holder can decode.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from ..aws import ACCOUNT_ID
from ..clock import LabClock
from .directory import arn_for
from .errors import AwsError

WAT_TTL = 15 * 60
WAT_TYPE = "wat+jwt"


@dataclass(frozen=True)
class Workload:
    """What a verified WAT says: the workload and the user it is bound to."""

    name: str
    user: str | None  # "id:<user id>" or "jwt:<iss>#<sub>"; None for GetWorkloadAccessToken
    jti: str


def user_from_id(user_id: str) -> str:
    return f"id:{user_id}"


def user_from_jwt(issuer: str, subject: str) -> str:
    # Issuer and subject together: the same "sub" at two IdPs is two different people.
    return f"jwt:{issuer}#{subject}"


class WorkloadTokens:
    def __init__(
        self,
        issuer: str,
        clock: LabClock,
        key_file: Path | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.issuer, self.clock, self.account_id = issuer, clock, account_id
        self._key = _signing_key(key_file)
        self._user_tokens: dict[str, tuple[str, int]] = {}  # jti -> (user's JWT, WAT exp)
        self._lock = threading.Lock()

    def mint(self, workload: str, user: str | None, user_token: str | None = None) -> str:
        now = int(self.clock.now())
        claims = {
            "iss": self.issuer,
            "aud": arn_for("workload", workload, self.account_id),
            "workload": workload,
            "iat": now,
            "exp": now + WAT_TTL,
            "jti": uuid.uuid4().hex,
        }
        if user is not None:
            claims["user"] = user
        if user_token is not None:
            self._remember(claims["jti"], user_token, claims["exp"])
        return jwt.encode({"alg": "RS256", "typ": WAT_TYPE, "kid": "wat-1"}, claims, self._key)

    def _remember(self, jti: str, user_token: str, expires_at: int) -> None:
        now = self.clock.now()
        with self._lock:
            # Every mint sweeps out the tokens whose WATs expired: nothing outlives its WAT.
            self._user_tokens = {k: v for k, v in self._user_tokens.items() if v[1] > now}
            self._user_tokens[jti] = (user_token, expires_at)

    def user_token(self, workload: Workload) -> str | None:
        """The user's JWT behind a verified WAT; None without one, or once the WAT expired."""
        with self._lock:
            token, expires_at = self._user_tokens.get(workload.jti, (None, 0))
        return token if expires_at > self.clock.now() else None

    def verify(self, token: str) -> Workload:
        """The workload and user of a WAT we issued, or the error the data plane answers."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=["RS256"])
        except (JoseError, ValueError):
            raise _invalid(
                "The workload access token is malformed or its signature is invalid."
            ) from None
        claims, header = decoded.claims, decoded.header
        if header.get("typ") != WAT_TYPE or claims.get("iss") != self.issuer:
            raise _invalid("This is not a workload access token from this service.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self.clock.now():
            raise _invalid("The workload access token has expired.")
        return Workload(claims["workload"], claims.get("user"), claims["jti"])


def _signing_key(key_file: Path | None) -> RSAKey:
    """The emulator's WAT key; kept in its state directory, so WATs outlive a restart."""
    if key_file is not None and key_file.exists():
        return RSAKey.import_key(key_file.read_bytes(), parameters={"kid": "wat-1"})
    key = RSAKey.generate_key(2048, parameters={"kid": "wat-1"}, private=True)
    if key_file is not None:
        key_file.touch(mode=0o600)  # private from the first byte written
        key_file.write_bytes(key.as_pem(private=True))
    return key


def _invalid(message: str) -> AwsError:
    return AwsError("AccessDeniedException", message)
