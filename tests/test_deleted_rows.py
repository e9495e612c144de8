"""Rows marked deleted (`_sdc_deleted_at` set) are never upserted unless `on_delete` says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.process import run_target, write_config
from tests.upload_api import rejected_lines

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
        "keeps what it had for them ('on_delete': 'delete' deletes their profiles)."
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


# --- on_delete: delete ------------------------------------------------------------------------


def deleting(settings: dict, **extra: Any) -> dict:
    return {**settings, "streams": {"users": {"on_delete": "delete"}}, **extra}


def test_a_row_marked_deleted_deletes_the_profile_and_its_events(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.schema("clicks", singer.EVENT_SCHEMA),
        singer.profiles("users", 3),
        singer.events("clicks", 3),
        singer.state({"step": 1}),
        singer.record("users", {"identity": "u1", "_sdc_deleted_at": DELETED_AT}),
        singer.state({"step": 2}),
    )

    done = run_target(["--config", str(write_config(tmp_path, deleting(settings)))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert stored_identities(sandbox) == ["u0", "u2"]
    assert sorted(e["identity"] for e in sandbox.events()) == ["u0", "u2"]
    [deletion] = sandbox.deletions()
    assert (deletion["key"], deletion["values"]) == ("identity", ["u1"])
    assert done.states[-1] == {"step": 2}
    assert "deleted 1 profiles" in done.stderr


def test_deletes_go_100_a_call_within_the_other_apis_budget(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(latency_ms=100))
    erased = [
        singer.record("users", {"identity": f"u{n}", "_sdc_deleted_at": DELETED_AT})
        for n in range(250)
    ]
    singer_input = singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), erased)
    config = deleting(settings, max_concurrency_other=2)

    done = run_target(["--config", str(write_config(tmp_path, config))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert sorted(len(d["values"]) for d in sandbox.deletions()) == [50, 100, 100]
    other_apis = sandbox.stats()["other_apis"]
    assert other_apis["max_in_flight_seen"] == 2
    assert other_apis["requests_by_status"] == {200: 3}


def test_upserts_and_deletes_of_one_user_land_in_reading_order_across_batches(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(latency_ms=50))

    def row(identity: str, name: str, deleted: bool = False) -> str:
        data = {"identity": identity, "name": name}
        return singer.record("users", {**data, "_sdc_deleted_at": DELETED_AT if deleted else None})

    history = []
    for n in range(30):  # each user: upserted, deleted, then (even ones) created again
        history += [row(f"u{n}", "First"), row(f"u{n}", "Gone", deleted=True)]
        if n % 2 == 0:
            history.append(row(f"u{n}", "Again"))
    config = deleting(settings, batch_size_rows=4, max_concurrency_other=3)

    done = run_target(
        ["--config", str(write_config(tmp_path, config))],
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), history),
    )

    assert done.exit_code == 0, done.stderr
    stored = {row["identity"]: row["profile"]["Name"] for row in sandbox.profiles()}
    assert stored == {f"u{n}": "Again" for n in range(0, 30, 2)}


def test_a_delete_that_keeps_failing_stops_the_run_with_no_state_past_it(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(forever="503", match="type=delete"))
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 2),
        singer.state({"step": 1}),
        singer.record("users", {"identity": "u0", "_sdc_deleted_at": DELETED_AT}),
        singer.state({"step": 2}),
    )
    config = deleting(settings, max_retries=1)

    done = run_target(["--config", str(write_config(tmp_path, config))], singer_input)

    assert done.exit_code == 1
    assert {"step": 2} not in done.states
    assert "profile delete attempt 1 failed" in done.stderr
    assert stored_identities(sandbox) == ["u0", "u1"]


def test_a_deletion_row_without_identity_is_rejected_and_warned_about(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.record("users", {"identity": None, "_sdc_deleted_at": DELETED_AT}),
    )

    done = run_target(["--config", str(write_config(tmp_path, deleting(settings)))], singer_input)

    assert done.exit_code == 0, done.stderr
    assert "Stream 'users': 1 rows marked deleted could not be erased" in done.stderr
    [rejected] = rejected_lines(settings)
    assert rejected["code"] == "identity_missing"


def test_a_delete_stream_erases_every_row_and_a_dry_run_erases_none(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    setup = run_target(
        ["--config", str(write_config(tmp_path, settings))],
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 3)),
    )
    erasures = singer.lines(
        singer.schema("erasures", {"properties": {"user_id": {"type": "string"}}}),
        singer.record("erasures", {"user_id": "u2"}),
    )
    config = {
        **settings,
        "streams": {"erasures": {"type": "delete", "identity_field": "user_id"}},
    }
    dry = run_target(
        ["--config", str(write_config(tmp_path, {**config, "dry_run": True}))], erasures
    )
    assert stored_identities(sandbox) == ["u0", "u1", "u2"]
    real = run_target(["--config", str(write_config(tmp_path, config))], erasures)

    assert setup.exit_code == dry.exit_code == real.exit_code == 0, real.stderr
    assert "would have deleted 1 profiles" in dry.stderr
    assert stored_identities(sandbox) == ["u0", "u1"]


def test_an_inferred_event_stream_told_to_delete_stops_at_its_schema(
    settings: dict, tmp_path: Path
) -> None:
    config = {**settings, "streams": {"clicks": {"on_delete": "delete"}}}
    singer_input = singer.lines(
        singer.schema("clicks", singer.EVENT_SCHEMA), singer.events("clicks", 1)
    )

    done = run_target(["--config", str(write_config(tmp_path, config))], singer_input)

    assert done.exit_code == 1
    assert done.last_log_line.endswith(
        "Input line 1: Setting 'streams.clicks.on_delete' is 'delete', but an event stream "
        "cannot delete (CleverTap deletes profiles, not single events); use 'skip' or 'upsert' "
        "for this stream."
    )
    assert "Traceback" not in done.stderr


# --- on_null ----------------------------------------------------------------------------------


def test_on_null_unset_clears_a_stored_property(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    schema = singer.lines(singer.schema("users", singer.PROFILE_SCHEMA))
    first = run_target(
        ["--config", str(write_config(tmp_path, settings))],
        schema + singer.record("users", {"identity": "u1", "name": "Ann", "email": "a@b.co"}),
    )
    config = {**settings, "streams": {"users": {"on_null": "unset"}}}
    second = run_target(
        ["--config", str(write_config(tmp_path, config))],
        schema + singer.record("users", {"identity": "u1", "name": "Ann", "email": None}),
    )

    assert first.exit_code == second.exit_code == 0, second.stderr
    [row] = sandbox.profiles()
    assert row["profile"].get("Name") == "Ann"
    assert "Email" not in row["profile"]
