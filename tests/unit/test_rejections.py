"""Records refused locally: map_record's Rejection codes and reasons, and preflight's limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from target_clevertap import preflight
from target_clevertap.mapping import Rejection
from tests.unit.plans import EVENT_PLAN, PROFILE_PLAN, event_plan, map_record, profile_plan

JAN_1_2100 = 4102444800


def refuse(record: dict[str, Any], plan: Any = PROFILE_PLAN) -> Rejection:
    result = map_record(record, plan)
    assert isinstance(result, Rejection), result
    assert result.code
    assert result.reason
    return result


def minimal(plan: Any) -> dict[str, Any]:
    """The smallest record the plan maps: an identity, and an event name for events."""
    return {"id": "u-1"} if plan.kind == "profile" else {"id": "u-1", "event": "Signed Up"}


def accept(record: dict[str, Any], plan: Any = PROFILE_PLAN) -> dict[str, Any]:
    result = map_record(record, plan)
    assert not isinstance(result, Rejection), result
    return result


# --- identity, event name, timestamp ----------------------------------------------------------


@pytest.mark.parametrize("identity", [None, "", "   ", "\t\n", True, False, ["u-1"], {"id": 1}])
@pytest.mark.parametrize("plan", [PROFILE_PLAN, EVENT_PLAN], ids=["profile", "event"])
def test_identity_missing(identity: Any, plan: Any) -> None:
    refused = refuse({**minimal(plan), "id": identity}, plan)
    assert refused.code == "identity_missing"
    assert "'id'" in refused.reason
    assert refused.payload is None


def test_identity_field_absent() -> None:
    refused = refuse({"user": "u-1"}, profile_plan(identity_type="objectId"))
    assert refused.code == "identity_missing"
    assert refused.reason == (
        "Field 'id' (the objectId) is None; every record needs a non-empty identity."
    )


@pytest.mark.parametrize("identity", [float("nan"), float("inf"), Decimal("NaN")])
def test_identity_that_is_not_a_number_is_refused(identity: Any) -> None:
    assert refuse({"id": identity}).code == "value_invalid"


@pytest.mark.parametrize("name", [None, "", "   ", 5, ["Signed Up"]])
def test_event_name_missing(name: Any) -> None:
    refused = refuse({"id": "u-1", "event": name}, EVENT_PLAN)
    assert refused.code == "event_name_missing"
    assert "'event'" in refused.reason


def test_event_name_field_absent() -> None:
    assert refuse({"id": "u-1"}, EVENT_PLAN).code == "event_name_missing"


@pytest.mark.parametrize(
    "ts",
    [
        0,
        -1,
        -1700000000,
        0.0,
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        Decimal("0"),
        "0",
        "-5",
        "NaN",
        "nan",
        "inf",
        "yesterday",
        "1e10",
        "2023-13-01",
        "1900-01-01",
        "1900-01-01T00:00:00Z",
        dt.datetime(1900, 1, 1),
        dt.date(1900, 1, 1),
        "3000-01-01",
        "3000-01-01T00:00:00+00:00",
        dt.datetime(3000, 1, 1, tzinfo=dt.timezone.utc),
        32503680000,  # 3000-01-01 in seconds
        32503680000000,  # 3000-01-01 in milliseconds
        JAN_1_2100,
        10**400,
        "1" * 400,
        True,
        False,
        [1700000000],
        {"seconds": 1700000000},
    ],
)
@pytest.mark.parametrize("plan", [PROFILE_PLAN, EVENT_PLAN], ids=["profile", "event"])
def test_unusable_timestamps_are_refused(ts: Any, plan: Any) -> None:
    refused = refuse({**minimal(plan), "ts": ts}, plan)
    assert refused.code == "timestamp_invalid"
    assert refused.reason.startswith("'ts' is ")


def test_last_second_before_2100_is_a_timestamp() -> None:
    assert accept({"id": "u-1", "ts": JAN_1_2100 - 1})["ts"] == JAN_1_2100 - 1


@pytest.mark.parametrize(
    "raw", ["garbage", "2024-02-30", "", float("nan"), Decimal("NaN"), 10**400]
)
def test_unusable_dates_are_refused(raw: Any) -> None:
    plan = profile_plan(date_fields=frozenset({"signup"}))
    refused = refuse({"id": "u-1", "signup": raw}, plan)
    assert refused.code == "timestamp_invalid"
    assert refused.reason.startswith("'signup' is ")
    assert refuse({"id": "u-1", "dob": raw}).code == "timestamp_invalid"


def test_a_boolean_in_a_date_column_stays_a_boolean() -> None:
    plan = profile_plan(date_fields=frozenset({"signup"}))
    assert accept({"id": "u-1", "signup": True}, plan)["profileData"] == {"signup": True}
    assert refuse({"id": "u-1", "dob": True}).code == "timestamp_invalid"


# --- standard profile fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"gender": "x"}, "gender_invalid"),
        ({"gender": "other"}, "gender_invalid"),
        ({"gender": ""}, "gender_invalid"),
        ({"gender": 1}, "gender_invalid"),
        ({"employed": "maybe"}, "employed_invalid"),
        ({"employed": "223"}, "employed_invalid"),
        ({"Em_ployed": "maybe"}, "employed_invalid"),
        ({"married": "sometimes"}, "married_invalid"),
        ({"MARRIED": 2}, "married_invalid"),
        ({"education": "223"}, "education_invalid"),
        ({"education": "PhD"}, "education_invalid"),
        ({"age": "aa"}, "age_invalid"),
        ({"age": -1}, "age_invalid"),
        ({"age": True}, "age_invalid"),
        ({"age": "nan"}, "age_invalid"),
        ({"age": 10**30}, "age_invalid"),
        ({"email": "1234"}, "email_invalid"),
        ({"email": "$$$$$"}, "email_invalid"),
        ({"email": "a@b"}, "email_invalid"),
        ({"email": "a b@example.com"}, "email_invalid"),
        ({"email": "a@@example.com"}, "email_invalid"),
        ({"email": ""}, "email_invalid"),
        ({"msg_sms": "maybe"}, "msg_sms_invalid"),
        ({"msg sms": "maybe"}, "msg_sms_invalid"),
        ({"MSG-email": "sure"}, "msg_email_invalid"),
        ({"msg_push": 2}, "msg_push_invalid"),
        ({"msg_whatsapp": ""}, "msg_whatsapp_invalid"),
    ],
)
def test_standard_values_that_cannot_be_mapped(record: dict[str, Any], code: str) -> None:
    refused = refuse({"id": "u-1", **record})
    assert refused.code == code
    (source,) = record
    assert f"'{source}'" in refused.reason
    assert refused.payload is None


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("223", None),
        ("223", "US"),
        ("123", "US"),
        ("+44+441234", None),
        ("+44+441234", "GB"),
        ("4155550100", None),
        ("not a phone", "US"),
        ("", "US"),
        ("4155550100", "XX"),
        (True, "US"),
    ],
)
def test_phones_that_cannot_be_made_e164(phone: Any, region: str | None) -> None:
    refused = refuse({"id": "u-1", "phone": phone}, profile_plan(default_phone_region=region))
    assert refused.code == "phone_invalid"
    assert "'phone'" in refused.reason


def test_national_phone_without_region_says_how_to_fix_it() -> None:
    refused = refuse({"id": "u-1", "phone": "4155550100"})
    assert "default_phone_region" in refused.reason


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        2**63,
        -(2**63) - 1,
        Decimal("1E+400"),
        Decimal("1E+100000"),
        {"n": 2**64},
        {"n": Decimal("NaN")},
        {"n": float("nan")},  # JSON text would say null, silently
        {"deep": [{"n": float("-inf")}]},
        [["a"], [float("inf")]],
    ],
)
@pytest.mark.parametrize("plan", [PROFILE_PLAN, EVENT_PLAN], ids=["profile", "event"])
def test_numbers_json_cannot_carry_are_refused(value: Any, plan: Any) -> None:
    refused = refuse({**minimal(plan), "score": value}, plan)
    assert refused.code == "value_invalid"
    assert "'score'" in refused.reason


def test_nan_in_a_multi_value_list_is_refused() -> None:
    refused = refuse({"id": "u-1", "scores": [1.5, float("nan")]})
    assert refused.code == "value_invalid"
    assert "'scores'" in refused.reason


def test_nan_inside_charged_items_is_refused() -> None:
    record = {"id": "u-1", "event": "Charged", "Items": [{"Meta": {"weight": float("nan")}}]}
    refused = refuse(record, EVENT_PLAN)
    assert refused.code == "value_invalid"
    assert "'Items.Meta'" in refused.reason


def test_nulls_inside_nested_values_stay_null() -> None:
    result = map_record({"id": "u-1", "meta": {"city": None, "n": 1.5}}, PROFILE_PLAN)
    assert not isinstance(result, Rejection), result
    assert result["profileData"]["meta"] == '{"city":null,"n":1.5}'


def test_huge_number_inside_charged_items_is_refused() -> None:
    record = {"id": "u-1", "event": "Charged", "Items": [{"Price": 2**70}]}
    refused = refuse(record, EVENT_PLAN)
    assert refused.code == "value_invalid"
    assert "'Items.Price'" in refused.reason


@pytest.mark.parametrize(
    "items",
    ["Book", 3, {"Product": "Book"}, ["Book"], [{"Product": "Book"}, "Pen"], [[{"a": 1}]]],
)
def test_charged_items_must_be_a_list_of_objects(items: Any) -> None:
    refused = refuse({"id": "u-1", "event": "Charged", "Items": items}, EVENT_PLAN)
    assert refused.code == "items_invalid"
    assert "Items" in refused.reason


# --- preflight limits (the built payload is attached) -----------------------------------------


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("k" * 120, True),
        ("k" * 121, False),
        ("é" * 60, True),  # 120 bytes
        ("é" * 61, False),  # 122 bytes, 61 characters
        ("😀" * 30, True),  # 120 bytes
        ("😀" * 31, False),  # 124 bytes, 31 characters
    ],
)
@pytest.mark.parametrize("plan", [PROFILE_PLAN, EVENT_PLAN], ids=["profile", "event"])
def test_keys_are_limited_to_120_bytes(key: str, ok: bool, plan: Any) -> None:
    record = {**minimal(plan), key: 1}
    if ok:
        accept(record, plan)
        return
    refused = refuse(record, plan)
    assert refused.code == "key_too_long"
    data_key = "profileData" if plan.kind == "profile" else "evtData"
    assert refused.payload is not None
    assert refused.payload[data_key] == {key: 1}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("x" * 512, True),
        ("x" * 513, False),
        ("é" * 256, True),  # 512 bytes
        ("é" * 257, False),  # 514 bytes, 257 characters
        ("€" * 170, True),  # 510 bytes
        ("€" * 171, False),  # 513 bytes, 171 characters
        ("😀" * 128, True),  # 512 bytes
        ("😀" * 129, False),  # 516 bytes, 129 characters
    ],
)
@pytest.mark.parametrize("plan", [PROFILE_PLAN, EVENT_PLAN], ids=["profile", "event"])
def test_values_are_limited_to_512_bytes(value: str, ok: bool, plan: Any) -> None:
    record = {**minimal(plan), "note": value}
    if ok:
        accept(record, plan)
        return
    refused = refuse(record, plan)
    assert refused.code == "value_too_long"
    assert f"is {len(value.encode())} bytes" in refused.reason
    assert refused.payload is not None


def test_nested_value_is_limited_after_it_became_json_text() -> None:
    refused = refuse({"id": "u-1", "event": "Viewed", "meta": {"k": "x" * 505}}, EVENT_PLAN)
    assert refused.code == "value_too_long"
    assert refused.payload is not None
    assert refused.payload["evtData"] == {"meta": '{"k":"' + "x" * 505 + '"}'}


def test_multi_value_item_is_limited_to_512_bytes() -> None:
    assert refuse({"id": "u-1", "tags": ["ok", "é" * 257]}).code == "value_too_long"


def test_charged_item_keys_and_values_are_limited() -> None:
    long_key = {"id": "u-1", "event": "Charged", "Items": [{"k" * 121: 1}]}
    long_value = {"id": "u-1", "event": "Charged", "Items": [{"Product": "é" * 257}]}
    assert refuse(long_key, EVENT_PLAN).code == "key_too_long"
    assert refuse(long_value, EVENT_PLAN).code == "value_too_long"


def test_event_name_is_limited_to_512_bytes() -> None:
    accept({"id": "u-1", "event": "é" * 256}, EVENT_PLAN)
    assert refuse({"id": "u-1", "event": "é" * 257}, EVENT_PLAN).code == "event_name_too_long"


# The API reference's list (section 8): the Android SDK's restricted names, the Direct Call SDK's
# system events, and `Web Page Viewed`, which the server refused with 513.
@pytest.mark.parametrize(
    "name",
    [
        "App Launched",
        "App Uninstalled",
        "Notification Viewed",
        "Notification Clicked",
        "Notification Sent",
        "Notification Bounced",
        "UTM Visited",
        "Stayed",
        "Geocluster Entered",
        "Geocluster Exited",
        "Web Page Viewed",
        "wzrk_d",
        "DCOutgoing",
        "DCIncoming",
        "DCEnd",
        " Web Page Viewed ",
    ],
)
def test_restricted_system_events_are_refused(name: str) -> None:
    record = {"id": "u-1", "event": name, "path": "/"}
    refused = refuse(record, EVENT_PLAN)
    assert refused.code == "event_restricted"
    assert "513" in refused.reason
    assert refused.payload == {
        "type": "event",
        "identity": "u-1",
        "evtName": name.strip(),
        "evtData": {"path": "/"},
    }


@pytest.mark.parametrize("name", ["Charged", "Product viewed", "App Installed", "Page Viewed"])
def test_ordinary_events_are_not_restricted(name: str) -> None:
    accept({"id": "u-1", "event": name}, EVENT_PLAN)


def test_constant_restricted_event_name_is_refused() -> None:
    plan = event_plan(event_name="App Launched")
    assert refuse({"id": "u-1"}, plan).code == "event_restricted"


@pytest.mark.parametrize(("count", "ok"), [(256, True), (257, False)])
def test_events_take_at_most_256_properties(count: int, ok: bool) -> None:
    record = {"id": "u-1", "event": "Bulk", **{f"p{i}": i for i in range(count)}}
    if ok:
        assert len(accept(record, EVENT_PLAN)["evtData"]) == 256
        return
    refused = refuse(record, EVENT_PLAN)
    assert refused.code == "too_many_properties"
    assert "257" in refused.reason


@pytest.mark.parametrize(("count", "ok"), [(256, True), (257, False)])
def test_profiles_take_at_most_256_properties(count: int, ok: bool) -> None:
    record = {"id": "u-1", **{f"p{i}": i for i in range(count)}}
    if ok:
        assert len(accept(record)["profileData"]) == 256
        return
    refused = refuse(record)
    assert refused.code == "too_many_properties"
    assert "257" in refused.reason


@pytest.mark.parametrize(("count", "ok"), [(100, True), (101, False)])
def test_multi_value_lists_take_at_most_100_items(count: int, ok: bool) -> None:
    record = {"id": "u-1", "tags": [f"t{i}" for i in range(count)]}
    if ok:
        assert len(accept(record)["profileData"]["tags"]) == 100
        return
    refused = refuse(record)
    assert refused.code == "too_many_values"
    assert "'tags' has 101 values" in refused.reason


def test_first_problem_accepts_a_good_payload_and_names_the_first_bad_one() -> None:
    good = {"type": "event", "identity": "u-1", "evtName": "Viewed", "evtData": {"a": "b"}}
    assert preflight.first_problem(good) is None
    bad = {
        "type": "profile",
        "identity": "u-1",
        "profileData": {"k" * 121: "x" * 600},
    }
    problem = preflight.first_problem(bad)
    assert problem is not None
    assert problem.code == "key_too_long"
