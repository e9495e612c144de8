"""The `properties` setting: renames, left-out columns, operations, dates, category keys, and
the refusals at start (config_errors) and at SCHEMA time (plan_stream)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from target_clevertap.config import config_errors
from target_clevertap.field_mapping import compile_properties, property_errors
from target_clevertap.mapping import Rejection
from target_clevertap.plan import UnusableStreamSettings, plan_stream
from tests.unit.plans import event_plan, map_record, profile_plan

VALID = {"account_id": "ACC-1", "passcode": "s3cr3t-pass", "region": "eu1"}


def mapped(record: dict[str, Any], properties: dict[str, Any], **plan: Any) -> Any:
    """The profileData built for `{"id": "u-1", **record}` with these properties."""
    result = map_record(
        {"id": "u-1", **record}, profile_plan(fields=compile_properties(properties), **plan)
    )
    assert not isinstance(result, Rejection), result
    return result["profileData"]


def refused(record: dict[str, Any], properties: dict[str, Any], **plan: Any) -> Rejection:
    result = map_record(
        {"id": "u-1", **record}, profile_plan(fields=compile_properties(properties), **plan)
    )
    assert isinstance(result, Rejection), result
    return result


def event_mapped(record: dict[str, Any], properties: dict[str, Any], name: str = "Paid") -> Any:
    plan = event_plan(fields=compile_properties(properties))
    result = map_record({"id": "u-1", "event": name, **record}, plan)
    assert not isinstance(result, Rejection), result
    return result["evtData"]


def errors_of(properties: Any, stream_type: str | None = None) -> list[str]:
    entry: dict[str, Any] = {"properties": properties}
    if stream_type:
        entry["type"] = stream_type
    if stream_type == "event":
        entry["event_name"] = "Paid"
    return config_errors({**VALID, "streams": {"users": entry}})


# --- renames and left-out columns ---------------------------------------------------------------


def test_text_renames_a_column() -> None:
    assert mapped({"plan_name": "gold"}, {"plan_name": "Plan"}) == {"Plan": "gold"}


def test_null_leaves_a_column_out() -> None:
    assert mapped({"secret": "x", "plan": "gold"}, {"secret": None}) == {"plan": "gold"}


def test_to_a_standard_key_takes_its_value_rule() -> None:
    assert mapped({"mail": " ana@example.com "}, {"mail": "Email"}) == {"Email": "ana@example.com"}
    assert refused({"mail": "nope"}, {"mail": "Email"}).code == "email_invalid"


def test_explicit_to_takes_its_key_out_of_standard_matching() -> None:
    record = {"mail": "ana@example.com", "email": "old@example.com"}
    assert mapped(record, {"mail": "Email"}) == {
        "Email": "ana@example.com",
        "email": "old@example.com",  # keeps its own name, a custom property, unchecked
    }


def test_a_column_named_as_an_explicit_target_conflicts_per_record() -> None:
    rejection = refused({"mail": "a@example.com", "Email": "b@example.com"}, {"mail": "Email"})
    assert rejection.code == "field_conflict"
    assert "'mail'" in rejection.reason
    assert "'Email'" in rejection.reason


def test_a_renamed_column_and_a_column_of_that_name_conflict() -> None:
    assert refused({"a": 1, "b": 2}, {"a": "b"}).code == "field_conflict"
    assert mapped({"a": 1}, {"a": "b"}) == {"b": 1}


def test_an_entry_without_to_keeps_the_automatic_name() -> None:
    assert mapped({"date_of_birth": 631152000}, {"date_of_birth": {"format": "date"}}) == {
        "DOB": "$D_631152000"
    }


def test_a_routing_field_listed_in_properties_is_also_sent_as_data() -> None:
    assert mapped({"plan": "gold"}, {"id": "User ID"}) == {"User ID": "u-1", "plan": "gold"}


def test_event_columns_can_be_renamed() -> None:
    assert event_mapped({"sku": "B-1"}, {"sku": "SKU"}) == {"SKU": "B-1"}


# --- operations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "items"),
    [
        (["vip", "beta"], ["vip", "beta"]),
        ("vip", ["vip"]),
        (7, ["7"]),
        (True, ["true"]),
        ([1, None, Decimal("2.5")], ["1", "2.5"]),
        ([], []),
    ],
)
@pytest.mark.parametrize("operation", ["add", "remove"])
def test_add_and_remove_send_lists_of_text(value: Any, items: list[str], operation: str) -> None:
    properties = {"tags": {"operation": operation}}
    assert mapped({"tags": value}, properties) == {"tags": {f"${operation}": items}}


def test_an_operation_can_rename_too() -> None:
    assert mapped({"tag": "vip"}, {"tag": {"to": "Tags", "operation": "add"}}) == {
        "Tags": {"$add": ["vip"]}
    }


def test_more_than_100_items_reject_the_record_never_truncated() -> None:
    properties = {"tags": {"operation": "add"}}
    assert mapped({"tags": [str(i) for i in range(100)]}, properties)["tags"]["$add"][99] == "99"
    rejection = refused({"tags": [str(i) for i in range(101)]}, properties)
    assert rejection.code == "value_invalid"
    assert "101 items" in rejection.reason


@pytest.mark.parametrize("value", [{"a": 1}, [["nested"]], [{"a": 1}]])
def test_add_refuses_nested_values(value: Any) -> None:
    assert refused({"tags": value}, {"tags": {"operation": "add"}}).code == "value_invalid"


def test_add_refuses_an_item_over_512_bytes() -> None:
    assert refused({"tags": ["x" * 513]}, {"tags": {"operation": "add"}}).code == "value_too_long"


@pytest.mark.parametrize(
    ("value", "sent"), [(5, 5), (Decimal("2.5"), 2.5), (Decimal("3"), 3), (-1.5, -1.5)]
)
@pytest.mark.parametrize("operation", ["incr", "decr"])
def test_incr_and_decr_send_numbers(value: Any, sent: Any, operation: str) -> None:
    properties = {"points": {"operation": operation}}
    assert mapped({"points": value}, properties) == {"points": {f"${operation}": sent}}


@pytest.mark.parametrize("value", ["5", True, [1], {"n": 1}, float("nan"), Decimal("Infinity")])
def test_incr_refuses_what_is_not_a_number(value: Any) -> None:
    rejection = refused({"points": value}, {"points": {"operation": "incr"}})
    assert rejection.code == "value_invalid"
    assert "points" in rejection.reason


@pytest.mark.parametrize("operation", ["add", "incr"])
def test_a_null_with_an_operation_is_left_out_even_when_nulls_unset(operation: str) -> None:
    properties = {"n": {"operation": operation}}
    assert mapped({"n": None, "plan": None}, properties, on_null="unset") == {
        "plan": {"$delete": True}
    }


# --- format: date ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (1700000000, "$D_1700000000"),
        (1700000000123, "$D_1700000000"),  # milliseconds from 10**11 up, as for ts
        ("1700000000", "$D_1700000000"),
        ("2023-11-14T22:13:20Z", "$D_1700000000"),
        ("1990-01-01", "$D_631152000"),
    ],
)
def test_format_date_makes_a_date_without_a_schema_format(value: Any, sent: str) -> None:
    assert mapped({"signup": value}, {"signup": {"format": "date"}}) == {"signup": sent}
    assert event_mapped({"when": value}, {"when": {"to": "When", "format": "date"}}) == {
        "When": sent
    }


def test_format_date_refuses_what_is_not_a_time() -> None:
    assert refused({"signup": "soon"}, {"signup": {"format": "date"}}).code == "timestamp_invalid"


# --- subscription category keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["category-unsubscribe", "category_unsubscribe", "Category Unsubscribe"]
)
def test_category_keys_are_sent_as_objects(key: str) -> None:
    value = {"email": ["Marketing"], "push": ["Offers", "News"]}
    assert mapped({key: value}, {}) == {"category-unsubscribe": value}


def test_category_keys_read_json_text() -> None:
    assert mapped({"category_resubscribe": '{"sms": ["Alerts"]}'}, {}) == {
        "category-resubscribe": {"sms": ["Alerts"]}
    }


@pytest.mark.parametrize(
    "value",
    [
        ["Marketing"],
        "Marketing",
        {"fax": ["Marketing"]},
        {"email": "Marketing"},
        {"email": [1]},
        {"email": [""]},
        '{"email": "x"}',
    ],
)
def test_category_keys_of_another_shape_reject_the_record(value: Any) -> None:
    rejection = refused({"category-unsubscribe": value}, {})
    assert rejection.code == "value_invalid"
    assert "email, push, sms, whatsapp" in rejection.reason


def test_a_column_can_be_mapped_to_a_category_key() -> None:
    assert mapped({"unsub": {"whatsapp": ["Promos"]}}, {"unsub": "category-unsubscribe"}) == {
        "category-unsubscribe": {"whatsapp": ["Promos"]}
    }


# --- refusals at start -------------------------------------------------------------------------


def test_a_well_formed_properties_setting_passes() -> None:
    properties = {
        "mail": "Email",
        "secret": None,
        "tags": {"operation": "add"},
        "points": {"to": "Points", "operation": "incr"},
        "signup": {"format": "date"},
    }
    assert errors_of(properties) == []
    assert errors_of(properties, "profile") == []


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ("mail", "must be an object keyed by source key"),
        ({"mail": 5}, "'streams.users.properties.mail' is 5"),
        ({"mail": {"to": "Email", "as": "x"}}, "'streams.users.properties.mail' has 'as'"),
        (
            {"tags": {"operation": "append"}},
            "'streams.users.properties.tags.operation' is 'append'",
        ),
        ({"mail": {"to": "k" * 121}}, "'streams.users.properties.mail.to' is 121 bytes"),
        ({"mail": {"to": ""}}, "'streams.users.properties.mail.to' is ''"),
        ({"mail": ""}, "'streams.users.properties.mail' is ''"),
        ({"when": {"format": "datetime"}}, "'streams.users.properties.when.format' is 'datetime'"),
        ({"when": {"format": "date", "operation": "add"}}, "operation 'set' only"),
        ({"m": {"to": "Email", "operation": "add"}}, "'Email' is a standard profile key"),
        ({"Phone": {"operation": "incr"}}, "'Phone' is a standard profile key"),
        ({"a": "Plan", "b": {"to": "Plan"}}, "sends 'a' and 'b' both to the CleverTap key 'Plan'"),
    ],
)
def test_mistakes_are_refused_at_start_naming_stream_and_key(
    properties: Any, expected: str
) -> None:
    errors = errors_of(properties)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_a_to_of_120_multibyte_bytes_passes() -> None:
    assert errors_of({"name": {"to": "é" * 60}}) == []
    assert "121 bytes" in errors_of({"name": {"to": "é" * 60 + "x"}})[0]


@pytest.mark.parametrize("operation", ["add", "remove", "incr", "decr"])
def test_operations_on_an_event_stream_are_refused_at_start(operation: str) -> None:
    errors = errors_of({"points": {"operation": operation}}, "event")
    assert errors == [
        f"Setting 'streams.users.properties.points.operation' is '{operation}', but the stream "
        "holds events, which have no stored properties to change; use 'set' (or leave operation "
        "out)."
    ]


def test_set_is_allowed_on_an_event_stream() -> None:
    assert errors_of({"sku": {"to": "SKU", "operation": "set", "format": "date"}}, "event") == []


def test_an_operation_on_a_stream_found_to_hold_events_stops_at_its_schema() -> None:
    settings = {**VALID, "streams": {"orders": {"properties": {"n": {"operation": "incr"}}}}}
    assert config_errors(settings) == []
    with pytest.raises(UnusableStreamSettings, match=r"streams\.orders\.properties\.n\.operation"):
        plan_stream(settings, "orders", {"properties": {"evtName": {}, "n": {}}})


def test_properties_compile_into_the_plan() -> None:
    settings = {**VALID, "streams": {"*": {"properties": {"mail": "Email"}}}}
    plan = plan_stream(settings, "users", {"properties": {}})
    assert plan.fields.explicit_keys == frozenset({"Email"})


def test_property_errors_pass_an_unset_setting() -> None:
    assert property_errors("users", None, None) == []
