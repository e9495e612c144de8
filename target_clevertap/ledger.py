"""The event delivery ledger: the keys of events CleverTap accepted, so no later run re-sends one.

Keys live on disk, in SQLite (`event_ledger_path`) or PostgreSQL (`event_ledger_url`), in one
table keyed by (account ID, stream, key), so one ledger serves several projects and streams.
Each row also holds the run that wrote it: a lookup ignores this run's own rows, so within one
run every input record is sent, whatever the batch timing. Rows older than `event_ledger_days`
are pruned at start. Every write commits before it returns (see `Pipeline._delivered`: before
any STATE covering the records). A dry run reads but never writes (nor creates) the ledger.

Each call handles a whole batch of keys. Worker threads share one PostgreSQL connection behind a
lock; with SQLite each thread has its own connection (see `SqliteLedger`).

Most batches are new events, later than anything recorded: their lookup is skipped. At a
stream's first lookup the ledger notes its newest key (keys begin with the event's time) and the
database's clock; a batch whose keys are all newer cannot have been recorded by an earlier run,
nor by a concurrent one unless another run has written that stream since, which a second table
(`WRITERS`, one row per run and stream, refreshed by its writes at least every
`WRITER_REFRESH_SECONDS`) tells in one indexed query.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from target_clevertap.config import Settings
from target_clevertap.event_keys import KEY_SIZE
from target_clevertap.text import secret_forms, without_secret

TABLE = "clevertap_event_ledger"
WRITERS = "clevertap_event_ledger_writers"
# A run writing a stream refreshes its row of WRITERS at least this often (SQLite; PostgreSQL at
# every write, in the write's transaction).
WRITER_REFRESH_SECONDS = 1.0
# Seconds of leeway when asking whether another run wrote since a time read from the database
# clock: more than the refresh interval, so a later write always counts; counting a slightly
# earlier one only costs a full lookup.
CLOCK_LEEWAY_SECONDS = 3
_AGES = ((TABLE, "recorded_at"), (WRITERS, "last_write"))  # each table and its time, pruned
SECONDS_PER_DAY = 86_400
POSTGRES_EXTRA = "target-clevertap[postgres]"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# A new SQLite file's page size (an existing file keeps its own): a quarter smaller than with the
# default 4 KiB pages (52 bytes a key against 69), and ~13% less CPU an insert.
SQLITE_PAGE_SIZE = 16_384
_LOCK_ID = 0x6C656467  # the PostgreSQL advisory lock taken while creating the table
# A batch's keys, bound as one string of bytes (?2) of ?1 keys, as rows `key` of `each_key`: one
# statement step for the whole batch. Bound row by row (executemany), each row's step gives the
# GIL back and waits to take it again from the busy reading thread: ten times slower. The row
# numbers are three digits crossed (0-999, in order): a quarter of the CPU of a recursive CTE
# counting them, which stores each number in a queue. So a statement takes at most 1,000 keys.
KEYS_PER_STATEMENT = 1000
_DIGITS = ", ".join(f"({digit})" for digit in range(10))
_EACH_KEY = (
    f"WITH d(i) AS (VALUES {_DIGITS}), "
    "n(i) AS (SELECT a.i * 100 + b.i * 10 + c.i FROM d a, d b, d c), "
    f"each_key(key) AS (SELECT substr(?2, i * {KEY_SIZE} + 1, {KEY_SIZE}) FROM n WHERE i < ?1) "
)

_T = TypeVar("_T")
Horizon = tuple[bytes | None, int]


@dataclass(frozen=True)
class _Dialect:
    """The statements both databases share, in one's placeholder and clock (epoch seconds)."""

    param: str
    now: str

    def newest_key(self) -> str:
        return (
            f"SELECT (SELECT event_key FROM {TABLE} WHERE account_id = {self.param} "
            f"AND stream = {self.param} ORDER BY event_key DESC LIMIT 1), {self.now}"
        )

    def written_since(self) -> str:
        p = self.param
        return (
            f"SELECT 1 FROM {WRITERS} WHERE account_id = {p} AND stream = {p} AND run_id <> {p} "
            f"AND last_write >= {p} LIMIT 1"
        )

    def touch_writer(self) -> str:
        p = self.param
        return (
            f"INSERT INTO {WRITERS} (account_id, stream, run_id, last_write) "
            f"VALUES ({p}, {p}, {p}, {self.now}) ON CONFLICT (account_id, stream, run_id) "
            "DO UPDATE SET last_write = excluded.last_write"
        )

    def forget_before(self, table: str, column: str) -> str:
        return f"DELETE FROM {table} WHERE account_id = {self.param} AND {column} < {self.param}"


_SQLITE = _Dialect("?", "CAST(strftime('%s', 'now') AS INTEGER)")
_POSTGRES = _Dialect("%s", "CAST(extract(epoch FROM clock_timestamp()) AS bigint)")


class LedgerError(Exception):
    """The ledger cannot be read or written: the run must stop (never go on without it)."""


class Ledger:
    """The keys already delivered for one account; thread-safe."""

    def __init__(
        self, account_id: str, where: str, dialect: _Dialect, *, read_only: bool, serialized: bool
    ) -> None:
        self.account_id = account_id
        self._dialect = dialect
        self.where = where  # for messages: the file, or the database without credentials
        self.read_only = read_only
        # Random, so runs never share one; were two to, keys would only be sent again.
        self.run_id = secrets.randbits(63)
        # Held around each call when the threads share one connection.
        self._lock: AbstractContextManager[Any] = threading.Lock() if serialized else nullcontext()
        self._secrets: tuple[str, ...] = ()
        self._driver_errors: tuple[type[Exception], ...] = ()  # the database driver's errors
        self._horizons: dict[str, Horizon] = {}  # per stream, noted at its first lookup

    def delivered_before(self, stream: str, keys: Collection[bytes]) -> set[bytes]:
        """The keys among `keys` that an earlier run (not this one) recorded for the stream."""
        if not keys:
            return set()
        return self._guarded("read", lambda: self._look_up(stream, keys))

    def _look_up(self, stream: str, keys: Collection[bytes]) -> set[bytes]:
        if not self.read_only:
            horizon = self._horizons.get(stream)
            if horizon is None:  # the first of several threads' horizons is kept: all are sound
                horizon = self._horizons.setdefault(stream, self._horizon(stream))
            newest, since = horizon
            if (newest is None or min(keys) > newest) and not self._written_by_others(
                stream, since - CLOCK_LEEWAY_SECONDS
            ):
                return set()
        return self._known(stream, _sorted_unique(keys))

    def remember(self, stream: str, keys: Collection[bytes]) -> None:
        """Record keys CleverTap accepted (or re-confirmed), committed before returning."""
        if keys:
            self._guarded("write", lambda: self._record(stream, _sorted_unique(keys), _now()))

    def prune(self, days: int) -> None:
        """Forget this account's keys recorded more than `days` days ago."""
        cutoff = _now() - days * SECONDS_PER_DAY
        self._guarded("prune", lambda: self._forget_before(cutoff))

    def close(self) -> None:
        """Release the connections."""
        with self._lock:
            self._close()

    def _guarded(self, action: str, call: Callable[[], _T]) -> _T:
        with self._lock, self._errors(f"could not {action} it"):
            return call()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        errors: tuple[type[Exception], ...] = (OSError, sqlite3.Error, *self._driver_errors)
        try:
            yield
        except errors as exc:
            reason = without_secret(" ".join(str(exc).split()) or type(exc).__name__, self._secrets)
            raise LedgerError(f"The event ledger {self.where} {doing}: {reason}.") from None

    def _horizon(self, stream: str) -> Horizon:
        """The stream's newest key (None if none) and the database clock, read together."""
        newest, now = self._fetch_one(self._dialect.newest_key(), (self.account_id, stream))
        return newest, now

    def _written_by_others(self, stream: str, since: int) -> bool:
        """Whether another run wrote keys of the stream at or after `since` (database clock)."""
        found = self._fetch_one(
            self._dialect.written_since(), (self.account_id, stream, self.run_id, since)
        )
        return found is not None

    def _fetch_one(self, statement: str, params: tuple[Any, ...]) -> Any:
        """The first row of a query (a tuple), or None."""
        raise NotImplementedError

    def _known(self, stream: str, keys: list[bytes]) -> set[bytes]:
        raise NotImplementedError

    def _record(self, stream: str, keys: list[bytes], now: int) -> None:
        raise NotImplementedError

    def _forget_before(self, cutoff: int) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class SqliteLedger(Ledger):
    """A ledger in a SQLite file: WAL mode and a busy timeout, so several processes share it.

    Each thread has its own connection and each statement is its own transaction, so a lookup
    never waits for another thread's write, and a write is a single call into SQLite. Every call
    gives the GIL back, and taking it again from the busy reading thread can take a switch
    interval (5 ms): four calls a write, behind one shared lock, made the ledger the bottleneck.
    """

    def __init__(self, account_id: str, path: str, *, read_only: bool) -> None:
        super().__init__(account_id, f"'{path}'", _SQLITE, read_only=read_only, serialized=False)
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._fresh_until: dict[str, float] = {}  # per stream: monotonic time
        # A dry run before the ledger's first run: nothing recorded yet, nothing to open.
        self._absent = read_only and not os.path.exists(path)
        if self._absent:
            return
        with self._errors("cannot be opened"):
            db = self._connection()
            if read_only:
                db.execute(f"SELECT count(*) FROM {TABLE} WHERE 0").fetchall()
            else:
                db.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # before WAL fixes it
                _use_wal(db)
                db.executescript(
                    # No index on recorded_at: pruning scans the table once a run, and every
                    # insert would update that index as well.
                    f"CREATE TABLE IF NOT EXISTS {TABLE} (account_id TEXT NOT NULL, "
                    "stream TEXT NOT NULL, event_key BLOB NOT NULL, run_id INTEGER NOT NULL, "
                    "recorded_at INTEGER NOT NULL, PRIMARY KEY (account_id, stream, event_key)) "
                    "WITHOUT ROWID;"
                    f"CREATE TABLE IF NOT EXISTS {WRITERS} (account_id TEXT NOT NULL, "
                    "stream TEXT NOT NULL, run_id INTEGER NOT NULL, "
                    "last_write INTEGER NOT NULL, PRIMARY KEY (account_id, stream, run_id));"
                )

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened at its first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = _open_sqlite(self._path, read_only=self.read_only)
            with self._connections_lock:
                self._connections.append(db)
        return db

    def _fetch_one(self, statement: str, params: tuple[Any, ...]) -> Any:
        return self._connection().execute(statement, params).fetchone()

    def _known(self, stream: str, keys: list[bytes]) -> set[bytes]:
        if self._absent:
            return set()
        db, found = self._connection(), set[bytes]()
        for chunk in _chunks(keys):
            found.update(
                row[0]
                for row in db.execute(
                    _EACH_KEY + f"SELECT event_key FROM {TABLE} WHERE account_id = ?3 "
                    "AND stream = ?4 AND run_id <> ?5 AND event_key IN (SELECT key FROM each_key)",
                    (len(chunk), b"".join(chunk), self.account_id, stream, self.run_id),
                )
            )
        return found

    def _record(self, stream: str, keys: list[bytes], now: int) -> None:
        db = self._connection()
        self._keep_fresh(db, stream)
        for chunk in _chunks(keys):
            db.execute(  # its own transaction: committed (synchronous FULL) when this returns
                _EACH_KEY + f"INSERT INTO {TABLE} (account_id, stream, event_key, run_id, "
                "recorded_at) SELECT ?3, ?4, key, ?5, ?6 FROM each_key WHERE true "
                "ON CONFLICT (account_id, stream, event_key) "
                "DO UPDATE SET recorded_at = excluded.recorded_at",
                (len(chunk), b"".join(chunk), self.account_id, stream, self.run_id, now),
            )

    def _keep_fresh(self, db: sqlite3.Connection, stream: str) -> None:
        """Refresh this run's row of WRITERS for the stream if it is a refresh interval old.

        The interval starts when a refresh starts and counts once it has committed, so a write
        that skips the refresh always follows one committed less than an interval before it."""
        started = time.monotonic()
        if started < self._fresh_until.get(stream, 0.0):
            return
        db.execute(self._dialect.touch_writer(), (self.account_id, stream, self.run_id))
        self._fresh_until[stream] = started + WRITER_REFRESH_SECONDS

    def _forget_before(self, cutoff: int) -> None:
        db = self._connection()
        for table, column in _AGES:
            db.execute(self._dialect.forget_before(table, column), (self.account_id, cutoff))

    def _close(self) -> None:
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()


def _sorted_unique(keys: Collection[bytes]) -> list[bytes]:
    """The keys sorted, each once. A batch's keys are nearly always unique and in time order,
    which sorting takes in one pass; sorting a set (in hash order) took ten times as long."""
    unique = set(keys)
    return sorted(keys if len(unique) == len(keys) else unique)


def _chunks(keys: list[bytes]) -> Iterator[list[bytes]]:
    """The keys in runs of at most KEYS_PER_STATEMENT (a batch is one run)."""
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        yield keys[start : start + KEYS_PER_STATEMENT]


def _use_wal(db: sqlite3.Connection) -> None:
    """WAL mode, so readers and a writer of several processes go together. Switching a new
    file to it fails at once ("database is locked"), the busy timeout notwithstanding, while
    another process is switching it too (two jobs starting together): so try again, until that
    timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "database is locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _open_sqlite(path: str, *, read_only: bool) -> sqlite3.Connection:
    """A connection in autocommit mode: each statement is its own transaction."""
    if read_only:
        target, uri = f"file:{quote(os.path.abspath(path))}?mode=ro", True
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        target, uri = path, False
    db = sqlite3.connect(
        target,
        timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
        uri=uri,
        isolation_level=None,
        check_same_thread=False,  # closed by the thread that ends the run
    )
    if not read_only:
        db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
    return db


class PostgresLedger(Ledger):
    """A ledger in a PostgreSQL database (psycopg 3), shared by workers on several machines."""

    def __init__(self, account_id: str, url: str, *, read_only: bool) -> None:
        parts = urlsplit(url)
        where = f"at postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        super().__init__(account_id, where, _POSTGRES, read_only=read_only, serialized=True)
        self._secrets = tuple(
            form for secret in (parts.password, url) if secret for form in secret_forms(secret)
        )
        self._db: Any = None
        self._exists = True
        psycopg = _psycopg()
        self._driver_errors = (psycopg.Error,)
        with self._errors("cannot be opened"):
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=30)
            if read_only:
                found = self._db.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
                self._exists = found is not None and found[0] is not None
            else:
                self._create_table()

    def _create_table(self) -> None:
        # One transaction, serialised by an advisory lock: two processes starting on a new
        # database at once would otherwise race in CREATE ... IF NOT EXISTS.
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (account_id text NOT NULL, "
                "stream text NOT NULL, event_key bytea NOT NULL, run_id bigint NOT NULL, "
                "recorded_at bigint NOT NULL, PRIMARY KEY (account_id, stream, event_key))"
            )
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_age ON {TABLE} (recorded_at)")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {WRITERS} (account_id text NOT NULL, "
                "stream text NOT NULL, run_id bigint NOT NULL, last_write bigint NOT NULL, "
                "PRIMARY KEY (account_id, stream, run_id))"
            )

    def _fetch_one(self, statement: str, params: tuple[Any, ...]) -> Any:
        return self._db.execute(statement, params).fetchone()

    def _known(self, stream: str, keys: list[bytes]) -> set[bytes]:
        if not self._exists:
            return set()
        rows = self._db.execute(
            f"SELECT event_key FROM {TABLE} WHERE account_id = %s AND stream = %s "
            "AND run_id <> %s AND event_key = ANY(%s)",
            (self.account_id, stream, self.run_id, keys),
        )
        return {row[0] for row in rows}

    def _record(self, stream: str, keys: list[bytes], now: int) -> None:
        # Keys sorted and unique: two processes inserting the same keys cannot deadlock, and a
        # concurrent insert of a key only refreshes its time. The writer's row in the same
        # transaction, so a run that sees the keys also sees who wrote them.
        with self._db.transaction():
            self._db.execute(
                f"INSERT INTO {TABLE} (account_id, stream, event_key, run_id, recorded_at) "
                "SELECT %s, %s, key, %s, %s FROM unnest(%s::bytea[]) AS key "
                "ON CONFLICT (account_id, stream, event_key) "
                "DO UPDATE SET recorded_at = EXCLUDED.recorded_at",
                (self.account_id, stream, self.run_id, now, keys),
            )
            self._db.execute(self._dialect.touch_writer(), (self.account_id, stream, self.run_id))

    def _forget_before(self, cutoff: int) -> None:
        for table, column in _AGES:
            self._db.execute(self._dialect.forget_before(table, column), (self.account_id, cutoff))

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()


def _psycopg() -> Any:
    try:
        import psycopg  # noqa: PLC0415 (an optional extra, needed only with event_ledger_url)
    except ImportError:
        raise LedgerError(
            "Setting 'event_ledger_url' needs the PostgreSQL driver: install "
            f"{POSTGRES_EXTRA} (psycopg 3)."
        ) from None
    return psycopg


def open_ledger(settings: Settings) -> Ledger | None:
    """The run's ledger, pruned, or None if none is set; raises LedgerError (one sentence)."""
    read_only = settings.dry_run
    ledger: Ledger
    if settings.event_ledger_url:
        ledger = PostgresLedger(settings.account_id, settings.event_ledger_url, read_only=read_only)
    elif settings.event_ledger_path:
        ledger = SqliteLedger(settings.account_id, settings.event_ledger_path, read_only=read_only)
    else:
        return None
    if not read_only:
        ledger.prune(settings.event_ledger_days)
    return ledger


def _now() -> int:
    return int(time.time())
