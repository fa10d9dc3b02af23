"""The control plane's state: workload identities, credential providers, and tags.

One SQLite table, so that stopping and restarting the lab loses nothing. Each row is a
resource with an ARN, a name unique within its kind, a JSON body and tags.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ..aws import ACCOUNT_ID, REGION
from ..clock import LabClock
from .errors import AwsError

T = TypeVar("T")

# kind -> (ARN path under the account, the name the errors use)
KINDS = {
    "workload": ("workload-identity-directory/default/workload-identity", "Workload identity"),
    "oauth2": ("token-vault/default/oauth2credentialprovider", "OAuth2 credential provider"),
    "apikey": ("token-vault/default/apikeycredentialprovider", "API key credential provider"),
    # Agent runtimes live in runtimes.py; their row here holds their tags.
    "runtime": ("runtime", "Agent runtime"),
}
PROVIDER_QUOTA = 50  # credential providers of one kind per account and Region
# A lab-internal member of a workload identity's body: the ARN of the agent runtime that
# made it with CreateAgentRuntime. AWS keeps that link to itself; no operation returns it.
MANAGED_BY_RUNTIME = "managedByRuntime"


@dataclass
class Resource:
    kind: str
    name: str
    arn: str
    body: dict
    tags: dict[str, str]
    created: datetime
    updated: datetime


def arn_for(kind: str, name: str, account_id: str = ACCOUNT_ID) -> str:
    return f"arn:aws:bedrock-agentcore:{REGION}:{account_id}:{KINDS[kind][0]}/{name}"


class Directory:
    def __init__(self, db_path: Path, clock: LabClock, account_id: str = ACCOUNT_ID) -> None:
        self.clock, self.account_id = clock, account_id
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS resources (arn TEXT PRIMARY KEY, kind TEXT, name TEXT,"
            " body TEXT, tags TEXT, created REAL, updated REAL, UNIQUE (kind, name))"
        )
        self._db.commit()

    def _now(self) -> float:
        return self.clock.now()

    def create(
        self,
        kind: str,
        name: str,
        body: dict,
        tags: dict[str, str] | None = None,
        quota: int | None = None,
    ) -> Resource:
        with self._lock:
            self.check_new(kind, name, quota)
            now = self._now()
            self._db.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    arn_for(kind, name, self.account_id),
                    kind,
                    name,
                    json.dumps(body),
                    json.dumps(tags or {}),
                    now,
                    now,
                ),
            )
            self._db.commit()
        return self.get(kind, name)

    def check_new(self, kind: str, name: str, quota: int | None = None) -> None:
        """The error ``create`` would raise: callers check before writing elsewhere (a
        MANAGED secret), so a refused create never touches another resource's secret."""
        if self._exists(kind, name):
            raise AwsError("ConflictException", f"{KINDS[kind][1]} {name} already exists.")
        if quota is not None and self._count(kind) >= quota:
            raise AwsError(
                "ServiceQuotaExceededException",
                f"You can have at most {quota} {KINDS[kind][1]}s.",
            )

    def get(self, kind: str, name: str) -> Resource:
        row = self._db.execute(
            "SELECT * FROM resources WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        if row is None:
            raise AwsError("ResourceNotFoundException", f"{KINDS[kind][1]} {name} not found.")
        return _resource(row)

    def update(self, kind: str, name: str, body: dict) -> Resource:
        self.get(kind, name)
        with self._lock:
            self._db.execute(
                "UPDATE resources SET body = ?, updated = ? WHERE kind = ? AND name = ?",
                (json.dumps(body), self._now(), kind, name),
            )
            self._db.commit()
        return self.get(kind, name)

    def delete(self, kind: str, name: str) -> None:
        self.get(kind, name)
        with self._lock:
            self._db.execute("DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name))
            self._db.commit()

    def page(
        self, kind: str, max_results: int | None, next_token: str | None
    ) -> tuple[list[Resource], str | None]:
        """A page of resources by name; the token is the opaque offset of the next page."""
        start = _decode_token(next_token)
        size = max_results or 100
        rows = self._db.execute(
            "SELECT * FROM resources WHERE kind = ? ORDER BY name LIMIT ? OFFSET ?",
            (kind, size + 1, start),
        ).fetchall()
        return [_resource(r) for r in rows[:size]], _next_token(start, size, len(rows) > size)

    def by_arn(self, arn: str) -> Resource:
        row = self._db.execute("SELECT * FROM resources WHERE arn = ?", (arn,)).fetchone()
        if row is None:
            raise AwsError("ResourceNotFoundException", f"No resource {arn}.")
        return _resource(row)

    def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        self.by_arn(arn)
        with self._lock:
            self._db.execute("UPDATE resources SET tags = ? WHERE arn = ?", (json.dumps(tags), arn))
            self._db.commit()

    def _exists(self, kind: str, name: str) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM resources WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            is not None
        )

    def _count(self, kind: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM resources WHERE kind = ?", (kind,)
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()


def _resource(row: tuple) -> Resource:
    arn, kind, name, body, tags, created, updated = row
    return Resource(
        kind,
        name,
        arn,
        json.loads(body),
        json.loads(tags),
        datetime.fromtimestamp(created, UTC),
        datetime.fromtimestamp(updated, UTC),
    )


def page_of(
    items: list[T], max_results: int | None, next_token: str | None
) -> tuple[list[T], str | None]:
    """The same paging, with the same tokens, over a list kept in memory."""
    start = _decode_token(next_token)
    size = max_results or 100
    return items[start : start + size], _next_token(start, size, len(items) > start + size)


def _next_token(start: int, size: int, more: bool) -> str | None:
    return base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        start = -1
    if start < 0:  # we only issue offsets >= 0; SQLite would read a negative one as 0
        raise AwsError(
            "ValidationException",
            "Invalid nextToken.",
            reason="CannotParse",
            fieldList=[{"name": "nextToken", "message": "not a token we issued"}],
        )
    return start
