"""`meltano run tap-postgres target-clevertap` against the test's own PostgreSQL server.

tap-postgres bookmarks `updated_at` (users) and `id` (events) and, like every Singer SDK SQL
tap, reads `WHERE key >= bookmark`: a run re-reads the rows equal to the previous bookmark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_checks import assert_events, assert_profiles, assert_rejected
from e2e_harness import Harness
from e2e_meltano import Meltano, state_id
from e2e_postgres import PostgresServer, insert_source_rows
from e2e_samples import (
    Row,
    is_bad_event,
    is_bad_user,
    new_event,
    new_user,
    sample_events,
    sample_users,
    split_events,
    split_users,
)

pytestmark = pytest.mark.e2e

PIPELINE = ("tap-postgres", "target-clevertap")
STATE_ID = state_id("tap-postgres")
USERS, EVENTS = "public-users", "public-events"


@dataclass
class Source:
    """The rows of the test's database, as it was filled from the samples and added to."""

    server: PostgresServer
    database: str
    users: list[Row]
    events: list[Row]

    @classmethod
    def from_samples(cls, server: PostgresServer, database: str) -> Source:
        users = [row for row in sample_users() if row.get("id")]
        return cls(server, database, users, sample_events())

    def add(self, users: list[Row], events: list[Row]) -> None:
        insert_source_rows(self.server, self.database, users, events)
        self.users += users
        self.events += events

    def event_ids(self) -> dict[str, int]:
        """event_id -> the serial `id` PostgreSQL gave the row (the events bookmark)."""
        text = self.server.psql("SELECT event_id, id FROM events", self.database)
        return {event_id: int(pk) for event_id, pk in (line.split("|") for line in text.split())}

    def max_bookmarks(self) -> dict[str, Any]:
        return {
            USERS: max(parse_time(row["updated_at"]) for row in self.users),
            EVENTS: max(self.event_ids().values()),
        }


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def bookmarks(meltano: Meltano) -> dict[str, Any]:
    """Meltano's stored bookmark per stream (users as datetimes, events as ids)."""
    stored = meltano.state(STATE_ID).get("singer_state", {}).get("bookmarks", {})
    marks = {stream: mark["replication_key_value"] for stream, mark in stored.items()}
    if USERS in marks:
        marks[USERS] = parse_time(marks[USERS])
    return marks


def postgres_meltano(harness: Harness, source: Source) -> Meltano:
    return harness.meltano.with_env(**source.server.tap_env(source.database))


def assert_all_delivered(harness: Harness, source: Source) -> None:
    stored = harness.stored()
    assert_profiles(stored, split_users(source.users).good)
    assert_events(stored, split_events(source.events).good, ignored_data_keys=("id",))


@dataclass(frozen=True)
class Reread:
    """The rows a `>=` incremental read sends again: those equal to the old bookmarks."""

    users: list[Row]
    events: list[Row]

    @classmethod
    def at(cls, source: Source, marks: dict[str, Any]) -> Reread:
        ids = source.event_ids()
        return cls(
            users=[r for r in source.users if parse_time(r["updated_at"]) == marks.get(USERS)],
            events=[r for r in source.events if ids[r["event_id"]] == marks.get(EVENTS)],
        )


@pytest.fixture
def source(postgres: PostgresServer, source_database: str) -> Source:
    return Source.from_samples(postgres, source_database)


def test_incremental_runs_send_only_rows_past_the_bookmarks(
    harness: Harness, source: Source
) -> None:
    meltano = postgres_meltano(harness, source)

    first = meltano.run(*PIPELINE)

    assert first.returncode == 0, first.explain()
    assert_all_delivered(harness, source)
    assert_rejected(
        harness.rejected(),
        split_users(source.users).bad,
        split_events(source.events).bad,
    )
    marks = bookmarks(meltano)
    assert marks == source.max_bookmarks()

    events_before, rejected_before = len(harness.stored().events), len(harness.rejected())
    new_users = [new_user(n, f"2025-04-0{n}T08:00:00Z") for n in (1, 2)]
    new_events = [new_event(n, new_users[0]["id"], f"2025-04-03T1{n}:00:00Z") for n in (1, 2, 3)]
    source.add(new_users, new_events)
    second = meltano.run(*PIPELINE)

    assert second.returncode == 0, second.explain()
    assert_all_delivered(harness, source)
    again = Reread.at(source, marks)
    sent_events = [e["evt_data"]["event_id"] for e in harness.stored().events[events_before:]]
    expected_events = new_events + [r for r in again.events if not is_bad_event(r)]
    assert sorted(sent_events) == sorted(r["event_id"] for r in expected_events)
    assert_rejected(
        harness.rejected()[rejected_before:],
        [r for r in again.users if is_bad_user(r)],
        [r for r in again.events if is_bad_event(r)],
    )
    assert bookmarks(meltano) == source.max_bookmarks()


def assert_state_covers_only_delivered(harness: Harness, source: Source) -> None:
    """Every good source row at or below a stored bookmark is in the sandbox."""
    marks, stored = bookmarks(postgres_meltano(harness, source)), harness.stored()
    if USERS in marks:
        users = split_users(source.users).good
        covered = {r["id"] for r in users if parse_time(r["updated_at"]) <= marks[USERS]}
        assert covered <= set(stored.profiles), "state covers users that never arrived"
    if EVENTS in marks:
        ids = source.event_ids()
        events = split_events(source.events).good
        covered = {r["event_id"] for r in events if ids[r["event_id"]] <= marks[EVENTS]}
        assert covered <= set(stored.events_by_id()), "state covers events that never arrived"


def test_events_failing_forever_fail_the_run_and_a_rerun_delivers_the_rest(
    failing_events_harness: Harness, source: Source
) -> None:
    harness = failing_events_harness

    failed = postgres_meltano(harness, source).run(*PIPELINE)

    assert failed.returncode != 0, "the run succeeded although every event upload got 503"
    stored = harness.stored()
    assert stored.requests_by_status.get(503), "the sandbox never answered 503"
    assert stored.events == []
    assert_state_covers_only_delivered(harness, source)

    harness.restart_sandbox()
    rerun = postgres_meltano(harness, source).run(*PIPELINE)

    assert rerun.returncode == 0, rerun.explain()
    assert_all_delivered(harness, source)
    assert bookmarks(postgres_meltano(harness, source)) == source.max_bookmarks()


def test_a_tap_writing_gzip_batch_files_delivers_every_row(
    harness: Harness, source: Source, tmp_path: Path
) -> None:
    batches = tmp_path / "batches"
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": batches.as_uri(), "prefix": "tap-postgres-"},
    }
    meltano = postgres_meltano(harness, source).with_env(
        TAP_POSTGRES_BATCH_CONFIG=json.dumps(batch_config)
    )

    finished = meltano.run(*PIPELINE)

    assert finished.returncode == 0, finished.explain()
    written = list(batches.iterdir())
    assert written, "the tap wrote no batch file"
    assert all(path.suffix == ".gz" for path in written)
    assert_all_delivered(harness, source)
    assert_rejected(
        harness.rejected(),
        split_users(source.users).bad,
        split_events(source.events).bad,
    )


@pytest.mark.parametrize("ledger_kind", ["sqlite", "postgres"])
def test_with_the_event_ledger_the_re_read_boundary_event_is_not_sent_again(
    harness: Harness, source: Source, ledger_kind: str, tmp_path: Path
) -> None:
    if ledger_kind == "sqlite":
        ledger = {"TARGET_CLEVERTAP_EVENT_LEDGER_PATH": str(tmp_path / "ledger" / "events.db")}
    else:
        database = f"ledger_{source.database}"
        source.server.create_database(database)
        url = f"postgresql://postgres@{source.server.host}:{source.server.port}/{database}"
        ledger = {"TARGET_CLEVERTAP_EVENT_LEDGER_URL": url}
    meltano = postgres_meltano(harness, source).with_env(**ledger)

    first = meltano.run(*PIPELINE)
    assert first.returncode == 0, first.explain()
    boundary = Reread.at(source, bookmarks(meltano)).events
    events_before = len(harness.stored().events)
    new = new_event(1, source.users[0]["id"], "2025-04-03T10:00:00Z")
    source.add([], [new])
    second = meltano.run(*PIPELINE)

    assert second.returncode == 0, second.explain()
    assert boundary, "tap-postgres re-reads the row at its bookmark: the case under test"
    sent = [e["evt_data"]["event_id"] for e in harness.stored().events[events_before:]]
    assert sent == [new["event_id"]]
    if not any(is_bad_event(row) for row in boundary):
        assert f"already delivered {len(boundary)} " in second.stderr
