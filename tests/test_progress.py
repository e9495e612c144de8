"""What a long run logs at INFO: a progress line per stream on a timer, not a line per batch.

The real process, on a real pipe, against the sandbox; the interval is made short through the
`progress_interval_seconds` setting.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import (
    assert_no_passcode,
    run_target,
    start_target,
    wait_for_log,
    write_config,
)

STATE = {"bookmarks": {"users": {"replication_key_value": 11}}, "currently_syncing": None}


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """Close the tap's end of the pipe and wait for the target to exit."""
    stdout, stderr = process.communicate(timeout=60)
    assert_no_passcode(stdout.decode(), stderr.decode())
    return process.returncode, stdout.decode(), stderr.decode()


def _start(settings: dict[str, Any], tmp_path: Path, **extra: Any) -> subprocess.Popen[bytes]:
    return start_target(["--config", str(write_config(tmp_path, {**settings, **extra}))])


def _send(process: subprocess.Popen[bytes], text: str) -> None:
    assert process.stdin is not None
    process.stdin.write(text.encode())
    process.stdin.flush()


def test_a_progress_line_per_stream_comes_on_the_timer_while_the_tap_is_quiet(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    bad = singer.record("users", {"identity": "u-bad", "email": "not an address"})
    process = _start(settings, tmp_path, batch_size_rows=5, progress_interval_seconds=0.2)
    _send(
        process,
        singer.lines(
            singer.schema("users", singer.PROFILE_SCHEMA),
            singer.profiles("users", 10),
            bad,
            json.dumps({"type": "STATE", "value": STATE}),
        ),
    )

    # The tap sends nothing more, its pipe still open: the line still comes, and shows
    # the two delivered batches, the rejected record and the stream's bookmark.
    wait_for_log(
        process,
        "Progress of stream 'users': read 11, sent 10, accepted 10, rejected 1, in flight 0, ",
    )
    wait_for_log(process, 'last state written: bookmark {"replication_key_value": 11}.')
    code, _, stderr = _finish(process)

    assert code == 0, stderr
    assert len(sandbox.profiles()) == 10


def test_per_batch_lines_are_debug_and_the_end_of_run_metrics_stay(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    process = _start(settings, tmp_path, batch_size_rows=5)
    _send(process, singer.users_then_state(23, {"n": 23}))
    code, stdout, stderr = _finish(process)

    assert code == 0, stderr
    assert stdout.splitlines()[-1] == '{"n": 23}'
    assert len(sandbox.profiles()) == 23
    info = [line for line in stderr.splitlines() if "| INFO " in line]
    # Five requests, and the drain of the last partial batch: none of them a line at INFO.
    assert not [line for line in info if "HTTP 200" in line or '"type":"timer"' in line]
    assert not [line for line in info if "is full" in line or "Progress of" in line]
    assert any('"metric":"record_count","value":23' in line for line in info)
    assert "Stream 'users': received 23, sent 23, accepted 23" in info[-1]


def test_at_debug_each_batch_has_its_line(settings: dict[str, Any], tmp_path: Path) -> None:
    config = write_config(tmp_path, {**settings, "batch_size_rows": 5})
    done = run_target(
        ["--config", str(config)],
        singer.users_then_state(12, {"n": 12}),
        env={"TARGET_CLEVERTAP_LOGLEVEL": "DEBUG"},
    )

    assert done.exit_code == 0, done.stderr
    sent = [line for line in done.stderr.splitlines() if "| DEBUG " in line and "HTTP 200" in line]
    assert len(sent) == 3  # 5 + 5 + 2
    assert any("Stream 'users': sent 2, accepted 2, rejected 0, HTTP 200" in s for s in sent)


def test_a_dry_run_sends_with_dry_run_stores_nothing_and_writes_no_state(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    """What meltano.yml's `dry_run` description promises, and what its progress line says."""
    bad = singer.record("users", {"identity": "u-bad", "email": "not an address"})
    process = _start(
        settings, tmp_path, dry_run=True, batch_size_rows=2, progress_interval_seconds=0.2
    )
    _send(process, singer.users_then_state(4, {"n": 4}) + bad + "\n")

    wait_for_log(process, "read 5, sent 4, accepted 4, rejected 1, in flight 0, ")
    wait_for_log(process, "; no state is written in a dry run.")
    code, stdout, stderr = _finish(process)

    assert code == 0, stderr
    assert stdout == ""
    assert sandbox.profiles() == []
    assert [(r["dry_run"], r["records"]) for r in sandbox.requests()] == [(1, 2), (1, 2)]
    rejected = (tmp_path / "rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["record"]["identity"] for line in rejected] == ["u-bad"]
    assert "Dry run: CleverTap validated the records and stored nothing" in stderr
