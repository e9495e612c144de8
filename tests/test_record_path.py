"""The lean record path keeps what the SDK's does: metrics, metadata, stream maps, max age, errors.

Records of a stream no stream map changes skip the SDK's per-record machinery; everything else
takes the SDK's path. Each test holds for both, most through the real process.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from target_clevertap import target as target_module
from target_clevertap.sandbox import Sandbox
from target_clevertap.target import TargetClevertap
from tests import singer
from tests.process import run_target, write_config
from tests.upload_api import UploadApi, rejected_lines


def record_counts(log: str) -> Counter[str]:
    """Records counted per stream by the SDK's `METRIC: {...record_count...}` log lines."""
    counts: Counter[str] = Counter()
    for line in log.splitlines():
        _, found, point = line.partition("METRIC: ")
        metric = json.loads(point) if found else {}
        if metric.get("metric") == "record_count":
            counts[metric["tags"]["stream"]] += metric["value"]
    return counts


def identities(sandbox: Sandbox) -> list[str]:
    return sorted(row["identity"] for row in sandbox.profiles())


def test_metric_lines_count_every_record_read_rejected_ones_too(
    settings: dict, tmp_path: Path
) -> None:
    singer_input = singer.users_and_clicks(
        singer.profiles("users", 7),
        singer.events("clicks", 4),
        singer.record("clicks", {"identity": "u9", "evtName": "Viewed", "ts": "not a number"}),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert record_counts(done.stderr) == {"users": 7, "clicks": 5}
    assert len(rejected_lines(settings)) == 1


def test_metric_lines_are_logged_while_records_arrive(
    upload_api: UploadApi, config: dict, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(target_module, "CLOCK_CHECK_SECONDS", 0.0)
    target = TargetClevertap(config=config)

    def singer_input() -> Iterator[str]:
        yield singer.schema("users", singer.PROFILE_SCHEMA)
        target.get_sink("users").record_counter_metric.log_interval = 0.0
        yield from singer.profiles("users", 5)

    with caplog.at_level(logging.INFO):
        assert target.run(singer_input()) == 0  # type: ignore[arg-type]

    metric_lines = [line for line in caplog.text.splitlines() if "record_count" in line]
    assert len(metric_lines) > 1, "the counter should log during the run, not only at its end"
    assert record_counts(caplog.text) == {"users": 5}


def test_sdc_metadata_keys_are_dropped_before_mapping(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    metadata = {"_sdc_extracted_at": "2024-01-01T00:00:00Z", "_sdc_sequence": 7}
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.record("users", {"identity": "u1", "name": "Ann", **metadata}),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 0, done.stderr
    [row] = sandbox.profiles()
    assert row["identity"] == "u1"
    assert not [key for key in json.dumps(row["profile"]).split('"') if key.startswith("_sdc_")]


def test_stream_maps_still_filter_and_transform_records(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    config = {
        **settings,
        "stream_maps": {"users": {"__filter__": "identity != 'u1'", "name": "name.upper()"}},
    }

    done = run_target(
        ["--config", str(write_config(tmp_path, config))], singer.users_then_state(3, {"n": 3})
    )

    assert done.exit_code == 0, done.stderr
    assert identities(sandbox) == ["u0", "u2"]
    assert {json.dumps(row["profile"]).count("USER ") for row in sandbox.profiles()} == {1}
    assert record_counts(done.stderr) == {"users": 2}


def test_an_aliased_stream_is_loaded_under_its_alias(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    config = {**settings, "stream_maps": {"users": {"__alias__": "people"}}}

    done = run_target(
        ["--config", str(write_config(tmp_path, config))], singer.users_then_state(2, {"n": 2})
    )

    assert done.exit_code == 0, done.stderr
    assert identities(sandbox) == ["u0", "u1"]
    assert "Stream 'people'" in done.stderr
    assert record_counts(done.stderr) == {"people": 2}


def test_a_record_of_a_stream_without_schema_stops_with_its_line_number(
    settings: dict, tmp_path: Path
) -> None:
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 2),
        singer.record("ghost", {"identity": "x"}),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 1
    assert "Input line 4: A record for stream 'ghost' was encountered before" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_new_schema_applies_to_the_records_after_it(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    strict = {"properties": {"identity": {"type": "string"}, "name": {"type": "integer"}}}
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.record("users", {"identity": "u1", "name": "Ann"}),
        singer.schema("users", strict),
        singer.record("users", {"identity": "u2", "name": "Bob"}),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert identities(sandbox) == ["u1"]
    assert [line["code"] for line in rejected_lines(settings)] == ["schema_invalid"]


def test_buffered_records_are_sent_once_older_than_the_max_record_age(
    upload_api: UploadApi, config: dict, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(target_module, "CLOCK_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(TargetClevertap, "_MAX_RECORD_AGE_IN_MINUTES", 0.5 / 60)
    config["max_concurrency"] = 1
    target = TargetClevertap(config=config)

    def singer_input() -> Iterator[str]:
        yield singer.schema("users", singer.PROFILE_SCHEMA)
        target.drain_all()  # the age counts from here
        yield from singer.profiles("users", 2)
        time.sleep(0.6)
        yield from singer.profiles("users", 2, start=2)

    with caplog.at_level(logging.INFO):
        assert target.run(singer_input()) == 0  # type: ignore[arg-type]

    assert [[r["identity"] for r in body] for body in upload_api.bodies] == [
        ["u0", "u1", "u2"],
        ["u3"],
    ]
    assert "exceeded the max age" in caplog.text


def run_in_process(config: dict[str, Any], singer_input: str) -> TargetClevertap:
    target = TargetClevertap(config=config)
    assert target.run(io.StringIO(singer_input)) == 0
    return target


def test_lean_and_sdk_paths_send_reject_and_checkpoint_alike(
    upload_api: UploadApi, config: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    config.update(batch_size_rows=2, max_concurrency=1)
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 3),
        singer.record("users", {"identity": "u3", "name": 5, "_sdc_deleted_at": None}),
        singer.state({"n": 4}),
        singer.profiles("users", 2, start=4),
        singer.state({"n": 6}),
    )
    outcomes = []
    for stream_maps in ({}, {"users": {}}):  # `{}` for users: the SDK's path, same records
        lean = run_in_process({**config, "stream_maps": stream_maps}, singer_input)
        rejected = [{**line, "rejected_at": None} for line in rejected_lines(config)]
        outcomes.append((upload_api.bodies, capsys.readouterr().out, rejected))
        upload_api.requests.clear()
        Path(config["rejected_records_path"]).unlink()
        assert bool(lean._lean_sinks.get("users")) == (not stream_maps)

    assert outcomes[0] == outcomes[1]
    bodies, states, rejected = outcomes[0]
    assert len(bodies) == 3
    assert states.splitlines() == ['{"n": 4}', '{"n": 6}']
    assert [line["code"] for line in rejected] == ["schema_invalid"]
