"""The event ledger: the real target process against the sandbox, with each kind of ledger
(a SQLite file, and the PostgreSQL server of the session).

What is checked comes from the sandbox's store (events CleverTap would hold), the state lines
and the summary: a re-run sends no event CleverTap accepted before; a crash re-sends only the
events in flight at the kill; an event possibly stored twice is counted as such.
"""

from __future__ import annotations

import itertools
import multiprocessing
import re
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from target_clevertap.event_keys import EventKeys
from target_clevertap.ledger import (
    KEYS_PER_STATEMENT,
    SQLITE_PAGE_SIZE,
    TABLE,
    WRITERS,
    Ledger,
    PostgresLedger,
    SqliteLedger,
)
from target_clevertap.sandbox import Faults, Rules, Sandbox
from tests import singer
from tests.e2e.e2e_postgres import PostgresServer
from tests.process import TARGET, Finished, run_target, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT

_databases = itertools.count(1)
KILL_DEADLINE_SECONDS = 60


class LedgerUnderTest:
    """One ledger kind: the settings pointing at it, and a way to read back its keys."""

    def __init__(
        self,
        kind: str,
        setting: dict[str, str],
        read_keys: Callable[[], list[bytes]],
        execute: Callable[[str], object],
    ) -> None:
        self.kind = kind
        self.setting = setting
        self.keys = read_keys
        self.execute = execute  # one SQL statement, committed


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerUnderTest:
    if request.param == "sqlite":
        path = tmp_path / "ledger" / "events.db"  # its folder does not exist yet

        def sqlite_keys() -> list[bytes]:
            with sqlite3.connect(path) as db:
                return [row[0] for row in db.execute(f"SELECT event_key FROM {TABLE}")]

        def sqlite_execute(statement: str) -> None:
            with sqlite3.connect(path) as db:
                db.execute(statement)

        return LedgerUnderTest(
            "sqlite", {"event_ledger_path": str(path)}, sqlite_keys, sqlite_execute
        )
    server: PostgresServer = request.getfixturevalue("postgres")
    database = f"ledger_{next(_databases)}"
    server.create_database(database)
    url = f"postgresql://postgres@{server.host}:{server.port}/{database}"

    return LedgerUnderTest(
        "postgres",
        {"event_ledger_url": url},
        lambda: postgres_keys(server, database),
        lambda statement: server.psql(statement, database),
    )


def open_run(ledger: LedgerUnderTest) -> Ledger:
    """The ledger as one run of the target opens it."""
    if ledger.kind == "sqlite":
        return SqliteLedger(SANDBOX_ACCOUNT, ledger.setting["event_ledger_path"], read_only=False)
    return PostgresLedger(SANDBOX_ACCOUNT, ledger.setting["event_ledger_url"], read_only=False)


def event_key(ts: int, name: str) -> bytes:
    return EventKeys(()).key_of({}, {**click_payload(0), "ts": ts, "evtName": name})


def postgres_keys(server: PostgresServer, database: str) -> list[bytes]:
    text = server.psql(f"SELECT encode(event_key, 'hex') FROM {TABLE}", database)
    return [bytes.fromhex(line) for line in text.split()]


def run(config: dict[str, Any], tmp_path: Path, singer_input: str) -> Finished:
    return run_target(["--config", str(write_config(tmp_path, config))], singer_input)


def clicks(count: int, start: int = 0, every: int = 0) -> str:
    """A `clicks` event stream, with a STATE after every `every` events (and at the end)."""
    out = [singer.schema("clicks", singer.EVENT_SCHEMA)]
    for first in range(start, start + count, every or count):
        size = min(every or count, start + count - first)
        out += [*singer.events("clicks", size, start=first), singer.state({"clicks": first + size})]
    return singer.lines(out)


def stored_identities(sandbox: Sandbox) -> Counter[str]:
    return Counter(str(event["identity"]) for event in sandbox.events())


def test_the_same_input_run_twice_sends_its_events_once(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    config = {**settings, **ledger.setting, "batch_size_rows": 7}
    singer_input = clicks(20, every=10)

    first = run(config, tmp_path, singer_input)
    second = run(config, tmp_path, singer_input)

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert stored_identities(sandbox) == Counter(f"u{i}" for i in range(20))
    assert len(ledger.keys()) == 20
    assert "already delivered 20 (by an earlier run: not sent again)" in second.stderr
    assert "Stream 'clicks': received 20, sent 0, accepted 0" in second.stderr
    # Records left out count as done: the state moves past them.
    assert second.states[-1] == {"clicks": 20}


def test_within_one_run_every_record_is_sent_even_identical_ones(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    config = {**settings, **ledger.setting, "batch_size_rows": 2}
    event = singer.events("clicks", 1)[0]
    singer_input = singer.lines(singer.schema("clicks", singer.EVENT_SCHEMA), [event] * 5)

    done = run(config, tmp_path, singer_input)

    assert done.exit_code == 0, done.stderr
    assert stored_identities(sandbox) == Counter({"u0": 5})
    assert ledger.keys() == ledger.keys()[:1]  # one key, recorded once


def test_key_fields_name_the_event_and_events_without_a_key_are_always_sent(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    streams = {"orders": {"type": "event", "event_name": "Charged", "event_key_fields": ["oid"]}}
    config = {**settings, **ledger.setting, "streams": streams}
    schema = {
        "properties": {
            "identity": {"type": "string"},
            "oid": {"type": ["string", "null"]},
            "amount": {"type": "number"},
        }
    }

    def orders(amount: int) -> str:
        return singer.lines(
            singer.schema("orders", schema),
            singer.record("orders", {"identity": "u1", "oid": "o-1", "amount": amount}),
            singer.record("orders", {"identity": "u1", "oid": None, "amount": amount}),
        )

    first = run(config, tmp_path, orders(10))
    # The same order with another amount is the same event by its key fields: not sent again.
    second = run(config, tmp_path, orders(11))

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert Counter(e["evt_data"].get("oid") for e in sandbox.events()) == {None: 2, "o-1": 1}
    assert "already delivered 1 " in second.stderr
    assert "sent without a key 1 (not deduplicated)" in second.stderr


def test_a_timeout_after_the_event_was_stored_counts_as_possibly_duplicated(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    # The first request is stored after the target stopped waiting for it; the retry is stored
    # too. The ledger cannot know: the summary says so.
    sandbox.set_faults(Faults(sequence=["slow:1.5"]))
    config = {**settings, **ledger.setting, "request_timeout": 0.5}

    done = run(config, tmp_path, clicks(3))
    time.sleep(1.5)  # the slow request's own store, after its answer was given up

    assert done.exit_code == 0, done.stderr
    assert "possibly duplicated 3 (see the warnings)" in done.stderr
    assert "3 events of the batch from input record 1 on may be stored twice" in done.stderr
    assert stored_identities(sandbox) == Counter({"u0": 2, "u1": 2, "u2": 2})
    assert len(ledger.keys()) == 3  # accepted, so recorded: a re-run does not add a third copy


def test_a_stored_then_503_batch_counts_as_possibly_duplicated(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(sequence=["store:503"]))

    done = run({**settings, **ledger.setting}, tmp_path, clicks(2))

    assert done.exit_code == 0, done.stderr
    assert "possibly duplicated 2" in done.stderr
    assert stored_identities(sandbox) == Counter({"u0": 2, "u1": 2})


def test_events_clevertap_rejects_are_not_recorded_so_a_fixed_replay_sends_them(
    settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    refused = singer.record(
        "clicks", {"identity": "u9", "evtName": "Discarded", "ts": 1_700_000_009, "amount": 9}
    )
    rules = Rules(discarded_events=frozenset({"Discarded"}))
    with Sandbox(
        account_id=SANDBOX_ACCOUNT, passcode=PASSCODE, db_path=tmp_path / "sb2.db", rules=rules
    ) as discarding:
        config = {**settings, **ledger.setting, "api_url": discarding.url}
        done = run(config, tmp_path, clicks(2)[:-1] + "\n" + refused + "\n")
        stored = stored_identities(discarding)

    assert done.exit_code == 0, done.stderr
    assert "rejected by CleverTap 1" in done.stderr
    assert stored == Counter({"u0": 1, "u1": 1})
    assert len(ledger.keys()) == 2


def test_a_dry_run_reads_the_ledger_and_never_writes_it(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    config = {**settings, **ledger.setting}
    run(config, tmp_path, clicks(2))

    dry = run({**config, "dry_run": True}, tmp_path, clicks(4))

    assert dry.exit_code == 0, dry.stderr
    assert "already delivered 2 " in dry.stderr
    assert len(ledger.keys()) == 2


def test_a_dry_run_before_any_run_creates_no_ledger(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"

    dry = run({**settings, "event_ledger_path": str(path), "dry_run": True}, tmp_path, clicks(2))

    assert dry.exit_code == 0, dry.stderr
    assert not path.exists()


def test_profiles_do_not_use_the_ledger(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    config = {**settings, **ledger.setting}
    for _ in range(2):
        done = run(config, tmp_path, singer.users_then_state(3, {"users": 3}))
        assert done.exit_code == 0, done.stderr
        assert "Stream 'users': received 3, sent 3, accepted 3" in done.stderr
    assert ledger.keys() == []


def test_a_corrupt_ledger_file_stops_the_run_at_start(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is no database " * 100)

    done = run({**settings, "event_ledger_path": str(path)}, tmp_path, clicks(2))

    assert done.exit_code == 1
    assert done.last_log_line.endswith(
        f"The event ledger '{path}' cannot be opened: file is not a database."
    )
    assert "Traceback" not in done.stderr
    assert sandbox.events() == []


def _open_and_record(path: str) -> None:
    ledger = SqliteLedger(SANDBOX_ACCOUNT, path, read_only=False)
    ledger.remember("clicks", [bytes(24)])
    ledger.close()


def test_jobs_starting_together_on_a_new_sqlite_ledger_all_open_it(tmp_path: Path) -> None:
    # Switching a new file to WAL fails at once, busy timeout or not, while another process is
    # switching it too: one of four openings in ten failed that way ("database is locked").
    fork = multiprocessing.get_context("fork")
    for attempt in range(100):
        path = str(tmp_path / str(attempt) / "ledger.db")
        jobs = [fork.Process(target=_open_and_record, args=(path,)) for _ in range(4)]
        for job in jobs:
            job.start()
        for job in jobs:
            job.join(timeout=60)
        assert [job.exitcode for job in jobs] == [0] * 4, f"attempt {attempt}"


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_sqlite_ledger_has_large_pages_and_an_older_file_keeps_its_own(
    tmp_path: Path,
) -> None:
    new, older = tmp_path / "new.db", tmp_path / "older.db"
    with sqlite3.connect(older) as db:  # a ledger file made before the page size was set
        db.execute("PRAGMA page_size = 4096")  # SQLite's usual default, whatever this build's
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"CREATE TABLE {TABLE} (x)")
        db.execute(f"DROP TABLE {TABLE}")
    keys = [event_key(100, "Clicked"), event_key(101, "Clicked")]

    for path in (new, older):
        earlier = SqliteLedger(SANDBOX_ACCOUNT, str(path), read_only=False)
        earlier.remember("clicks", keys)
        earlier.close()
        later = SqliteLedger(SANDBOX_ACCOUNT, str(path), read_only=False)
        assert later.delivered_before("clicks", keys) == set(keys)
        later.close()

    assert _page_size(new) == SQLITE_PAGE_SIZE
    assert _page_size(older) == 4096


def test_an_unreachable_ledger_database_stops_the_run_at_start_without_its_password(
    sandbox: Sandbox, settings: dict[str, Any], postgres: PostgresServer, tmp_path: Path
) -> None:
    url = f"postgresql://postgres:hunter22@{postgres.host}:{postgres.port}/no_such_database"

    done = run({**settings, "event_ledger_url": url}, tmp_path, clicks(2))

    assert done.exit_code == 1
    assert (
        f"The event ledger at postgresql://{postgres.host}:{postgres.port}/no_such_database "
        "cannot be opened: " in done.last_log_line
    )
    assert "hunter22" not in done.stderr
    assert "Traceback" not in done.stderr
    assert sandbox.events() == []


def test_a_ledger_lost_mid_run_fails_the_run_and_no_state_passes_unrecorded_events(
    sandbox: Sandbox, settings: dict[str, Any], postgres: PostgresServer, tmp_path: Path
) -> None:
    database = f"ledger_{next(_databases)}"
    postgres.create_database(database)
    url = f"postgresql://postgres@{postgres.host}:{postgres.port}/{database}"
    sandbox.set_faults(Faults(latency_ms=100))
    config = {**settings, "event_ledger_url": url, "batch_size_rows": 10, "max_concurrency": 2}
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(clicks(2000, every=10))
    with input_path.open("rb") as singer_input:
        process = subprocess.Popen(
            [TARGET, "--config", str(write_config(tmp_path, config))],
            stdin=singer_input,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    # The ledger's table is made before any request; wait for a few keys in it.
    while sandbox.counts()["events"] < 50 or not postgres_keys(postgres, database):
        assert time.monotonic() < deadline, "no key was ever recorded"
        assert process.poll() is None, "the target ended before its ledger was lost"
        time.sleep(0.05)

    postgres.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    out, err = process.communicate(timeout=60)

    done = Finished(process.returncode, out.decode(), err.decode())
    assert done.exit_code == 1, done.stderr
    where = re.escape(f"postgresql://{postgres.host}:{postgres.port}/{database}")
    assert re.search(f"The event ledger at {where} could not (read|write) it: ", done.stderr)
    recorded = identities_of(postgres_keys(postgres, database))
    covered = done.states[-1]["clicks"] if done.states else 0
    assert {f"u{i}" for i in range(covered)} <= recorded
    assert len(recorded) < 2000


def test_keys_older_than_the_retention_are_pruned_at_start(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    config = {**settings, "event_ledger_path": str(path)}
    run(config, tmp_path, clicks(2))
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {TABLE} SET recorded_at = recorded_at - 31 * 86400")

    again = run(config, tmp_path, clicks(2))

    assert again.exit_code == 0, again.stderr
    assert stored_identities(sandbox) == Counter({"u0": 2, "u1": 2})


def test_two_processes_share_one_ledger(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    config_path = write_config(tmp_path, {**settings, **ledger.setting, "batch_size_rows": 10})
    processes = [
        subprocess.Popen(
            [TARGET, "--config", str(config_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    # The same new events at the same moment: both processes may send them (README), and both
    # must work.
    finished = [p.communicate(clicks(200, every=50).encode(), timeout=60) for p in processes]

    for process, (_, stderr) in zip(processes, finished, strict=True):
        assert process.returncode == 0, stderr.decode()
    stored = stored_identities(sandbox)
    assert set(stored) == {f"u{i}" for i in range(200)}
    assert max(stored.values()) <= 2
    assert len(ledger.keys()) == 200


def test_a_key_found_again_is_kept_longer(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    config = {**settings, "event_ledger_path": str(path)}
    run(config, tmp_path, clicks(2))
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {TABLE} SET recorded_at = recorded_at - 29 * 86400")

    run(config, tmp_path, clicks(2))  # finds both: refreshed, so 2 more days do not prune them
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {TABLE} SET recorded_at = recorded_at - 2 * 86400")
    third = run(config, tmp_path, clicks(2))

    assert third.exit_code == 0, third.stderr
    assert "already delivered 2 " in third.stderr
    assert stored_identities(sandbox) == Counter({"u0": 1, "u1": 1})


def test_a_batch_newer_than_every_recorded_key_is_not_looked_up_key_by_key(
    ledger: LedgerUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    boundary, newer = event_key(100, "Clicked"), event_key(200, "Clicked")
    earlier = open_run(ledger)
    earlier.remember("clicks", [boundary])
    earlier.close()
    ledger.execute(f"UPDATE {WRITERS} SET last_write = last_write - 60")  # it ran a while ago
    lookups: list[int] = []
    later = open_run(ledger)
    known = type(later)._known
    monkeypatch.setattr(
        type(later), "_known", lambda self, *args: lookups.append(1) or known(self, *args)
    )

    assert later.delivered_before("clicks", [newer]) == set()
    assert lookups == []
    # The boundary row a tap re-reads (`>=` on its replication key) is found.
    assert later.delivered_before("clicks", [boundary, newer]) == {boundary}
    assert lookups == [1]
    later.close()


def test_a_run_finds_keys_another_run_records_while_it_runs(ledger: LedgerUnderTest) -> None:
    first, second = open_run(ledger), open_run(ledger)
    assert first.delivered_before("clicks", [event_key(100, "Clicked")]) == set()

    taken = [event_key(200, "Clicked"), event_key(201, "Clicked")]
    second.remember("clicks", taken)

    assert first.delivered_before("clicks", [*taken, event_key(202, "Clicked")]) == set(taken)
    assert second.delivered_before("clicks", taken) == set()  # its own keys: sent within a run
    first.close()
    second.close()


def test_more_keys_than_one_statement_takes_are_all_recorded_and_found(
    ledger: LedgerUnderTest,
) -> None:
    keys = [event_key(1000 + n, "Clicked") for n in range(2 * KEYS_PER_STATEMENT + 1)]
    earlier = open_run(ledger)
    earlier.remember("clicks", keys[1:])
    earlier.close()

    assert sorted(ledger.keys()) == sorted(keys[1:])
    later = open_run(ledger)
    assert later.delivered_before("clicks", keys) == set(keys[1:])
    later.close()


# A crash: SIGKILL while 15 requests are in flight, then the run again from the last state.
CRASH_EVENTS = 3000
CRASH_BATCH = 20
CRASH_CONCURRENCY = 15
KILL_AFTER_STORED = 600


def test_a_crash_then_a_rerun_re_sends_only_events_in_flight_at_the_kill(
    sandbox: Sandbox, settings: dict[str, Any], ledger: LedgerUnderTest, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(latency_ms=200))
    config = {
        **settings,
        **ledger.setting,
        "batch_size_rows": CRASH_BATCH,
        "max_concurrency": CRASH_CONCURRENCY,
    }
    config_path = write_config(tmp_path, config)
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(clicks(CRASH_EVENTS, every=CRASH_BATCH))

    states = kill_when_stored(sandbox, config_path, input_path, KILL_AFTER_STORED)
    assert sandbox.stats()["max_in_flight_seen"] >= CRASH_CONCURRENCY  # the window was full
    stored_at_kill = stored_identities(sandbox)
    acknowledged = identities_of(ledger.keys())
    resume_from = states[-1]["clicks"] if states else 0
    # Every event the last STATE covers was recorded before that STATE was written.
    assert {f"u{i}" for i in range(resume_from)} <= acknowledged
    rerun = run_target(
        ["--config", str(config_path)], clicks(CRASH_EVENTS - resume_from, start=resume_from)
    )

    assert rerun.exit_code == 0, rerun.stderr
    stored = stored_identities(sandbox)
    everything = {f"u{i}" for i in range(CRASH_EVENTS)}
    assert set(stored) == everything  # nothing missing
    duplicated = {identity for identity, n in stored.items() if n > 1}
    # No event whose batch CleverTap had acknowledged (and the ledger recorded) went twice...
    assert not duplicated & acknowledged
    # ...the others were stored before the kill without the target hearing back: in flight.
    in_flight = set(stored_at_kill) - acknowledged
    assert duplicated <= in_flight
    assert len(in_flight) <= CRASH_CONCURRENCY * CRASH_BATCH
    assert len(acknowledged) >= KILL_AFTER_STORED - CRASH_CONCURRENCY * CRASH_BATCH


def kill_when_stored(
    sandbox: Sandbox, config_path: Path, input_path: Path, stored: int
) -> list[Any]:
    """Run the target on the input, SIGKILL it once the sandbox holds `stored` events; its
    STATE lines."""
    with input_path.open("rb") as singer_input:
        process = subprocess.Popen(
            [TARGET, "--config", str(config_path)],
            stdin=singer_input,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    while sandbox.counts()["events"] < stored:
        assert process.poll() is None, "the target ended before the kill"
        assert time.monotonic() < deadline, "the sandbox never held enough events"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=30)
    # The requests in flight at the kill are still stored by the sandbox: wait for them.
    while sandbox.stats()["in_flight"]:
        assert time.monotonic() < deadline + KILL_DEADLINE_SECONDS, "requests never finished"
        time.sleep(0.05)
    return Finished(0, out.decode(), "").states


def identities_of(keys: list[bytes]) -> set[str]:
    """The identities (u0, u1, ...) of the `clicks` events whose keys the ledger holds."""
    keyer = EventKeys(())
    by_key = {
        keyer.key_of({}, payload): str(payload["identity"])
        for i in range(CRASH_EVENTS)
        for payload in [click_payload(i)]
    }
    return {by_key[key] for key in keys}


def click_payload(i: int) -> dict[str, Any]:
    """What the target sends for `singer.events` record i (see tests/singer.py)."""
    return {
        "type": "event",
        "identity": f"u{i}",
        "ts": 1_700_000_000 + i,
        "evtName": "Viewed",
        "evtData": {"amount": i},
    }
