"""Replaying a rejected-records file after the cause was fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from target_clevertap.replay import inferred_schema
from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import run_target, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT

ORDER_SCHEMA = {
    "properties": {
        "identity": {"type": "string"},
        "amount": {"type": "number"},
        "placed_at": {"type": "string", "format": "date-time"},
    }
}


def orders_config(sandbox: Sandbox, tmp_path: Path, event_name: str) -> dict[str, Any]:
    return {
        "account_id": SANDBOX_ACCOUNT,
        "passcode": PASSCODE,
        "api_url": sandbox.url,
        "rejected_records_path": str(tmp_path / "rejected.jsonl"),
        "streams": {"orders": {"type": "event", "event_name": event_name}},
    }


def test_replay_resends_rejected_records_after_the_config_was_fixed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    orders = [
        singer.record(
            "orders", {"identity": f"u{i}", "amount": 10.5 + i, "placed_at": "2024-03-01T10:00:00Z"}
        )
        for i in range(3)
    ]
    first = run_target(
        ["--config", str(write_config(tmp_path, orders_config(sandbox, tmp_path, "App Launched")))],
        singer.lines(singer.schema("orders", ORDER_SCHEMA), orders),
    )
    assert first.exit_code == 0
    rejected_file = tmp_path / "rejected.jsonl"
    assert [json.loads(line)["code"] for line in rejected_file.read_text().splitlines()] == [
        "event_restricted"
    ] * 3
    assert sandbox.events() == []

    fixed = write_config(tmp_path, orders_config(sandbox, tmp_path, "Order Placed"))
    retry_file = tmp_path / "retry.jsonl"
    replay = subprocess.run(
        [
            str(Path(sys.executable).with_name("target-clevertap-replay")),
            str(rejected_file),
            "--config",
            str(fixed),
            "--rejected-records-path",
            str(retry_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert replay.returncode == 0, replay.stderr
    events = sandbox.events()
    assert sorted(e["identity"] for e in events) == ["u0", "u1", "u2"]
    assert {e["evt_name"] for e in events} == {"Order Placed"}
    assert {e["evt_data"]["placed_at"] for e in events} == {"$D_1709287200"}
    assert not retry_file.exists(), "nothing failed again"
    assert PASSCODE not in replay.stderr + replay.stdout


def test_inferred_schema_marks_only_all_iso_date_properties_as_dates() -> None:
    schema = inferred_schema(
        [
            {"a": "2024-01-02", "b": "2024-01-02", "c": 1},
            {"a": "2024-01-03T10:00:00+02:00", "b": "soon", "c": None},
        ]
    )

    assert schema["properties"] == {
        "a": {"type": ["string", "null"], "format": "date-time"},
        "b": {},
        "c": {},
    }


def replay_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("target-clevertap-replay")), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        ("missing file", "The file to replay, "),
        ("not JSON", "Line 2 of "),
        ("not a rejected line", "has no 'stream' and 'record'"),
        ("missing config", "does not exist"),
        ("config without credentials", "Setting 'account_id' is missing"),
        ("unwritable retry path", "Setting 'rejected_records_path'"),
        ("unusable ledger", "The event ledger"),
    ],
)
def test_a_replay_that_cannot_start_says_why_in_a_sentence(
    tmp_path: Path, mistake: str, expected: str
) -> None:
    rejected = tmp_path / "rejected.jsonl"
    line = json.dumps({"stream": "orders", "record": {"identity": "u1"}})
    rejected.write_text(line + "\n")
    config: dict[str, Any] = {
        "account_id": SANDBOX_ACCOUNT,
        "passcode": PASSCODE,
        "api_url": "http://127.0.0.1:9",
        "streams": {"orders": {"type": "event", "event_name": "Order Placed"}},
    }
    retry = tmp_path / "retry.jsonl"
    if mistake == "missing file":
        rejected.unlink()
    elif mistake == "not JSON":
        rejected.write_text(line + "\n{not json\n")
    elif mistake == "not a rejected line":
        rejected.write_text('{"identity": "u1"}\n')
    elif mistake == "config without credentials":
        del config["account_id"]
    elif mistake == "unwritable retry path":
        (tmp_path / "taken").write_text("a file, not a folder")
        retry = tmp_path / "taken" / "retry.jsonl"
    elif mistake == "unusable ledger":
        config["event_ledger_path"] = str(tmp_path)  # a folder, not a file
    config_path = write_config(tmp_path, config)
    if mistake == "missing config":
        config_path = tmp_path / "nowhere.json"

    replay = replay_command(
        str(rejected), "--config", str(config_path), "--rejected-records-path", str(retry)
    )

    assert replay.returncode == 1
    assert "Traceback" not in replay.stderr
    assert expected in replay.stderr
    assert PASSCODE not in replay.stderr + replay.stdout
    assert not retry.exists()
