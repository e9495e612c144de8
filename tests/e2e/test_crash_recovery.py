"""The target killed with SIGKILL in the middle of `meltano run tap-postgres target-clevertap`,
then the same run again from the state Meltano kept: nothing missing, few duplicates.

How tap-postgres (meltanolabs-tap-postgres 0.10.0 on Singer SDK 0.54) writes state: an
incremental stream is read `WHERE id >= bookmark ORDER BY id` (the SDK marks it sorted), its
bookmark follows every record, and a STATE message goes out every 10,000 records of a stream
(`Stream.STATE_MSG_FREQUENCY`, a class constant no setting changes) and when the stream ends. A
table of a few thousand rows therefore gets one STATE, at its very end, and a kill could only
resume from the start. So the events are split into TABLES tables of exactly BATCH_SIZE_ROWS
rows (as day- or month-partitioned event tables are): the tap ends a stream, and writes STATE,
after every batch's worth of rows, and the target passes each on once its batch is delivered.
A kill leaves Meltano a state that bookmarks the tables delivered so far; the rerun reads the
others in full and, through `>=`, the last row of each bookmarked table again.

Rows stored twice are then those boundary rows and the rows of the batches the sandbox stored
past that state. Those are the requests in flight at the kill and any batch whose answer came
while an older one was still in flight: the target writes a state only once every earlier
record is settled, so such a batch is not covered yet either. The target's per-request log line
tells the two apart. Together they are at most max_concurrency x batch_size_rows rows: the
target's reader stays within that many records of the oldest unsettled one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_harness import Harness
from e2e_meltano import Meltano, state_id
from e2e_postgres import PostgresServer
from e2e_sandbox import PASSCODE

from target_clevertap.sandbox import SandboxStore

pytestmark = pytest.mark.e2e

PIPELINE = ("tap-postgres", "target-clevertap")
STATE_ID = state_id("tap-postgres")
TABLES = 40
BATCH_SIZE_ROWS = 100
ROWS_PER_TABLE = BATCH_SIZE_ROWS  # one tap STATE per delivered batch
MAX_CONCURRENCY = 3
LATENCY_MS = 100
TOTAL_ROWS = TABLES * ROWS_PER_TABLE
KILL_AT_EVENTS = TOTAL_ROWS // 4  # stored in the sandbox before the kill
KILL_DEADLINE_SECONDS = 120
EXIT_TIMEOUT_SECONDS = 60
POLL_SECONDS = 0.02
STATE_UPDATED = "Incremental state has been updated"  # Meltano's log line per stored state
TARGET_EXECUTABLE = "target-clevertap"
STREAMS = "public-events_*"  # Meltano's select and metadata patterns for the tables below
# The target's log line once CleverTap has answered for a batch (README: one line per request,
# at DEBUG).
DELIVERED_LINE = re.compile(r"Stream '(public-events_\d+)': sent \d+, accepted \d+")

EVENTS_DDL = """
CREATE TABLE {table} (
    id bigint PRIMARY KEY,
    identity text NOT NULL,
    "evtName" text NOT NULL,
    ts timestamptz NOT NULL,
    amount numeric(10, 2) NOT NULL
);
INSERT INTO {table}
SELECT n, 'U' || (n % 97), 'Order Placed',
       timestamptz '2025-01-01 00:00:00+00' + n * interval '1 minute', n / 100.0
FROM generate_series({first}, {last}) AS n;
"""


@dataclass(frozen=True)
class Source:
    """TABLES event tables; table k holds the ids k*ROWS_PER_TABLE+1 .. (k+1)*ROWS_PER_TABLE,
    so an id names one row across all of them (it is in every stored event's data)."""

    server: PostgresServer
    database: str

    @staticmethod
    def table(number: int) -> str:
        return f"events_{number:02d}"

    @staticmethod
    def stream(number: int) -> str:
        return f"public-{Source.table(number)}"

    @staticmethod
    def ids(number: int) -> range:
        return range(number * ROWS_PER_TABLE + 1, (number + 1) * ROWS_PER_TABLE + 1)

    @property
    def ids_by_stream(self) -> dict[str, range]:
        return {self.stream(k): self.ids(k) for k in range(TABLES)}

    @property
    def all_ids(self) -> set[int]:
        return set(range(1, TOTAL_ROWS + 1))

    def create(self) -> None:
        self.server.create_database(self.database)
        ddl = [
            EVENTS_DDL.format(table=self.table(k), first=self.ids(k)[0], last=self.ids(k)[-1])
            for k in range(TABLES)
        ]
        self.server.psql("".join(ddl), self.database)

    def meltano(self, harness: Harness) -> Meltano:
        """The harness's Meltano: tap-postgres reads these tables incrementally by `id` (in
        place of meltano.yml's users/events), the target sends them as events in small batches."""
        incremental = {"replication-method": "INCREMENTAL", "replication-key": "id"}
        return harness.meltano.with_env(
            **self.server.tap_env(self.database),
            TAP_POSTGRES__SELECT=json.dumps([f"{STREAMS}.*"]),
            TAP_POSTGRES__METADATA=json.dumps({STREAMS: incremental}),
            TARGET_CLEVERTAP_STREAMS=json.dumps({"*": {"type": "event"}}),
            TARGET_CLEVERTAP_BATCH_SIZE_ROWS=str(BATCH_SIZE_ROWS),
            TARGET_CLEVERTAP_MAX_CONCURRENCY=str(MAX_CONCURRENCY),
            TARGET_CLEVERTAP_LOGLEVEL="DEBUG",  # for the per-request lines (DELIVERED_LINE)
        )


@pytest.fixture
def source(postgres: PostgresServer, tmp_path: Path) -> Source:
    created = Source(postgres, f"crash_{tmp_path.name.lower().replace('-', '_')}")
    created.create()
    return created


# --- what the sandbox and Meltano hold -------------------------------------------------------


def stored_ids(harness: Harness) -> Counter[int]:
    """How often each source row (by the `id` in the event data) is stored in the sandbox."""
    return Counter(int(event["evt_data"]["id"]) for event in harness.stored().events)


def stored_event_count(harness: Harness) -> int:
    with SandboxStore(harness.sandbox.db) as store:
        return int(store.counts()["events"])


def bookmarks(meltano: Meltano) -> dict[str, int]:
    """Meltano's stored bookmark (the last delivered id) per stream."""
    stored = meltano.state(STATE_ID).get("singer_state", {}).get("bookmarks", {})
    return {stream: int(mark["replication_key_value"]) for stream, mark in stored.items()}


def covered_ids(source: Source, marks: dict[str, int]) -> set[int]:
    """The rows a state says are delivered: every id up to its stream's bookmark."""
    ids = source.ids_by_stream
    return {n for stream, mark in marks.items() for n in ids[stream] if n <= mark}


def reread_ids(source: Source, marks: dict[str, int]) -> set[int]:
    """The rows a `>=` incremental read sends again: those equal to a bookmark."""
    ids = source.ids_by_stream
    return {mark for stream, mark in marks.items() if mark in ids[stream]}


@dataclass(frozen=True)
class Unsettled:
    """The batches (one table each) the sandbox stored but the state after the kill does not
    cover, split by whether the target had read CleverTap's answer before it died."""

    unanswered: frozenset[str]  # the requests in flight at the kill
    answered: frozenset[str]  # finished while an older batch was in flight, so no state yet

    @classmethod
    def after_kill(
        cls, source: Source, marks: dict[str, int], stored: Counter[int], log: str
    ) -> Unsettled:
        covered = covered_ids(source, marks)
        streams = {
            stream
            for stream, ids in source.ids_by_stream.items()
            if any(n in stored and n not in covered for n in ids)
        }
        answered = set(DELIVERED_LINE.findall(log))
        return cls(frozenset(streams - answered), frozenset(streams & answered))

    def ids(self, source: Source) -> set[int]:
        by_stream = source.ids_by_stream
        return {n for stream in self.unanswered | self.answered for n in by_stream[stream]}


# --- the process tree of `meltano run` -------------------------------------------------------


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is `parent` (from /proc: field 4 of /proc/PID/stat)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields_after_name = stat.rpartition(")")[2].split()
        if int(fields_after_name[1]) == parent:
            children.append(int(entry.name))
    return children


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_target(pid: int) -> bool:
    """The loader's process: its executable (or the script its interpreter runs) is the
    target's console script; checking names, not substrings, ignores a checkout directory
    that happens to be called target-clevertap."""
    return any(Path(arg).name == TARGET_EXECUTABLE for arg in command_line(pid)[:2])


def target_pid(meltano_pid: int) -> int:
    found = [pid for pid in child_pids(meltano_pid) if is_target(pid)]
    assert len(found) == 1, f"expected one {TARGET_EXECUTABLE} child of meltano, found {found}"
    return found[0]


# --- the run that gets killed ----------------------------------------------------------------


@dataclass(frozen=True)
class Logs:
    """Where one background `meltano run` writes its stdout and stderr."""

    stdout: Path
    stderr: Path

    @classmethod
    def under(cls, directory: Path, name: str) -> Logs:
        return cls(directory / f"{name}.stdout.log", directory / f"{name}.stderr.log")

    def text(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


@dataclass(frozen=True)
class Kill:
    """What was seen when the target got SIGKILL."""

    stored_at_kill: int
    seconds_into_run: float
    returncode: int


def ready_to_kill(harness: Harness, logs: Logs) -> bool:
    """Meltano has stored a state, part of the rows are in the sandbox, and uploads are in
    flight (so that the kill catches some, most of the time)."""
    return (
        STATE_UPDATED in logs.text()
        and stored_event_count(harness) >= KILL_AT_EVENTS
        and harness.sandbox.stats()["in_flight"] > 0
    )


def wait_until_ready_to_kill(run: subprocess.Popen[str], harness: Harness, logs: Logs) -> None:
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if ready_to_kill(harness, logs):
            return
        assert run.poll() is None, (
            f"meltano run exited ({run.returncode}) before it could be killed mid-way "
            f"({stored_event_count(harness)} of {TOTAL_ROWS} rows stored); log:\n"
            + logs.stderr.read_text(errors="replace")[-4000:]
        )
        time.sleep(POLL_SECONDS)
    raise AssertionError(
        f"no stored state, {KILL_AT_EVENTS} rows in the sandbox and an upload in flight "
        f"within {KILL_DEADLINE_SECONDS}s"
    )


def run_and_kill_target(meltano: Meltano, harness: Harness, logs: Logs) -> Kill:
    """Start `meltano run`, SIGKILL the target mid-way, wait for Meltano to give up."""
    started = time.monotonic()
    with logs.stdout.open("w") as stdout, logs.stderr.open("w") as stderr:
        run = meltano.start_run(*PIPELINE, stdout=stdout, stderr=stderr)
        try:
            wait_until_ready_to_kill(run, harness, logs)
            os.kill(target_pid(run.pid), signal.SIGKILL)
            stored_at_kill = stored_event_count(harness)
            seconds = time.monotonic() - started
            returncode = run.wait(EXIT_TIMEOUT_SECONDS)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    return Kill(stored_at_kill, seconds, returncode)


def wait_for_sandbox_idle(harness: Harness) -> None:
    """Requests the dead target had in flight are still being answered (and stored): let the
    sandbox finish them, so the counts taken next are final."""
    deadline = time.monotonic() + EXIT_TIMEOUT_SECONDS
    while harness.sandbox.stats()["in_flight"]:
        assert time.monotonic() < deadline, "the sandbox still has requests in flight"
        time.sleep(POLL_SECONDS)


# --- assertions ------------------------------------------------------------------------------


def assert_killed_mid_run(kill: Kill, marks: dict[str, int], stored: Counter[int]) -> None:
    assert kill.returncode != 0, "meltano run succeeded although its target was killed"
    assert 0 < len(stored) < TOTAL_ROWS, f"{len(stored)} of {TOTAL_ROWS} rows stored at the kill"
    assert 0 < len(marks) < TABLES, (
        f"the state after the kill bookmarks {len(marks)} of {TABLES} tables; a mid-run "
        "checkpoint bookmarks some and not all"
    )


def assert_state_covers_only_stored(
    source: Source, marks: dict[str, int], stored: Counter[int]
) -> None:
    missing = sorted(covered_ids(source, marks) - set(stored))
    assert not missing, f"the state covers rows the sandbox never stored: {missing[:20]}"


def assert_rerun_resumed(source: Source, marks: dict[str, int], resent: Counter[int]) -> None:
    """The rerun sent each row the state did not cover, and the re-read boundary rows, once."""
    expected = (source.all_ids - covered_ids(source, marks)) | reread_ids(source, marks)
    assert sorted(resent.elements()) == sorted(expected), (
        f"the rerun sent {sum(resent.values())} rows, expected {len(expected)}: "
        f"unexpected {sorted(set(resent) - expected)[:20]}, "
        f"missing {sorted(expected - set(resent))[:20]}"
    )


def assert_stored_once_or_twice(source: Source, final: Counter[int]) -> None:
    missing = sorted(source.all_ids - set(final))
    assert not missing, f"rows never stored: {missing[:20]}"
    assert max(final.values()) <= 2, f"rows stored 3 or more times: {final.most_common(5)}"


def assert_duplicates_bounded(
    source: Source, marks: dict[str, int], final: Counter[int], unsettled: Unsettled
) -> dict[str, int]:
    """Rows stored twice are the re-read boundary rows and the rows of unsettled batches: those
    in flight at the kill and those that finished behind an older one still in flight, together
    at most max_concurrency x batch_size_rows rows."""
    duplicates = {n for n, count in final.items() if count > 1}
    boundary = reread_ids(source, marks)
    assert duplicates - boundary == unsettled.ids(source), (
        f"rows stored twice besides the {len(boundary)} re-read boundary rows: "
        f"{len(duplicates - boundary)}, expected those of the unsettled batches {unsettled}"
    )
    assert len(unsettled.unanswered) <= MAX_CONCURRENCY, (
        f"{len(unsettled.unanswered)} batches were stored but unanswered at the kill, more than "
        f"max_concurrency={MAX_CONCURRENCY} requests in flight: {sorted(unsettled.unanswered)}"
    )
    resent = len(duplicates - boundary)
    assert resent <= MAX_CONCURRENCY * BATCH_SIZE_ROWS, (
        f"{resent} delivered rows were sent again, more than max_concurrency x batch_size_rows "
        f"= {MAX_CONCURRENCY * BATCH_SIZE_ROWS}: {unsettled}"
    )
    return {
        "duplicates": len(duplicates),
        "boundary": len(boundary),
        "in_flight": len(unsettled.unanswered) * BATCH_SIZE_ROWS,
        "finished_out_of_order": len(unsettled.answered) * BATCH_SIZE_ROWS,
    }


def assert_no_passcode(*outputs: str) -> None:
    assert any("Stream 'public-events_" in text for text in outputs), (
        "the target's log lines are not in the captured output, so the passcode check is moot"
    )
    for text in outputs:
        assert PASSCODE not in text, "the passcode appears in a captured log"


# --- the test --------------------------------------------------------------------------------


@pytest.fixture
def slow_harness(harness: Harness) -> Harness:
    """The sandbox answers every upload after LATENCY_MS, so a run takes long enough to kill."""
    harness.sandbox.set_faults(latency_ms=LATENCY_MS)
    return harness


def test_sigkill_mid_run_then_rerun_loses_nothing_and_resends_only_unsettled_batches(
    slow_harness: Harness, source: Source
) -> None:
    harness = slow_harness
    meltano = source.meltano(harness)
    killed_logs = Logs.under(harness.tmp_path, "killed-run")

    kill = run_and_kill_target(meltano, harness, killed_logs)
    wait_for_sandbox_idle(harness)

    after_kill, marks = stored_ids(harness), bookmarks(meltano)
    assert_killed_mid_run(kill, marks, after_kill)
    assert_state_covers_only_stored(source, marks, after_kill)
    unsettled = Unsettled.after_kill(source, marks, after_kill, killed_logs.text())

    harness.sandbox.set_faults()
    rerun = meltano.run(*PIPELINE)

    assert rerun.returncode == 0, rerun.explain()
    final = stored_ids(harness)
    assert_rerun_resumed(source, marks, final - after_kill)
    assert_stored_once_or_twice(source, final)
    counts = assert_duplicates_bounded(source, marks, final, unsettled)
    last_ids = {stream: ids[-1] for stream, ids in source.ids_by_stream.items()}
    assert bookmarks(meltano) == last_ids, "the final state is not the tap's last bookmarks"
    assert_no_passcode(killed_logs.text(), rerun.stdout, rerun.stderr)
    print(
        f"killed {kill.seconds_into_run:.1f}s into the run with {kill.stored_at_kill} rows "
        f"stored ({sum(after_kill.values())} once the sandbox was idle); state bookmarked "
        f"{len(marks)} of {TABLES} tables; rerun sent {sum((final - after_kill).values())}; "
        f"{counts}; {sum(final.values())} events stored for {len(final)} rows"
    )
