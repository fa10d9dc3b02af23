"""The AgentCore token vault: OAuth2 tokens and API keys, sealed at rest by envelope encryption.

Every record is encrypted with AES-256-GCM under a data key of its own. The data key is
stored only wrapped by the vault's key: a service key the vault owns (ServiceManagedKey),
or the customer's KMS key (CustomerManagedKey). Both layers bind the record's identity
(vault, kind, workload, user, provider), as GCM associated data and as KMS encryption
context, so a ciphertext copied into another row does not decrypt. Changing the vault's
key re-wraps the data keys; the records themselves are never re-encrypted.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..aws import ACCOUNT_ID, REGION
from ..clock import LabClock

VAULT_ID = "default"
SERVICE_MANAGED = "ServiceManagedKey"
CUSTOMER_MANAGED = "CustomerManagedKey"

_OAUTH2 = "oauth2-token"
_API_KEY = "api-key"
_SERVICE_REF = "service:"  # key_ref prefix of service keys; anything else is a KMS key ARN
_NONCE_BYTES = 12
# The region is captured so a key from another region gets its own message; a multi-Region
# key id (mrk-...) passes here and is refused by what describe_key says about it.
_KEY_ARN = re.compile(r"arn:aws:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[A-Za-z0-9-]+")

_WHERE = "kind = ? AND workload = ? AND user_id = ? AND provider = ?"  # one record
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, workload TEXT NOT NULL, user_id TEXT NOT NULL, provider TEXT NOT NULL,
    sealed BLOB NOT NULL,       -- nonce || AES-GCM(record) under the record's data key
    wrapped_key BLOB NOT NULL,  -- the data key, wrapped by the key that key_ref names
    key_ref TEXT NOT NULL,      -- "service:<id>" or a KMS key ARN
    updated REAL NOT NULL,
    PRIMARY KEY (kind, workload, user_id, provider)
);
CREATE TABLE IF NOT EXISTS config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    kms_key_arn TEXT,           -- NULL: service managed
    service_key_id TEXT NOT NULL,
    modified REAL NOT NULL
);
"""


class VaultError(Exception):
    """Anything the token vault refuses to do."""


class VaultConfigError(VaultError):
    """A KMS configuration the real service rejects (it answers ValidationException)."""


class VaultKeyUnavailable(VaultError):
    """The key that wraps the data keys cannot be used right now: the vault fails closed."""


class VaultIntegrityError(VaultError):
    """A record does not decrypt under its own identity: it was altered or moved."""


@dataclass(frozen=True)
class _Slot:
    """Where a record lives; API keys belong to a provider, so workload and user are empty."""

    vault: str  # the vault's ARN
    kind: str
    workload: str
    user: str
    provider: str

    def context(self) -> dict[str, str]:
        """The KMS encryption context; serialized, also the AES-GCM associated data."""
        # The vault ARN key is the one AgentCore's documented key policy conditions on.
        ctx = {
            "aws-crypto-ec:aws:bedrock-agentcore-identity:token-vault-arn": self.vault,
            "kind": self.kind,
            "credentialProvider": self.provider,
        }
        if self.kind == _OAUTH2:
            ctx |= {"workloadIdentity": self.workload, "userId": self.user}
        return ctx

    def aad(self) -> bytes:
        return json.dumps(self.context(), sort_keys=True, separators=(",", ":")).encode()

    def where(self) -> tuple[str, str, str, str]:
        return (self.kind, self.workload, self.user, self.provider)

    def __str__(self) -> str:
        if self.kind == _API_KEY:
            return f"API key of provider {self.provider!r}"
        return f"OAuth2 token of user {self.user!r} ({self.workload!r}, {self.provider!r})"


class _WrappingKey(Protocol):
    ref: str

    def check_usable(self) -> None: ...

    def new_data_key(self, slot: _Slot) -> tuple[bytes, bytes]: ...

    def wrap(self, data_key: bytes, slot: _Slot) -> bytes: ...

    def unwrap(self, wrapped: bytes, slot: _Slot) -> bytes: ...


def _seal(key: bytes, plaintext: bytes, slot: _Slot) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, slot.aad())


def _open(key: bytes, sealed: bytes, slot: _Slot, layer: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], slot.aad())
    except InvalidTag:
        raise VaultIntegrityError(
            f"{slot}: the {layer} does not decrypt for this row (altered, or copied from another)"
        ) from None


class _ServiceKey:
    """A 32-byte AES key in a file of its own, outside the database it protects."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ref = f"{_SERVICE_REF}{path.stem}"

    @classmethod
    def create(cls, key_dir: Path) -> _ServiceKey:
        key_dir.mkdir(parents=True, exist_ok=True)
        path = key_dir / f"{uuid.uuid4().hex}.key"
        # Owner-only from its creation: the key is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(AESGCM.generate_key(bit_length=256))
        return cls(path)

    def _material(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            raise VaultKeyUnavailable(f"service key {self.ref} is missing ({self.path})") from None

    def check_usable(self) -> None:
        self._material()

    def new_data_key(self, slot: _Slot) -> tuple[bytes, bytes]:
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self.wrap(data_key, slot)

    def wrap(self, data_key: bytes, slot: _Slot) -> bytes:
        return _seal(self._material(), data_key, slot)

    def unwrap(self, wrapped: bytes, slot: _Slot) -> bytes:
        return _open(self._material(), wrapped, slot, "wrapped data key")


class _KmsKey:
    """A customer managed KMS key, used the way the service uses it: by ARN, with context."""

    def __init__(self, kms: BaseClient, arn: str) -> None:
        self._kms = kms
        self.ref = arn

    def metadata(self) -> dict[str, Any]:
        try:
            return self._kms.describe_key(KeyId=self.ref)["KeyMetadata"]
        except ClientError as exc:
            raise VaultKeyUnavailable(f"KMS key {self.ref}: {_error_code(exc)}") from exc

    def check_usable(self) -> None:
        # moto keeps encrypting and decrypting with a Disabled or PendingDeletion key; real
        # KMS refuses, so the vault looks at the key state itself before every use.
        state = self.metadata()["KeyState"]
        if state != "Enabled":
            raise VaultKeyUnavailable(
                f"KMS key {self.ref} is {state}: the token vault cannot encrypt or decrypt"
                " with it until it is Enabled"
            )

    def new_data_key(self, slot: _Slot) -> tuple[bytes, bytes]:
        resp = self._call("generate_data_key", KeySpec="AES_256", EncryptionContext=slot.context())
        return resp["Plaintext"], resp["CiphertextBlob"]

    def wrap(self, data_key: bytes, slot: _Slot) -> bytes:
        resp = self._call("encrypt", Plaintext=data_key, EncryptionContext=slot.context())
        return resp["CiphertextBlob"]

    def unwrap(self, wrapped: bytes, slot: _Slot) -> bytes:
        try:
            resp = self._kms.decrypt(
                KeyId=self.ref, CiphertextBlob=wrapped, EncryptionContext=slot.context()
            )
        except ClientError as exc:
            if _error_code(exc) != "InvalidCiphertextException":
                raise VaultKeyUnavailable(
                    f"KMS decrypt with {self.ref}: {_error_code(exc)}"
                ) from exc
            raise VaultIntegrityError(
                f"{slot}: KMS refuses the wrapped data key for this row (altered, or copied"
                " from another)"
            ) from exc
        return resp["Plaintext"]

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(self._kms, operation)(KeyId=self.ref, **params)
        except ClientError as exc:
            raise VaultKeyUnavailable(
                f"KMS {operation} with {self.ref}: {_error_code(exc)}"
            ) from exc


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "error")


class TokenVault:
    """The "default" token vault over one SQLite file; safe to share between threads."""

    def __init__(
        self,
        db_path: Path,
        clock: LabClock,
        kms: BaseClient | None = None,
        service_key_dir: Path | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.arn = f"arn:aws:bedrock-agentcore:{REGION}:{account_id}:token-vault/{VAULT_ID}"
        self._clock = clock
        self._kms = kms
        self._key_dir = service_key_dir or db_path.parent / "token-vault-keys"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(db_path, check_same_thread=False)
        with self._lock:
            self._db.executescript(_SCHEMA)
            if self._config() is None:
                key_id = _ServiceKey.create(self._key_dir).path.stem
                with self._db:
                    self._db.execute(
                        "INSERT INTO config VALUES (1, NULL, ?, ?)", (key_id, clock.now())
                    )

    # -- OAuth2 tokens, per (workload identity, user, provider) ----------------------
    def put_oauth2_token(self, workload: str, user: str, provider: str, token: dict) -> None:
        """Store ``token`` (access_token, refresh_token, expires_at, scopes: any JSON)."""
        self._put(_Slot(self.arn, _OAUTH2, workload, user, provider), json.dumps(token).encode())

    def get_oauth2_token(self, workload: str, user: str, provider: str) -> dict | None:
        plaintext = self._get(_Slot(self.arn, _OAUTH2, workload, user, provider))
        return None if plaintext is None else json.loads(plaintext)

    def delete_oauth2_token(self, workload: str, user: str, provider: str) -> bool:
        return self._delete(_Slot(self.arn, _OAUTH2, workload, user, provider))

    def entries_for(self, workload: str, user: str) -> list[str]:
        """The providers holding a token for this workload and user (names only)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT provider FROM records WHERE kind = ? AND workload = ? AND user_id = ?"
                " ORDER BY provider",
                (_OAUTH2, workload, user),
            ).fetchall()
        return [provider for (provider,) in rows]

    # -- API keys, per provider --------------------------------------------------------
    def put_api_key(self, provider: str, api_key: str) -> None:
        self._put(_Slot(self.arn, _API_KEY, "", "", provider), api_key.encode())

    def get_api_key(self, provider: str) -> str | None:
        plaintext = self._get(_Slot(self.arn, _API_KEY, "", "", provider))
        return None if plaintext is None else plaintext.decode()

    def delete_api_key(self, provider: str) -> bool:
        return self._delete(_Slot(self.arn, _API_KEY, "", "", provider))

    # -- the vault's key ----------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """GetTokenVault's answer."""
        kms_key_arn, _, modified = self._config()
        if kms_key_arn is None:
            kms_configuration = {"keyType": SERVICE_MANAGED}
        else:
            kms_configuration = {"keyType": CUSTOMER_MANAGED, "kmsKeyArn": kms_key_arn}
        return {
            "tokenVaultId": VAULT_ID,
            "kmsConfiguration": kms_configuration,
            "lastModifiedDate": datetime.fromtimestamp(modified, UTC),
        }

    def set_cmk(self, key_arn: str) -> None:
        """Encrypt with the customer's KMS key from now on; every data key is re-wrapped."""
        with self._lock:
            key = self._validated_cmk(key_arn)
            self._switch_to(key, kms_key_arn=key_arn, service_key_id=self._config()[1])

    def set_service_managed(self) -> None:
        with self._lock:
            key_id = self._config()[1]
            self._switch_to(self._service_key(key_id), kms_key_arn=None, service_key_id=key_id)

    def reset_key_material(self) -> None:
        """ResetTokenVaultKeyMaterial: a new service key, every data key re-wrapped under it."""
        with self._lock:
            kms_key_arn, old_id, _ = self._config()
            if kms_key_arn is not None:
                raise VaultConfigError(
                    "the token vault uses a customer managed key: rotate it in KMS instead"
                )
            new = _ServiceKey.create(self._key_dir)
            self._switch_to(new, kms_key_arn=None, service_key_id=new.path.stem)
            # Only once nothing refers to it: a crash before this leaves a spare file, no loss.
            self._service_key(old_id).path.unlink(missing_ok=True)

    # -- what an operator with database access sees -----------------------------------
    def raw_rows(self) -> list[dict[str, Any]]:
        """Every row as stored: ciphertext and wrapped data key in base64, never plaintext."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, workload, user_id, provider, sealed, wrapped_key, key_ref, updated"
                " FROM records ORDER BY kind, workload, user_id, provider"
            ).fetchall()
        return [
            {
                "kind": kind,
                "workloadIdentity": workload,
                "userId": user,
                "credentialProvider": provider,
                "ciphertext": base64.b64encode(sealed).decode(),
                "wrappedDataKey": base64.b64encode(wrapped).decode(),
                "wrappedBy": key_ref,
                "updated": datetime.fromtimestamp(updated, UTC),
            }
            for kind, workload, user, provider, sealed, wrapped, key_ref, updated in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- internals ----------------------------------------------------------------------
    def _config(self) -> tuple[str | None, str, float]:
        with self._lock:
            return self._db.execute(
                "SELECT kms_key_arn, service_key_id, modified FROM config"
            ).fetchone()

    def _service_key(self, key_id: str) -> _ServiceKey:
        return _ServiceKey(self._key_dir / f"{key_id}.key")

    def _kms_key(self, arn: str) -> _KmsKey:
        if self._kms is None:
            raise VaultKeyUnavailable(f"KMS key {arn} needs a KMS client; the vault has none")
        return _KmsKey(self._kms, arn)

    def _key_for(self, ref: str) -> _WrappingKey:
        if ref.startswith(_SERVICE_REF):
            return self._service_key(ref.removeprefix(_SERVICE_REF))
        return self._kms_key(ref)

    def _current_key(self) -> _WrappingKey:
        kms_key_arn, service_key_id, _ = self._config()
        return self._key_for(kms_key_arn or f"{_SERVICE_REF}{service_key_id}")

    def _put(self, slot: _Slot, plaintext: bytes) -> None:
        with self._lock:
            key = self._current_key()
            key.check_usable()
            data_key, wrapped = key.new_data_key(slot)
            row = (*slot.where(), _seal(data_key, plaintext, slot), wrapped, key.ref)
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (*row, self._clock.now()),
                )

    def _get(self, slot: _Slot) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT sealed, wrapped_key, key_ref FROM records WHERE {_WHERE}",
                slot.where(),
            ).fetchone()
            if row is None:
                return None
            sealed, wrapped, ref = row
            key = self._key_for(ref)
            key.check_usable()
            data_key = key.unwrap(wrapped, slot)
        return _open(data_key, sealed, slot, "record")

    def _delete(self, slot: _Slot) -> bool:
        with self._lock, self._db:
            cursor = self._db.execute(f"DELETE FROM records WHERE {_WHERE}", slot.where())
        return cursor.rowcount > 0

    def _validated_cmk(self, key_arn: str) -> _KmsKey:
        """The key if the real service would take it, else VaultConfigError saying why not."""
        match = _KEY_ARN.fullmatch(key_arn)
        if match is None:
            raise VaultConfigError(
                f"kmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key-id>),"
                f" not an alias or a bare key id: {key_arn!r}"
            )
        if match["region"] != REGION:
            raise VaultConfigError(f"KMS key {key_arn} is not in the vault's region {REGION}")
        try:
            key = self._kms_key(key_arn)
            meta = key.metadata()
        except VaultKeyUnavailable as exc:
            raise VaultConfigError(str(exc)) from exc
        spec, usage = meta["KeySpec"], meta.get("KeyUsage", "ENCRYPT_DECRYPT")
        if (spec, usage) != ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"):
            raise VaultConfigError(
                f"KMS key {key_arn} is {spec}/{usage}: the token vault needs a symmetric"
                " encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)"
            )
        if meta.get("MultiRegion"):
            raise VaultConfigError(
                f"KMS key {key_arn} is a multi-Region key: the token vault needs a"
                " single-Region key"
            )
        if meta["KeyState"] != "Enabled":
            raise VaultConfigError(f"KMS key {key_arn} is {meta['KeyState']}, not Enabled")
        return key

    def _switch_to(self, new: _WrappingKey, kms_key_arn: str | None, service_key_id: str) -> None:
        """Re-wrap every data key under ``new`` and make it the vault's key, all or nothing."""
        rows = self._db.execute(
            "SELECT kind, workload, user_id, provider, wrapped_key, key_ref FROM records"
        ).fetchall()
        new.check_usable()
        for ref in {row[-1] for row in rows}:
            self._key_for(ref).check_usable()
        updates = []
        for *where, wrapped, ref in rows:
            slot = _Slot(self.arn, *where)
            data_key = self._key_for(ref).unwrap(wrapped, slot)
            updates.append((new.wrap(data_key, slot), new.ref, *slot.where()))
        with self._db:
            self._db.executemany(
                f"UPDATE records SET wrapped_key = ?, key_ref = ? WHERE {_WHERE}",
                updates,
            )
            self._db.execute(
                "UPDATE config SET kms_key_arn = ?, service_key_id = ?, modified = ?",
                (kms_key_arn, service_key_id, self._clock.now()),
            )
