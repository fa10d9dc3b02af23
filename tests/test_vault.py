"""The token vault: envelope encryption at rest, a CMK in moto's KMS, and what fails closed.

KMS is moto behind a real HTTP server, reached with the real boto3 client. Tampering is
done the way an attacker with access to the database file would: with sqlite3 directly.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from botocore.client import BaseClient

from helpers.agentcore.vault import (
    CUSTOMER_MANAGED,
    SERVICE_MANAGED,
    TokenVault,
    VaultConfigError,
    VaultIntegrityError,
    VaultKeyUnavailable,
)
from helpers.aws import ACCOUNT_ID, OPERATOR, REGION, MotoServer, client
from helpers.clock import LabClock

WORKLOAD = "fitness-coach"
PROVIDER = "strava"
TOKEN = {
    "access_token": "at-alice-7f3c9e",
    "refresh_token": "rt-alice-0b12aa",
    "expires_at": 1_900_000_000,
    "scopes": ["activities:read"],
}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def kms(moto: MotoServer) -> Iterator[BaseClient]:
    kms = client("kms", moto.url, OPERATOR)
    yield kms
    kms.close()


@pytest.fixture
def cmk(kms: BaseClient) -> str:
    return kms.create_key(Description="token vault CMK")["KeyMetadata"]["Arn"]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "token-vault.db"


@pytest.fixture
def clock() -> LabClock:
    return LabClock()


@pytest.fixture
def open_vault(
    db_path: Path, clock: LabClock, kms: BaseClient
) -> Iterator[Callable[[], TokenVault]]:
    """Opens the vault over the test's file (again, for a restart); closes all at the end."""
    opened: list[TokenVault] = []

    def open_() -> TokenVault:
        opened.append(TokenVault(db_path, clock, kms=kms))
        return opened[-1]

    yield open_
    for vault in opened:
        vault.close()


@pytest.fixture
def vault(open_vault: Callable[[], TokenVault]) -> TokenVault:
    return open_vault()


@pytest.fixture(params=[SERVICE_MANAGED, CUSTOMER_MANAGED])
def keyed_vault(request: pytest.FixtureRequest, vault: TokenVault, cmk: str) -> TokenVault:
    """The vault under each key type in turn."""
    if request.param == CUSTOMER_MANAGED:
        vault.set_cmk(cmk)
    return vault


def fill(vault: TokenVault) -> dict[tuple[str, str, str], dict]:
    """Tokens for two users at two providers, plus an API key; returns what went in."""
    stored = {}
    for user in ("alice", "bob"):
        for provider in (PROVIDER, "google"):
            token = {**TOKEN, "access_token": f"at-{user}-{provider}"}
            vault.put_oauth2_token(WORKLOAD, user, provider, token)
            stored[(WORKLOAD, user, provider)] = token
    vault.put_api_key("weather", "wx-api-key-4455")
    return stored


def assert_holds(vault: TokenVault, stored: dict[tuple[str, str, str], dict]) -> None:
    for where, token in stored.items():
        assert vault.get_oauth2_token(*where) == token
    assert vault.get_api_key("weather") == "wx-api-key-4455"


# -- records ------------------------------------------------------------------------------


def test_oauth2_token_round_trip(keyed_vault: TokenVault) -> None:
    keyed_vault.put_oauth2_token(WORKLOAD, "alice", PROVIDER, TOKEN)
    assert keyed_vault.get_oauth2_token(WORKLOAD, "alice", PROVIDER) == TOKEN
    assert keyed_vault.entries_for(WORKLOAD, "alice") == [PROVIDER]
    assert keyed_vault.delete_oauth2_token(WORKLOAD, "alice", PROVIDER)
    assert keyed_vault.get_oauth2_token(WORKLOAD, "alice", PROVIDER) is None
    assert not keyed_vault.delete_oauth2_token(WORKLOAD, "alice", PROVIDER)


def test_api_key_round_trip(keyed_vault: TokenVault) -> None:
    keyed_vault.put_api_key("weather", "wx-api-key-4455")
    assert keyed_vault.get_api_key("weather") == "wx-api-key-4455"
    assert keyed_vault.entries_for(WORKLOAD, "alice") == []  # an API key is no user's token
    assert keyed_vault.delete_api_key("weather")
    assert keyed_vault.get_api_key("weather") is None


def test_users_are_isolated(vault: TokenVault) -> None:
    vault.put_oauth2_token(WORKLOAD, "alice", PROVIDER, TOKEN)
    assert vault.get_oauth2_token(WORKLOAD, "bob", PROVIDER) is None
    assert vault.get_oauth2_token("other-workload", "alice", PROVIDER) is None
    assert vault.entries_for(WORKLOAD, "bob") == []


@pytest.mark.parametrize("columns", ["sealed, wrapped_key", "sealed"], ids=["record", "ciphertext"])
@pytest.mark.parametrize(
    "target", [("bob", PROVIDER), ("alice", "google")], ids=["user", "provider"]
)
def test_record_copied_to_another_row_does_not_decrypt(
    keyed_vault: TokenVault, db_path: Path, columns: str, target: tuple[str, str]
) -> None:
    fill(keyed_vault)
    with sqlite3.connect(db_path) as db:
        copied = db.execute(
            f"SELECT {columns} FROM records WHERE user_id = 'alice' AND provider = ?", (PROVIDER,)
        ).fetchone()
        assignments = ", ".join(f"{column} = ?" for column in columns.split(", "))
        db.execute(
            f"UPDATE records SET {assignments} WHERE user_id = ? AND provider = ?",
            (*copied, *target),
        )
    db.close()
    with pytest.raises(VaultIntegrityError, match="copied from another"):
        keyed_vault.get_oauth2_token(WORKLOAD, *target)
    assert keyed_vault.get_oauth2_token(WORKLOAD, "alice", PROVIDER)["access_token"].endswith(
        PROVIDER
    )


def test_raw_rows_never_hold_plaintext(keyed_vault: TokenVault) -> None:
    stored = fill(keyed_vault)
    rows = keyed_vault.raw_rows()
    assert len(rows) == len(stored) + 1
    dump = repr(rows)
    for token in stored.values():
        assert token["access_token"] not in dump
        assert token["refresh_token"] not in dump
    assert "wx-api-key-4455" not in dump


def test_concurrent_puts_and_gets(vault: TokenVault) -> None:
    def round_trip(i: int) -> dict | None:
        vault.put_oauth2_token(WORKLOAD, f"user-{i}", PROVIDER, {**TOKEN, "n": i})
        return vault.get_oauth2_token(WORKLOAD, f"user-{i}", PROVIDER)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(round_trip, range(40)))
    assert [result["n"] for result in results] == list(range(40))


# -- the vault's key --------------------------------------------------------------------


def test_describe_starts_service_managed(vault: TokenVault) -> None:
    described = vault.describe()
    assert described["tokenVaultId"] == "default"
    assert described["kmsConfiguration"] == {"keyType": SERVICE_MANAGED}


def test_set_cmk_rewraps_under_kms(vault: TokenVault, clock: LabClock, cmk: str) -> None:
    stored = fill(vault)
    before = vault.describe()["lastModifiedDate"]
    clock.advance(3600)
    vault.set_cmk(cmk)
    described = vault.describe()
    assert described["kmsConfiguration"] == {"keyType": CUSTOMER_MANAGED, "kmsKeyArn": cmk}
    assert (described["lastModifiedDate"] - before).total_seconds() >= 3600
    assert {row["wrappedBy"] for row in vault.raw_rows()} == {cmk}
    assert_holds(vault, stored)


def test_disabled_cmk_fails_closed_until_enabled(
    vault: TokenVault, kms: BaseClient, cmk: str
) -> None:
    vault.set_cmk(cmk)
    vault.put_oauth2_token(WORKLOAD, "alice", PROVIDER, TOKEN)
    kms.disable_key(KeyId=cmk)
    with pytest.raises(VaultKeyUnavailable, match="is Disabled"):
        vault.get_oauth2_token(WORKLOAD, "alice", PROVIDER)
    with pytest.raises(VaultKeyUnavailable, match="is Disabled"):
        vault.put_oauth2_token(WORKLOAD, "bob", PROVIDER, TOKEN)
    with pytest.raises(VaultKeyUnavailable, match="is Disabled"):
        vault.set_service_managed()  # nothing can be re-wrapped without the old key
    kms.enable_key(KeyId=cmk)
    assert vault.get_oauth2_token(WORKLOAD, "alice", PROVIDER) == TOKEN
    vault.put_oauth2_token(WORKLOAD, "bob", PROVIDER, TOKEN)


def test_cmk_pending_deletion_fails_closed(vault: TokenVault, kms: BaseClient, cmk: str) -> None:
    vault.set_cmk(cmk)
    vault.put_api_key("weather", "wx-api-key-4455")
    kms.schedule_key_deletion(KeyId=cmk, PendingWindowInDays=7)
    with pytest.raises(VaultKeyUnavailable, match="is PendingDeletion"):
        vault.get_api_key("weather")
    with pytest.raises(VaultKeyUnavailable, match="is PendingDeletion"):
        vault.put_api_key("weather", "wx-api-key-9999")


# AWS takes "the key ID or key ARN" in each; the key's state after it.
KEY_STATE_WALK = [
    ("disable_key", {}, "Disabled"),
    ("enable_key", {}, "Enabled"),
    ("schedule_key_deletion", {"PendingWindowInDays": 7}, "PendingDeletion"),
    ("cancel_key_deletion", {}, "Disabled"),
]


@pytest.mark.parametrize("by", ["KeyId", "Arn"])
def test_key_state_changes_by_key_id_or_key_arn(kms: BaseClient, by: str) -> None:
    key = kms.create_key(Description="state walk")["KeyMetadata"]
    for operation, extra, state in KEY_STATE_WALK:
        answer = getattr(kms, operation)(KeyId=key[by], **extra)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, operation
        assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == state


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe{}", b"[1]", b'"KeyId"', b"[" * 100_000],
    ids=["broken", "not-utf8", "array", "string", "deep"],
)
@pytest.mark.parametrize("operation", ["DisableKey", "Encrypt"])
def test_a_json_body_moto_cannot_read_is_refused_as_aws_does(
    moto: MotoServer, kms: BaseClient, operation: str, body: bytes
) -> None:
    keys_before = kms.list_keys()["Keys"]
    answer = requests.post(
        moto.url,
        data=body,
        headers={
            "X-Amz-Target": f"TrentService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIALABOPERATOR00001/20261203/"
            f"{REGION}/kms/aws4_request, SignedHeaders=host, Signature=0",
        },
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "SerializationException"
    assert answer.json()["__type"] == "SerializationException"
    assert kms.list_keys()["Keys"] == keys_before


def _alias_arn(kms: BaseClient, key: dict) -> str:
    alias = f"alias/vault-{key['KeyId']}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias}"


def _disabled(kms: BaseClient, key: dict) -> str:
    kms.disable_key(KeyId=key["KeyId"])
    return key["Arn"]


REFUSED_KEYS: dict[str, Callable[[BaseClient, dict], str]] = {
    "alias ARN": _alias_arn,
    "bare key id": lambda kms, key: key["KeyId"],
    "other region": lambda kms, key: key["Arn"].replace(REGION, "eu-west-1"),
    "unknown key": lambda kms, key: key["Arn"][:-12] + "000000000000",
    "asymmetric": lambda kms, key: kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")[
        "KeyMetadata"
    ]["Arn"],
    "multi-Region": lambda kms, key: kms.create_key(MultiRegion=True)["KeyMetadata"]["Arn"],
    "disabled": _disabled,
}


@pytest.mark.parametrize("make_arn", REFUSED_KEYS.values(), ids=REFUSED_KEYS.keys())
def test_set_cmk_refuses_what_the_service_refuses(
    vault: TokenVault, kms: BaseClient, make_arn: Callable[[BaseClient, dict], str]
) -> None:
    arn = make_arn(kms, kms.create_key()["KeyMetadata"])
    vault.put_api_key("weather", "wx-api-key-4455")
    with pytest.raises(VaultConfigError):
        vault.set_cmk(arn)
    assert vault.describe()["kmsConfiguration"] == {"keyType": SERVICE_MANAGED}
    assert vault.get_api_key("weather") == "wx-api-key-4455"


def test_service_to_cmk_to_service_loses_nothing(vault: TokenVault, cmk: str) -> None:
    stored = fill(vault)
    vault.set_cmk(cmk)
    vault.put_oauth2_token(WORKLOAD, "carol", PROVIDER, TOKEN)  # written under the CMK
    stored[(WORKLOAD, "carol", PROVIDER)] = TOKEN
    vault.set_service_managed()
    assert vault.describe()["kmsConfiguration"] == {"keyType": SERVICE_MANAGED}
    assert all(row["wrappedBy"].startswith("service:") for row in vault.raw_rows())
    assert_holds(vault, stored)


def test_reset_key_material_rewraps_under_a_new_service_key(
    vault: TokenVault, db_path: Path
) -> None:
    stored = fill(vault)
    old_refs = {row["wrappedBy"] for row in vault.raw_rows()}
    old_ciphertexts = {row["ciphertext"] for row in vault.raw_rows()}
    vault.reset_key_material()
    rows = vault.raw_rows()
    assert len({row["wrappedBy"] for row in rows}) == 1
    assert {row["wrappedBy"] for row in rows}.isdisjoint(old_refs)
    assert {row["ciphertext"] for row in rows} == old_ciphertexts  # only data keys re-wrapped
    assert len(list((db_path.parent / "token-vault-keys").glob("*.key"))) == 1
    assert_holds(vault, stored)


def test_reset_key_material_under_a_cmk_is_refused(vault: TokenVault, cmk: str) -> None:
    vault.set_cmk(cmk)
    with pytest.raises(VaultConfigError, match="customer managed key"):
        vault.reset_key_material()


@pytest.mark.parametrize("with_cmk", [False, True], ids=["service", "cmk"])
def test_restart_loses_nothing(
    open_vault: Callable[[], TokenVault], cmk: str, with_cmk: bool
) -> None:
    first = open_vault()
    if with_cmk:
        first.set_cmk(cmk)
    stored = fill(first)
    configuration = first.describe()["kmsConfiguration"]
    first.close()
    again = open_vault()
    assert again.describe()["kmsConfiguration"] == configuration
    assert_holds(again, stored)


# -- the moto server ----------------------------------------------------------------------


def test_moto_server_stop_leaves_no_thread_or_port() -> None:
    before = set(threading.enumerate())
    server = MotoServer().start()
    address = urlsplit(server.url)
    kms = client("kms", server.url)
    assert kms.list_keys()["ResponseMetadata"]["HTTPStatusCode"] == 200
    kms.close()
    assert set(threading.enumerate()) - before, "the server runs in a thread of its own"
    server.stop()
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=1)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    server.stop()  # stopping twice is harmless
