"""BATCH messages: every record of the tap's batch files goes the way a RECORD would.

The files are written here as the SDK's `batch_config` writes them (JSON Lines, plain or gzip,
named by `file://` URLs in the message's manifest).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import run_target, write_config


def users(start: int, count: int) -> list[dict[str, Any]]:
    return [{"identity": f"u{n}", "name": f"User {n}"} for n in range(start, start + count)]


def batch_file(path: Path, rows: list[Any], *, gzipped: bool = False) -> str:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if gzipped:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path.as_uri()


def malformed_second_line(path: Path) -> str:
    path.write_text('{"identity": "u5"}\n{"identity": \n')
    return path.as_uri()


def batch(stream: str, *urls: str, compression: str = "none", **changes: Any) -> str:
    message = {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": list(urls),
        **changes,
    }
    return json.dumps({k: v for k, v in message.items() if v is not None})


def test_records_of_plain_and_gzip_batch_files_are_delivered_and_state_follows(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    plain = batch_file(tmp_path / "a.jsonl", users(0, 3))
    packed = batch_file(tmp_path / "b.jsonl.gz", users(3, 2), gzipped=True)
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        batch("users", plain),
        batch("users", packed, compression="gzip"),
        singer.state({"done": True}),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert sorted(row["identity"] for row in sandbox.profiles()) == [f"u{n}" for n in range(5)]
    assert done.states == [{"done": True}]
    assert "Stream 'users': received 5, sent 5, accepted 5" in done.stderr


def test_a_row_marked_deleted_in_a_batch_file_is_handled_like_in_a_record(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    rows = [*users(0, 2), {"identity": "u1", "_sdc_deleted_at": "2026-01-01T00:00:00Z"}]
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        batch("users", batch_file(tmp_path / "a.jsonl", rows)),
    )
    config = {**settings, "streams": {"users": {"on_delete": "delete"}}}

    done = run_target(["--config", str(write_config(tmp_path, config))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert [row["identity"] for row in sandbox.profiles()] == ["u0"]


@pytest.mark.parametrize(
    ("make_batch", "expected"),
    [
        (
            lambda tmp: batch("users", (tmp / "missing.jsonl").as_uri()),
            "Input line 4: BATCH file file://{tmp}/missing.jsonl cannot be read (no such file).",
        ),
        (
            lambda tmp: batch("users", malformed_second_line(tmp / "bad.jsonl")),
            "Input line 4: BATCH file file://{tmp}/bad.jsonl line 2: not valid JSON",
        ),
        (
            lambda tmp: batch("users", "s3://bucket/batch.jsonl"),
            "Input line 4: BATCH file 's3://bucket/batch.jsonl' is not a local file:// URL",
        ),
        (
            lambda tmp: json.dumps(
                {
                    "type": "BATCH",
                    "stream": "users",
                    "encoding": {"format": "parquet"},
                    "manifest": [],
                }
            ),
            "Input line 4: the BATCH message's files are 'parquet'; this target reads JSON Lines",
        ),
        (
            lambda tmp: batch("users", compression="zstd"),
            "Input line 4: the BATCH message's files use compression 'zstd'",
        ),
        (
            lambda tmp: json.dumps({"type": "BATCH", "stream": "users", "encoding": {}}),
            "Input line 4: the 'BATCH' message lacks 'manifest', which the Singer spec requires",
        ),
    ],
)
def test_a_batch_that_cannot_be_read_stops_the_run_with_no_state_past_it(
    sandbox: Sandbox, settings: dict, tmp_path: Path, make_batch: Any, expected: str
) -> None:
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 1),
        singer.state({"before": True}),
        make_batch(tmp_path),
        singer.state({"after": True}),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 1
    assert expected.format(tmp=tmp_path) in done.last_log_line
    assert {"after": True} not in done.states
    assert "Traceback" not in done.stderr


def test_about_declares_the_batch_capability() -> None:
    about = json.loads(run_target(["--about", "--format", "json"]).stdout)
    assert "batch" in about["capabilities"]
