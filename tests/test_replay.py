"""Replaying a rejected-records file after the cause was fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
