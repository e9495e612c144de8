"""SQLite storage of what the sandbox accepted, and readers for tests and people.

Tables: ``profiles`` (one row per identity, merged the way CleverTap merges), ``events`` (one row
per accepted event, never deduplicated), ``tokens`` (one row per objectId and token id),
``requests`` (one row per upload request, whatever its answer), ``deletions`` (one row per
applied ``/1/delete/profiles.json`` request) and ``subscriptions`` (one row per applied
``/1/subscribe`` record, in order, never deduplicated). A file database runs in WAL mode, so
other processes can read it while the sandbox writes.

Reading::

    from target_clevertap.sandbox.store import SandboxStore, read_events, read_profiles

    read_profiles("sandbox.db")   # [{"identity_key", "identity", "profile": {...}, "ts"}, ...]
    read_events("sandbox.db")     # [{"identity_key", "identity", "evt_name", "evt_data", "ts"}]
    read_deletions("sandbox.db")  # [{"deleted_at", "key", "values", "profiles_deleted", ...}]
    read_subscriptions("sandbox.db")  # [{"batch", "received_at", "type", "value", "status", ...}]
    with SandboxStore("sandbox.db") as store:
        store.counts()            # {"profiles": n, "events": n, "events_by_name": {...}, ...}
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from target_clevertap.sandbox.merge import merge_profile
from target_clevertap.sandbox.validation import Accepted

MEMORY = ":memory:"

SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    identity_key TEXT NOT NULL,
    identity TEXT NOT NULL,
    profile TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (identity_key, identity)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    identity_key TEXT NOT NULL,
    identity TEXT NOT NULL,
    evt_name TEXT NOT NULL,
    evt_data TEXT NOT NULL,
    ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    object_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    token_type TEXT NOT NULL,
    token_data TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (object_id, token_id)
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    status INTEGER NOT NULL,
    records INTEGER NOT NULL,
    processed INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    host TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deletions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deleted_at TEXT NOT NULL,
    by_key TEXT NOT NULL,
    ask TEXT NOT NULL,
    profiles_deleted INTEGER NOT NULL,
    events_deleted INTEGER NOT NULL,
    tokens_deleted INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    value TEXT NOT NULL,
    status TEXT NOT NULL,
    profiles INTEGER NOT NULL
);
"""

Row = dict[str, Any]


@dataclass(frozen=True)
class RequestLog:
    """One upload request. ``status`` 0 means the connection was closed without an answer."""

    received_at: str
    status: int
    records: int
    processed: int
    dry_run: bool
    host: str


@dataclass(frozen=True)
class Deletion:
    """One applied delete request: what was asked (``key``: ``identity`` or ``guid``; the
    values as sent) and how many rows it removed."""

    deleted_at: str
    key: str
    values: tuple[str, ...]
    profiles_deleted: int
    events_deleted: int
    tokens_deleted: int


@dataclass(frozen=True)
class Subscription:
    """One applied ``/1/subscribe`` record: ``type`` ``email`` or ``phone``, its ``value`` and
    ``status`` (``Unsubscribe`` or ``Resubscribe``); ``profile_key`` is the profile property
    (``Email`` or ``Phone``) that holds such values."""

    type: str
    value: str
    status: str
    profile_key: str


class SandboxStore:
    """Reads a sandbox database. ``last=N`` returns only the N newest rows (oldest first)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        if not Path(self.path).is_file():
            raise FileNotFoundError(
                f"No sandbox database at {self.path!r}: start clevertap-sandbox with "
                f"--db {self.path} first, or check the path"
            )
        return sqlite3.connect(self.path, check_same_thread=False)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SandboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def profiles(self, last: int | None = None) -> list[Row]:
        rows = self._newest("SELECT identity_key, identity, profile, ts FROM profiles", last)
        return [
            {"identity_key": key, "identity": identity, "profile": json.loads(profile), "ts": ts}
            for key, identity, profile, ts in rows
        ]

    def profile(self, identity: str, identity_key: str = "identity") -> dict[str, Any] | None:
        """The stored properties of one profile (operators applied), or ``None`` when there is
        no profile under that identity key and (text) identity."""
        rows = self._query(
            "SELECT profile FROM profiles WHERE identity_key = ? AND identity = ?",
            (identity_key, _text(identity)),
        )
        return json.loads(rows[0][0]) if rows else None

    def events(self, last: int | None = None) -> list[Row]:
        select = "SELECT identity_key, identity, evt_name, evt_data, ts FROM events"
        return [
            {
                "identity_key": key,
                "identity": identity,
                "evt_name": name,
                "evt_data": json.loads(data),
                "ts": ts,
            }
            for key, identity, name, data, ts in self._newest(select, last)
        ]

    def tokens(self, last: int | None = None) -> list[Row]:
        select = "SELECT object_id, token_id, token_type, token_data, ts FROM tokens"
        return [
            {
                "object_id": object_id,
                "token_id": token_id,
                "token_type": token_type,
                "token_data": json.loads(data),
                "ts": ts,
            }
            for object_id, token_id, token_type, data, ts in self._newest(select, last)
        ]

    def requests(self, last: int | None = None) -> list[Row]:
        select = "SELECT received_at, status, records, processed, dry_run, host FROM requests"
        return [
            {
                "received_at": received_at,
                "status": status,
                "records": records,
                "processed": processed,
                "dry_run": bool(dry_run),
                "host": host,
            }
            for received_at, status, records, processed, dry_run, host in self._newest(select, last)
        ]

    def deletions(self, last: int | None = None) -> list[Row]:
        if not self._has_table("deletions"):
            return []  # a database written before deletions were kept
        select = (
            "SELECT deleted_at, by_key, ask, profiles_deleted, events_deleted, tokens_deleted"
            " FROM deletions"
        )
        return [
            {
                "deleted_at": deleted_at,
                "key": key,
                "values": json.loads(ask),
                "profiles_deleted": profiles,
                "events_deleted": events,
                "tokens_deleted": tokens,
            }
            for deleted_at, key, ask, profiles, events, tokens in self._newest(select, last)
        ]

    def subscriptions(self, last: int | None = None) -> list[Row]:
        if not self._has_table("subscriptions"):
            return []  # a database written before subscriptions were kept
        select = "SELECT batch, received_at, channel, value, status, profiles FROM subscriptions"
        return [
            {
                "batch": batch,
                "received_at": received_at,
                "type": channel,
                "value": value,
                "status": status,
                "profiles": profiles,
            }
            for batch, received_at, channel, value, status, profiles in self._newest(select, last)
        ]

    def subscription_status(self, channel: str, value: str) -> str | None:
        """The status of the newest applied record for that email or phone, or ``None``."""
        if not self._has_table("subscriptions"):
            return None
        rows = self._query(
            "SELECT status FROM subscriptions WHERE channel = ? AND value = ?"
            " ORDER BY id DESC LIMIT 1",
            (channel, _text(value)),
        )
        return str(rows[0][0]) if rows else None

    def counts(self) -> dict[str, Any]:
        return {
            "profiles": self._scalar("SELECT COUNT(*) FROM profiles"),
            "events": self._scalar("SELECT COUNT(*) FROM events"),
            "tokens": self._scalar("SELECT COUNT(*) FROM tokens"),
            "requests": self._scalar("SELECT COUNT(*) FROM requests"),
            "deletions": self._count_if_kept("deletions"),
            "subscriptions": self._count_if_kept("subscriptions"),
            "events_by_name": self._grouped("SELECT evt_name, COUNT(*) FROM events GROUP BY 1"),
            "requests_by_status": self._grouped("SELECT status, COUNT(*) FROM requests GROUP BY 1"),
        }

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, parameters).fetchall()

    def _newest(self, select: str, last: int | None) -> list[tuple[Any, ...]]:
        # A negative LIMIT means no limit in SQLite.
        rows = self._query(f"{select} ORDER BY rowid DESC LIMIT ?", (-1 if last is None else last,))
        return rows[::-1]

    def _has_table(self, name: str) -> bool:
        sql = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(self._query(sql, (name,))[0][0])

    def _count_if_kept(self, table: str) -> int:
        """Rows of a table that databases written by older sandboxes lack (0 there)."""
        return self._scalar(f"SELECT COUNT(*) FROM {table}") if self._has_table(table) else 0

    def _scalar(self, sql: str) -> int:
        (value,) = self._query(sql)[0]
        return int(value)

    def _grouped(self, sql: str) -> dict[Any, int]:
        return dict(self._query(sql))


class StoreWriter(SandboxStore):
    """The store a running sandbox writes to: a file, created when missing, or ``:memory:``."""

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False)
        if self.path != MEMORY:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        return conn

    def save(self, accepted: Sequence[Accepted], now: int) -> None:
        """Store one request's accepted records in a single transaction; ``now`` is the ``ts``
        of records sent without one."""
        with self._lock, self._conn:
            for item in accepted:
                _SAVERS[item.type](self._conn, item, item.ts or now)

    def delete_profiles(
        self, key: str, values: Sequence[str], *, identity_key: str, deleted_at: str
    ) -> Deletion:
        """Delete the profiles stored under ``identity_key`` with one of ``values``, with their
        events (and, for objectIds, their tokens), and keep a row saying so, in one transaction.

        ``key`` is the request's name for them (``identity`` or ``guid``)."""
        texts = sorted({_text(value) for value in values})
        marks = ", ".join("?" * len(texts))
        where = f"identity_key = ? AND identity IN ({marks})"
        with self._lock, self._conn:
            execute = self._conn.execute
            profiles = execute(f"DELETE FROM profiles WHERE {where}", (identity_key, *texts))
            events = execute(f"DELETE FROM events WHERE {where}", (identity_key, *texts))
            tokens = (
                execute(f"DELETE FROM tokens WHERE object_id IN ({marks})", texts).rowcount
                if identity_key == "objectId"
                else 0
            )
            counts = (profiles.rowcount, events.rowcount, tokens)
            execute(
                "INSERT INTO deletions (deleted_at, by_key, ask, profiles_deleted,"
                " events_deleted, tokens_deleted) VALUES (?, ?, ?, ?, ?, ?)",
                (deleted_at, key, json.dumps(list(values)), *counts),
            )
        return Deletion(deleted_at, key, tuple(values), *counts)

    def save_subscriptions(self, applied: Sequence[Subscription], *, received_at: str) -> None:
        """Keep one subscribe request's applied records, numbered as one ``batch``, with the
        number of stored profiles whose ``Email`` / ``Phone`` equals each value."""
        with self._lock, self._conn:
            execute = self._conn.execute
            (batch,) = execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM subscriptions").fetchone()
            for item in applied:
                value = _text(item.value)
                (profiles,) = execute(
                    "SELECT COUNT(*) FROM profiles WHERE json_extract(profile, ?) = ?",
                    (f'$."{item.profile_key}"', value),
                ).fetchone()
                execute(
                    "INSERT INTO subscriptions (batch, received_at, channel, value, status,"
                    " profiles) VALUES (?, ?, ?, ?, ?, ?)",
                    (batch, received_at, item.type, value, item.status, profiles),
                )

    def log_request(self, entry: RequestLog) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO requests (received_at, status, records, processed, dry_run, host)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                astuple(entry),
            )


def _text(value: Any) -> Any:
    """Text SQLite can hold: a lone surrogate (JSON may escape half a pair) kept as its escape."""
    if not isinstance(value, str) or value.isascii():
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _save_profile(conn: sqlite3.Connection, item: Accepted, ts: int) -> None:
    key = (item.identity_key, _text(item.identity))
    row = conn.execute(
        "SELECT profile FROM profiles WHERE identity_key = ? AND identity = ?", key
    ).fetchone()
    profile = merge_profile(json.loads(row[0]) if row else {}, item.record["profileData"])
    conn.execute(
        "INSERT INTO profiles (identity_key, identity, profile, ts) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (identity_key, identity)"
        " DO UPDATE SET profile = excluded.profile, ts = excluded.ts",
        (*key, json.dumps(profile), ts),
    )


def _save_event(conn: sqlite3.Connection, item: Accepted, ts: int) -> None:
    conn.execute(
        "INSERT INTO events (identity_key, identity, evt_name, evt_data, ts)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            item.identity_key,
            _text(item.identity),
            _text(item.record["evtName"]),
            json.dumps(item.record["evtData"]),
            ts,
        ),
    )


def _save_token(conn: sqlite3.Connection, item: Accepted, ts: int) -> None:
    token_data = item.record["tokenData"]
    conn.execute(
        "INSERT INTO tokens (object_id, token_id, token_type, token_data, ts)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (object_id, token_id)"
        " DO UPDATE SET token_type = excluded.token_type,"
        " token_data = excluded.token_data, ts = excluded.ts",
        (
            _text(item.identity),
            _text(token_data["id"]),
            _text(token_data["type"]),
            json.dumps(token_data),
            ts,
        ),
    )


_SAVERS: dict[str, Callable[[sqlite3.Connection, Accepted, int], None]] = {
    "profile": _save_profile,
    "event": _save_event,
    "token": _save_token,
}


def read_profiles(path: str | os.PathLike[str]) -> list[Row]:
    with SandboxStore(path) as store:
        return store.profiles()


def read_events(path: str | os.PathLike[str]) -> list[Row]:
    with SandboxStore(path) as store:
        return store.events()


def read_deletions(path: str | os.PathLike[str]) -> list[Row]:
    with SandboxStore(path) as store:
        return store.deletions()


def read_subscriptions(path: str | os.PathLike[str]) -> list[Row]:
    with SandboxStore(path) as store:
        return store.subscriptions()


def read_counts(path: str | os.PathLike[str]) -> dict[str, Any]:
    with SandboxStore(path) as store:
        return store.counts()
