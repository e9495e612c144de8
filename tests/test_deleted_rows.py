"""Rows marked deleted (`_sdc_deleted_at` set) are never upserted unless `on_delete` says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import run_target, write_config

DELETED_AT = "2026-11-30T10:00:00Z"


def users_with_one_erased() -> str:
    return singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.record("users", {"identity": "u1", "name": "Ann"}),
        singer.record("users", {"identity": "u2", "name": "Bob", "_sdc_deleted_at": DELETED_AT}),
        singer.record("users", {"identity": "u3", "name": "Cy", "_sdc_deleted_at": None}),
        singer.state({"done": True}),
    )


def stored_identities(sandbox: Sandbox) -> list[str]:
    return sorted(row["identity"] for row in sandbox.profiles())


def test_a_row_marked_deleted_is_not_sent_counted_and_state_moves_on(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    done = run_target(["--config", str(write_config(tmp_path, settings))], users_with_one_erased())

    assert done.exit_code == 0, done.stderr
    assert stored_identities(sandbox) == ["u1", "u3"]
    assert done.states == [{"done": True}]
    assert (
        "Stream 'users': received 3, sent 2, accepted 2, rejected locally 0, rejected by "
        "CleverTap 0, skipped 1 rows marked deleted (_sdc_deleted_at): not sent, so CleverTap "
        "keeps what it had for them (setting 'on_delete')."
    ) in done.stderr


def test_on_delete_upsert_sends_rows_marked_deleted_as_before(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    config = {**settings, "streams": {"users": {"on_delete": "upsert"}}}

    done = run_target(["--config", str(write_config(tmp_path, config))], users_with_one_erased())

    assert done.exit_code == 0, done.stderr
    assert stored_identities(sandbox) == ["u1", "u2", "u3"]
    assert "skipped" not in done.stderr


def test_a_deleted_event_row_is_not_sent_either(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    deleted = {"identity": "u1", "evtName": "Viewed", "ts": 1_700_000_000, "_sdc_deleted_at": "x"}
    singer_input = singer.lines(
        singer.schema("clicks", singer.EVENT_SCHEMA),
        singer.events("clicks", 2),
        singer.record("clicks", deleted),
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert len(sandbox.events()) == 2
    assert "Stream 'clicks': received 3, sent 2" in done.stderr


def test_the_setting_of_the_stream_a_row_is_mapped_to_decides(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    config: dict[str, Any] = {**settings, "stream_maps": {"users": {"__alias__": "people"}}}
    first = run_target(["--config", str(write_config(tmp_path, config))], users_with_one_erased())
    config["streams"] = {"people": {"on_delete": "upsert"}}
    second = run_target(["--config", str(write_config(tmp_path, config))], users_with_one_erased())

    assert first.exit_code == second.exit_code == 0, first.stderr + second.stderr
    assert "Stream 'people': received 3, sent 2" in first.stderr
    assert stored_identities(sandbox) == ["u1", "u2", "u3"]


def test_a_deleted_row_of_a_stream_without_schema_still_stops_the_run(
    settings: dict, tmp_path: Path
) -> None:
    singer_input = singer.lines(
        singer.record("ghosts", {"identity": "g1", "_sdc_deleted_at": DELETED_AT})
    )

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 1
    assert "Input line 1:" in done.last_log_line
