"""Bad records in otherwise good input: each is rejected with a reason, the others delivered."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import run_target, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT

SCHEMA = {
    "properties": {
        "identity": {},
        "name": {"type": ["string", "null"]},
        "ts": {},
        "score": {"type": ["integer", "null"]},
    },
    "additionalProperties": True,
}
BAD_RECORDS: dict[str, tuple[dict[str, Any], str]] = {
    "violates its schema": ({"identity": "b1", "score": "high"}, "schema_invalid"),
    "a 1 MB string": ({"identity": "b2", "bio": "x" * 1_000_000}, "value_too_long"),
    "10,000 properties": (
        {"identity": "b3", **{f"p{i}": i for i in range(10_000)}},
        "too_many_properties",
    ),
    "empty identity": ({"identity": "", "name": "n"}, "identity_missing"),
    "whitespace identity": ({"identity": "   ", "name": "n"}, "identity_missing"),
    "null identity": ({"identity": None, "name": "n"}, "identity_missing"),
    "year 1900": ({"identity": "b4", "ts": "1900-01-01T00:00:00Z"}, "timestamp_invalid"),
    "year 3000": ({"identity": "b5", "ts": "3000-01-01T00:00:00Z"}, "timestamp_invalid"),
    "negative timestamp": ({"identity": "b6", "ts": -5}, "timestamp_invalid"),
    "NaN timestamp": ({"identity": "b7", "ts": "NaN"}, "timestamp_invalid"),
    "NaN inside an object": ({"identity": "b9", "meta": {"weight": float("nan")}}, "value_invalid"),
    # Found when sending: last, as its rejection is written when its batch is delivered.
    "a lone surrogate": ({"identity": "b8", "name": "half \ud800 a pair"}, "text_invalid"),
}


def test_each_bad_record_is_rejected_with_its_reason_and_the_rest_delivered(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    good = [singer.record("users", {"identity": f"g{i}", "name": f"Good {i}"}) for i in range(5)]
    numeric_identity = singer.record("users", {"identity": 12345, "ts": 1_700_000_000_000})
    singer_input = singer.lines(
        singer.schema("users", SCHEMA),
        good[:2],
        [singer.record("users", data) for data, _ in BAD_RECORDS.values()],
        numeric_identity,
        good[2:],
        singer.state({"done": True}),
    )
    config = {
        "account_id": SANDBOX_ACCOUNT,
        "passcode": PASSCODE,
        "api_url": sandbox.url,
        "rejected_records_path": str(tmp_path / "rejected.jsonl"),
    }

    done = run_target(["--config", str(write_config(tmp_path, config))], singer_input)

    assert done.exit_code == 0, done.stderr
    rejected_text = (tmp_path / "rejected.jsonl").read_text()
    assert PASSCODE not in rejected_text
    rejected = [json.loads(line) for line in rejected_text.splitlines()]
    assert [r["code"] for r in rejected] == [code for _, code in BAD_RECORDS.values()]
    assert all(r["source"] == "local" and r["error"] for r in rejected)
    kept_nan = next(r["record"] for r in rejected if r["record"]["identity"] == "b9")
    assert math.isnan(kept_nan["meta"]["weight"])  # as the tap wrote it, `NaN`
    profiles = {p["identity"]: p for p in sandbox.profiles()}
    assert set(profiles) == {f"g{i}" for i in range(5)} | {"12345"}
    assert profiles["12345"]["ts"] == 1_700_000_000
    assert done.states == [{"done": True}]
    assert f"sent 6, accepted 6, rejected locally {len(BAD_RECORDS)}," in done.last_log_line
