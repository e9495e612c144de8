"""The real process against the sandbox: field mapping with operations, category keys, Charged
from warehouse columns, identity lists and CleverTap IDs, and settings refused loudly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import Finished, run_target, write_config
from tests.upload_api import rejected_lines

USERS_SCHEMA: dict[str, Any] = {
    "properties": {
        "user_id": {"type": "string"},
        "mail": {"type": ["string", "null"]},
        "password_hash": {"type": ["string", "null"]},
        "new_tags": {},
        "points_earned": {},
        "signup_epoch": {"type": ["integer", "null"]},
        "category_unsubscribe": {},
    }
}
USERS_PROPERTIES = {
    "mail": "Email",
    "password_hash": None,
    "new_tags": {"to": "Tags", "operation": "add"},
    "points_earned": {"to": "Points", "operation": "incr"},
    "signup_epoch": {"to": "Signed Up", "format": "date"},
}
ORDERS_SCHEMA: dict[str, Any] = {
    "properties": {
        "user_id": {"type": "string"},
        "created_at": {"type": "string"},
        "amount": {"type": "number"},
        "charged_id": {"type": "string"},
        "items": {"type": ["string", "null"]},
    }
}


def run(settings: dict[str, Any], tmp_path: Path, *lines: str) -> Finished:
    return run_target(["--config", str(write_config(tmp_path, settings))], singer.lines(*lines))


def profile_of(sandbox: Sandbox, identity: str) -> dict[str, Any]:
    [row] = [row for row in sandbox.profiles() if row["identity"] == identity]
    profile: dict[str, Any] = row["profile"]
    return profile


def test_profile_properties_rename_leave_out_add_incr_date_and_categories(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        **settings,
        "streams": {"users": {"identity_field": "user_id", "properties": USERS_PROPERTIES}},
    }
    first = {
        "user_id": "u1",
        "mail": "ana@example.com",
        "password_hash": "x1",
        "new_tags": ["vip"],
        "points_earned": 5,
        "signup_epoch": 1_700_000_000_123,
        "category_unsubscribe": '{"email": ["Marketing"]}',
    }
    second = {"user_id": "u1", "new_tags": "beta", "points_earned": 2.5, "mail": None}
    too_many = {"user_id": "u2", "new_tags": [str(i) for i in range(101)]}

    done = run(
        config,
        tmp_path,
        singer.schema("users", USERS_SCHEMA),
        singer.record("users", first),
        singer.state({"n": 1}),
        singer.record("users", second),
        singer.record("users", too_many),
        singer.state({"n": 3}),
    )

    assert done.exit_code == 0, done.stderr
    assert done.states[-1] == {"n": 3}
    assert profile_of(sandbox, "u1") == {
        "Email": "ana@example.com",
        "Tags": ["vip", "beta"],
        "Points": 7.5,
        "Signed Up": "$D_1700000000",
        "category-unsubscribe": {"email": ["Marketing"]},
    }
    [rejected] = rejected_lines(settings)
    assert rejected["record"]["user_id"] == "u2"
    assert rejected["code"] == "value_invalid"
    assert "101 items" in rejected["error"]


def test_remove_and_decr_change_what_is_stored(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    properties = {
        "tags": {"to": "Tags", "operation": "add"},
        "untag": {"to": "Tags", "operation": "remove"},
        "spent": {"to": "Credit", "operation": "decr"},
    }
    # Two sources of one key are refused at start; one source a stream is fine.
    refused = run(
        {**settings, "streams": {"users": {"properties": properties}}},
        tmp_path,
        singer.schema("users", singer.PROFILE_SCHEMA),
    )
    assert refused.exit_code == 1
    assert "sends 'tags' and 'untag' both to the CleverTap key 'Tags'" in refused.stderr
    assert "Traceback" not in refused.stderr

    streams = {
        "adds": {"properties": {"tags": {"to": "Tags", "operation": "add"}}},
        "removes": {
            "properties": {
                "untag": {"to": "Tags", "operation": "remove"},
                "spent": {"to": "Credit", "operation": "decr"},
            }
        },
    }
    done = run(
        {**settings, "streams": streams},
        tmp_path,
        singer.schema("adds", {"properties": {"identity": {}, "tags": {}}}),
        singer.record("adds", {"identity": "u1", "tags": ["a", "b", "c"]}),
        singer.schema("removes", {"properties": {"identity": {}, "untag": {}, "spent": {}}}),
        singer.record("removes", {"identity": "u1", "untag": "b", "spent": 3}),
        singer.state({"done": True}),
    )

    assert done.exit_code == 0, done.stderr
    assert profile_of(sandbox, "u1") == {"Tags": ["a", "c"], "Credit": -3}


def test_charged_events_from_warehouse_columns(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        **settings,
        "streams": {
            "orders": {
                "type": "event",
                "identity_field": "user_id",
                "event_name": "Charged",
                "timestamp_field": "created_at",
            },
            "views": {"type": "event", "event_name": "Viewed"},
        },
    }
    items = [{"Product": "Book", "Quantity": 1, "Meta": {"isbn": "1"}}]
    many = [{"Product": f"P{i}"} for i in range(51)]
    order = {
        "user_id": "u1",
        "created_at": "2023-11-14T22:13:20Z",
        "amount": 30.5,
        "charged_id": "o-1",
        "items": json.dumps(items),
    }

    done = run(
        config,
        tmp_path,
        singer.schema("orders", ORDERS_SCHEMA),
        singer.record("orders", order),
        singer.record("orders", {**order, "charged_id": "o-2", "items": json.dumps(many)}),
        singer.record("orders", {**order, "charged_id": "o-3", "items": '{"Product": "Book"}'}),
        singer.schema("views", {"properties": {"identity": {}, "meta": {}}}),
        singer.record("views", {"identity": "u1", "meta": {"page": "/"}}),
        singer.record("views", {"identity": "u1", "meta": {"page": "/b"}}),
        singer.state({"done": True}),
    )

    assert done.exit_code == 0, done.stderr
    assert done.states == [{"done": True}]
    charged = {
        e["evt_data"]["Charged ID"]: e for e in sandbox.events() if e["evt_name"] == "Charged"
    }
    assert sorted(charged) == ["o-1", "o-2"]
    assert charged["o-1"]["evt_data"] == {
        "Amount": 30.5,
        "Charged ID": "o-1",
        "Items": [{"Product": "Book", "Quantity": 1, "Meta": '{"isbn":"1"}'}],
    }
    assert charged["o-1"]["ts"] == 1_700_000_000
    assert len(charged["o-2"]["evt_data"]["Items"]) == 51
    [rejected] = rejected_lines(settings)
    assert (rejected["code"], rejected["record"]["charged_id"]) == ("items_invalid", "o-3")
    assert (
        "Stream 'orders': Charged events with more than 50 Items were sent as they are "
        "(CleverTap's SDKs send at most 50; the server's limit is unknown): check one in the "
        "dashboard (1 records)."
    ) in done.stderr
    assert done.stderr.count("event property 'meta' holds dict values, sent as JSON text") == 1


def test_identity_lists_and_clevertap_ids_link_profiles_and_delete_by_identity(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    linked = {
        "type": "profile",
        "identity_field": ["user_id", "anonymous_id"],
        "object_id_field": "ct_id",
        "on_delete": "delete",
    }
    config = {
        **settings,
        "streams": {
            "identifies": linked,
            "tracks": {**linked, "type": "event", "on_delete": "skip"},
        },
    }
    schema = {"properties": {"user_id": {}, "anonymous_id": {}, "ct_id": {}, "plan": {}}}

    done = run(
        config,
        tmp_path,
        singer.schema("identifies", schema),
        singer.record("identifies", {"user_id": "u1", "ct_id": "__g1", "plan": "gold"}),
        singer.record("identifies", {"user_id": None, "anonymous_id": "a2", "plan": "free"}),
        singer.schema("tracks", {"properties": {**schema["properties"], "evtName": {}}}),
        singer.record("tracks", {"user_id": "u1", "ct_id": "__g1", "evtName": "Viewed"}),
        singer.record(
            "identifies", {"user_id": "u3", "ct_id": "__g3", "_sdc_deleted_at": "2026-01-01"}
        ),
        singer.state({"done": True}),
    )

    assert done.exit_code == 0, done.stderr
    stored = {(row["identity_key"], row["identity"]): row["profile"] for row in sandbox.profiles()}
    assert stored[("objectId", "__g1")] == {"identity": "u1", "plan": "gold"}
    assert stored[("identity", "a2")] == {"plan": "free"}
    [event] = sandbox.events()
    assert (event["identity_key"], event["identity"], event["evt_data"]) == (
        "objectId",
        "__g1",
        {},
    )
    [deleted] = sandbox.deletions()
    assert (deleted["key"], deleted["values"]) == ("identity", ["u3"])


def test_an_operation_on_an_event_stream_stops_the_run_before_reading(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    config = {
        **settings,
        "streams": {"orders": {"type": "event", "properties": {"n": {"operation": "incr"}}}},
    }
    done = run(config, tmp_path, singer.schema("orders", singer.EVENT_SCHEMA))

    assert done.exit_code == 1
    assert (
        "Setting 'streams.orders.properties.n.operation' is 'incr', but the stream holds events"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_an_operation_on_a_stream_whose_schema_shows_events_stops_at_that_schema(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = {**settings, "streams": {"clicks": {"properties": {"amount": {"operation": "incr"}}}}}
    done = run(
        config,
        tmp_path,
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 2),
        singer.state({"users": 2}),
        singer.schema("clicks", singer.EVENT_SCHEMA),
        singer.events("clicks", 1),
        singer.state({"clicks": 1}),
    )

    assert done.exit_code == 1
    assert "Input line 5: Setting 'streams.clicks.properties.amount.operation'" in done.stderr
    assert "Traceback" not in done.stderr
    assert {"clicks": 1} not in done.states
    assert sandbox.events() == []
