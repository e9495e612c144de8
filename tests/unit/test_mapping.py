"""map_record: the exact CleverTap records built from Singer records (profiles and events)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from target_clevertap.mapping import Rejection, deletion
from tests.unit.plans import EVENT_PLAN, PROFILE_PLAN, event_plan, map_record, profile_plan

UTC = dt.timezone.utc
NOV_14_2023 = 1700000000  # 2023-11-14T22:13:20Z
JAN_1_1990 = 631152000
JAN_1_2024 = 1704067200


def profile_data(record: dict[str, Any], **plan_changes: Any) -> dict[str, Any]:
    """The profileData built for `{"id": "u-1", **record}`; fails the test on a rejection."""
    payload = map_record({"id": "u-1", **record}, profile_plan(**plan_changes))
    assert not isinstance(payload, Rejection), payload
    data: dict[str, Any] = payload["profileData"]
    return data


def event_data(record: dict[str, Any], name: str = "Signed Up", **plan_changes: Any) -> Any:
    """The evtData built for an event called `name`; fails the test on a rejection."""
    payload = map_record({"id": "u-1", "event": name, **record}, event_plan(**plan_changes))
    assert not isinstance(payload, Rejection), payload
    return payload["evtData"]


def rejection(record: dict[str, Any], plan: Any = PROFILE_PLAN) -> Rejection:
    result = map_record(record, plan)
    assert isinstance(result, Rejection), result
    return result


# --- whole payloads ---------------------------------------------------------------------------


def test_profile_payload_has_identity_ts_and_standard_and_custom_properties() -> None:
    record = {
        "id": 42,
        "ts": NOV_14_2023,
        "name": "Ana Ruiz",
        "email": "ana@example.com",
        "phone": "+1 (415) 555-0100",
        "gender": "female",
        "dob": "1990-01-01",
        "msg_sms": False,
        "customer_type": "Silver",
        "plan": "gold",
        "visits": 7,
    }
    assert map_record(record, PROFILE_PLAN) == {
        "type": "profile",
        "identity": "42",
        "ts": NOV_14_2023,
        "profileData": {
            "Name": "Ana Ruiz",
            "Email": "ana@example.com",
            "Phone": "+14155550100",
            "Gender": "F",
            "DOB": f"$D_{JAN_1_1990}",
            "MSG-sms": False,
            "Customer Type": "Silver",
            "plan": "gold",
            "visits": 7,
        },
    }


def test_event_payload_has_name_ts_and_flat_data() -> None:
    record = {
        "id": "u-1",
        "event": "Product Viewed",
        "ts": "2023-11-14T22:13:20Z",
        "sku": "A-1",
        "price": Decimal("9.99"),
        "quantity": Decimal("2"),
        "in_stock": True,
        "tags": ["new", "sale"],
        "meta": {"page": 3, "ref": None},
    }
    payload = map_record(record, EVENT_PLAN)
    assert payload == {
        "type": "event",
        "identity": "u-1",
        "evtName": "Product Viewed",
        "ts": NOV_14_2023,
        "evtData": {
            "sku": "A-1",
            "price": 9.99,
            "quantity": 2,
            "in_stock": True,
            "tags": '["new","sale"]',
            "meta": '{"page":3,"ref":null}',
        },
    }
    assert type(payload["evtData"]["quantity"]) is int


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_timestamp_text_counts_as_no_timestamp(blank: str) -> None:
    assert map_record({"id": "u-1", "ts": blank}, PROFILE_PLAN) == {
        "type": "profile",
        "identity": "u-1",
        "profileData": {},
    }


def test_record_without_timestamp_has_no_ts() -> None:
    assert map_record({"id": "u-1", "plan": "gold"}, PROFILE_PLAN) == {
        "type": "profile",
        "identity": "u-1",
        "profileData": {"plan": "gold"},
    }
    assert map_record({"id": "u-1", "event": "Signed Up", "ts": None}, EVENT_PLAN) == {
        "type": "event",
        "identity": "u-1",
        "evtName": "Signed Up",
        "evtData": {},
    }


def test_routing_fields_are_not_repeated_in_the_data() -> None:
    plan = event_plan(identity_field="user_id", event_name_field="action", timestamp_field="at")
    record = {"user_id": "u-9", "action": "Clicked", "at": NOV_14_2023, "button": "buy"}
    assert map_record(record, plan) == {
        "type": "event",
        "identity": "u-9",
        "evtName": "Clicked",
        "ts": NOV_14_2023,
        "evtData": {"button": "buy"},
    }
    profile = profile_plan(identity_field="user_id", timestamp_field="at")
    assert map_record({"user_id": "u-9", "at": NOV_14_2023, "x": 1}, profile) == {
        "type": "profile",
        "identity": "u-9",
        "ts": NOV_14_2023,
        "profileData": {"x": 1},
    }


@pytest.mark.parametrize("identity_type", ["identity", "objectId", "FBID", "GPID"])
def test_identity_goes_under_the_configured_identity_key(identity_type: str) -> None:
    payload = map_record({"id": "abc"}, profile_plan(identity_type=identity_type))
    assert payload == {"type": "profile", identity_type: "abc", "profileData": {}}


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("u-1", "u-1"),
        ("  u-1 ", "u-1"),
        (42, "42"),
        (0, "0"),
        (-7, "-7"),
        (10**30, "1" + "0" * 30),
        (Decimal("42"), "42"),
        (Decimal("42.0"), "42"),
        (Decimal("1E+3"), "1000"),
        (Decimal("4.5"), "4.5"),
        (1001.0, "1001"),
        (3.5, "3.5"),
        ("ünïcødé-ид", "ünïcødé-ид"),
    ],
)
def test_identity_is_sent_as_a_string(raw: Any, sent: str) -> None:
    payload = map_record({"id": raw}, PROFILE_PLAN)
    assert not isinstance(payload, Rejection)
    assert payload["identity"] == sent


def test_constant_event_name_wins_over_the_field() -> None:
    payload = map_record(
        {"id": "u-1", "event": "ignored", "x": 1}, event_plan(event_name="Order Placed")
    )
    assert payload == {
        "type": "event",
        "identity": "u-1",
        "evtName": "Order Placed",
        "evtData": {"x": 1},
    }


def test_event_name_is_trimmed() -> None:
    payload = map_record({"id": "u-1", "event": "  Signed Up "}, EVENT_PLAN)
    assert not isinstance(payload, Rejection)
    assert payload["evtName"] == "Signed Up"


# --- standard profile fields ------------------------------------------------------------------

STANDARD_KEYS = [
    ("name", "Ana", "Name", "Ana"),
    ("NAME", "Ana", "Name", "Ana"),
    ("email", "ana@example.com", "Email", "ana@example.com"),
    ("E-Mail", "ana@example.com", "Email", "ana@example.com"),
    ("phone", "+14155550100", "Phone", "+14155550100"),
    ("gender", "male", "Gender", "M"),
    ("dob", "1990-01-01", "DOB", f"$D_{JAN_1_1990}"),
    ("birthday", "1990-01-01", "DOB", f"$D_{JAN_1_1990}"),
    ("date_of_birth", "1990-01-01", "DOB", f"$D_{JAN_1_1990}"),
    ("Date Of Birth", "1990-01-01", "DOB", f"$D_{JAN_1_1990}"),
    ("DateOfBirth", "1990-01-01", "DOB", f"$D_{JAN_1_1990}"),
    ("date-of-birth", "1990-01-01", "DOB", f"$D_{JAN_1_1990}"),
    ("photo", "https://img.example/a.png", "Photo", "https://img.example/a.png"),
    ("avatar", "https://img.example/a.png", "Photo", "https://img.example/a.png"),
    ("employed", "yes", "Employed", "Y"),
    ("education", "college", "Education", "College"),
    ("married", False, "Married", "N"),
    ("age", "30", "Age", 30),
    ("customer_type", "Gold", "Customer Type", "Gold"),
    ("Customer Type", "Gold", "Customer Type", "Gold"),
    ("customerType", "Gold", "Customer Type", "Gold"),
    ("msg_email", True, "MSG-email", True),
    ("msg_push", "no", "MSG-push", False),
    ("msg_sms", "yes", "MSG-sms", True),
    ("msg_whatsapp", 0, "MSG-whatsapp", False),
    ("MSG-sms", "Y", "MSG-sms", True),
    ("msg sms", "N", "MSG-sms", False),
]


@pytest.mark.parametrize(("source", "value", "key", "sent"), STANDARD_KEYS)
def test_standard_keys_are_renamed_and_converted(
    source: str, value: Any, key: str, sent: Any
) -> None:
    assert profile_data({source: value}) == {key: sent}


@pytest.mark.parametrize(
    "source",
    ["full_name", "email_address", "user_phone", "nickname", "birth_year", "ages", "Photos"],
)
def test_other_keys_stay_custom_properties_under_their_own_names(source: str) -> None:
    assert profile_data({source: "x"}) == {source: "x"}


def test_nothing_is_renamed_or_converted_when_standard_mapping_is_off() -> None:
    record = {"name": "Ana", "Email": "not-an-address", "gender": "female", "msg_sms": "no"}
    assert profile_data(record, map_standard_fields=False) == record


def test_events_never_rename_standard_looking_keys() -> None:
    assert event_data({"name": "Ana", "gender": "female"}) == {"name": "Ana", "gender": "female"}


def test_two_keys_feeding_one_standard_key_are_rejected() -> None:
    refused = rejection({"id": "u-1", "Name": "A", "name": "B"})
    assert refused.code == "field_conflict"
    assert "'Name'" in refused.reason
    assert "'name'" in refused.reason


def test_a_list_cannot_feed_a_standard_key() -> None:
    refused = rejection({"id": "u-1", "email": ["a@example.com"]})
    assert refused.code == "value_invalid"
    assert "Email" in refused.reason


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("m", "M"),
        ("M", "M"),
        ("male", "M"),
        (" Male ", "M"),
        ("f", "F"),
        ("FEMALE", "F"),
    ],
)
def test_gender(raw: str, sent: str) -> None:
    assert profile_data({"gender": raw}) == {"Gender": sent}


@pytest.mark.parametrize(
    ("raw", "sent"),
    [(True, "Y"), (False, "N"), ("yes", "Y"), ("No", "N"), ("Y", "Y"), ("n", "N"), (1, "Y")],
)
@pytest.mark.parametrize(("source", "key"), [("employed", "Employed"), ("married", "Married")])
def test_yes_no_fields(source: str, key: str, raw: Any, sent: str) -> None:
    assert profile_data({source: raw}) == {key: sent}


@pytest.mark.parametrize(
    ("raw", "sent"),
    [("school", "School"), ("COLLEGE", "College"), (" graduate ", "Graduate")],
)
def test_education(raw: str, sent: str) -> None:
    assert profile_data({"education": raw}) == {"Education": sent}


@pytest.mark.parametrize(
    ("raw", "sent"),
    [(18, 18), ("18", 18), (" 18 ", 18), (Decimal("18"), 18), ("25.5", 25.5), (0, 0)],
)
def test_age(raw: Any, sent: Any) -> None:
    data = profile_data({"age": raw})
    assert data == {"Age": sent}
    assert type(data["Age"]) is type(sent)


@pytest.mark.parametrize(
    ("raw", "region", "sent"),
    [
        ("+14155550100", None, "+14155550100"),
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("+35922333232", None, "+35922333232"),
        ("4155550100", "US", "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("4155550100", "us", "+14155550100"),
        (4155550100, "US", "+14155550100"),
        ("09876543210", "IN", "+919876543210"),
        ("+4420 7946 0958", "US", "+442079460958"),
    ],
)
def test_phone_becomes_e164(raw: Any, region: str | None, sent: str) -> None:
    assert profile_data({"phone": raw}, default_phone_region=region) == {"Phone": sent}


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("1990-01-01", f"$D_{JAN_1_1990}"),
        ("1990-01-01T00:00:00Z", f"$D_{JAN_1_1990}"),
        ("1990-01-01T02:00:00+02:00", f"$D_{JAN_1_1990}"),
        (dt.date(1990, 1, 1), f"$D_{JAN_1_1990}"),
        (dt.datetime(1990, 1, 1), f"$D_{JAN_1_1990}"),
        (dt.datetime(1990, 1, 1, tzinfo=UTC), f"$D_{JAN_1_1990}"),
        (JAN_1_1990, f"$D_{JAN_1_1990}"),
        (JAN_1_1990 * 1000, f"$D_{JAN_1_1990}"),
        ("1950-06-15", "$D_-616896000"),
    ],
)
def test_dob_is_a_clevertap_date(raw: Any, sent: str) -> None:
    assert profile_data({"dob": raw}) == {"DOB": sent}


@pytest.mark.parametrize(
    "raw",
    [
        NOV_14_2023,
        NOV_14_2023 * 1000 + 123,
        NOV_14_2023 + 0.9,
        Decimal(NOV_14_2023),
        Decimal("1700000000123"),
        str(NOV_14_2023),
        "1700000000123",
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20.999Z",
        "2023-11-14T22:13:20",
        "2023-11-14 22:13:20",
        "2023-11-14T23:13:20+01:00",
        dt.datetime(2023, 11, 14, 22, 13, 20),
        dt.datetime(2023, 11, 14, 17, 13, 20, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ],
)
def test_ts_is_whole_epoch_seconds(raw: Any) -> None:
    payload = map_record({"id": "u-1", "event": "Signed Up", "ts": raw}, EVENT_PLAN)
    assert not isinstance(payload, Rejection), payload
    assert payload["ts"] == NOV_14_2023
    assert type(payload["ts"]) is int


@pytest.mark.parametrize(
    ("schema_dates", "record", "sent"),
    [
        ({"signup"}, {"signup": "2024-01-01"}, {"signup": f"$D_{JAN_1_2024}"}),
        ({"signup"}, {"signup": "2024-01-01T00:00:00Z"}, {"signup": f"$D_{JAN_1_2024}"}),
        ({"signup"}, {"signup": JAN_1_2024 * 1000}, {"signup": f"$D_{JAN_1_2024}"}),
        ({"signup"}, {"signup": dt.date(2024, 1, 1)}, {"signup": f"$D_{JAN_1_2024}"}),
        (set(), {"signup": "2024-01-01"}, {"signup": "2024-01-01"}),
        (set(), {"signup": dt.date(2024, 1, 1)}, {"signup": f"$D_{JAN_1_2024}"}),
    ],
)
def test_date_properties_become_clevertap_dates(
    schema_dates: set[str], record: dict[str, Any], sent: dict[str, Any]
) -> None:
    dates = frozenset(schema_dates)
    assert profile_data(record, date_fields=dates) == sent
    assert event_data(record, date_fields=dates) == sent


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        (Decimal("10"), 10),
        (Decimal("10.0"), 10),
        (Decimal("1E+2"), 100),
        (Decimal("10.50"), 10.5),
        (Decimal("-0.25"), -0.25),
        (Decimal("0E+20"), 0),  # zero, however large its exponent
        (Decimal("1.000000000000000000001"), 1.0),  # not whole, though its float is
        (Decimal(2**63 - 1), 2**63 - 1),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (1.5e300, 1.5e300),
    ],
)
def test_numbers_become_json_numbers(raw: Any, sent: Any) -> None:
    for data in (profile_data({"n": raw}), event_data({"n": raw})):
        assert data == {"n": sent}
        assert type(data["n"]) is type(sent)


def test_nulls_are_omitted_everywhere() -> None:
    assert profile_data({"a": None, "b": 1, "tags": ["x", None, "y"], "email": None}) == {
        "b": 1,
        "tags": ["x", "y"],
    }
    assert event_data({"a": None, "b": 1}) == {"b": 1}
    assert event_data({"Items": [{"Product": "Book", "Note": None}]}, name="Charged") == {
        "Items": [{"Product": "Book"}]
    }


def test_event_data_writes_nested_values_as_compact_json_text() -> None:
    record = {
        "tags": ["a", 1, True, None],
        "meta": {"city": "Zürich", "n": Decimal("1.5"), "deep": {"list": [[]]}},
        "empty": {},
        "when": [dt.date(2024, 1, 1)],
    }
    assert event_data(record) == {
        "tags": '["a",1,true,null]',
        "meta": '{"city":"Zürich","n":1.5,"deep":{"list":[[]]}}',
        "empty": "{}",
        "when": '["2024-01-01"]',
    }


def test_profile_arrays_of_scalars_stay_multi_value_lists_of_text() -> None:
    assert profile_data({"tags": ["a", 1, Decimal("2.50"), "ü"], "none": []}) == {
        "tags": ["a", "1", "2.5", "ü"],
        "none": [],
    }


def test_profile_objects_and_nested_arrays_become_json_text() -> None:
    assert profile_data({"address": {"city": "Oslo", "zip": "0150"}, "grid": [[1, 2], 3]}) == {
        "address": '{"city":"Oslo","zip":"0150"}',
        "grid": "[[1,2],3]",
    }


def test_charged_items_stay_a_list_of_flat_objects() -> None:
    items = [
        {"Product": "Book", "Quantity": Decimal("1"), "Price": Decimal("9.5"), "Tags": ["x"]},
        {"Product": "Pen", "Quantity": 3, "Meta": {"color": "red"}},
    ]
    assert event_data({"Amount": Decimal("12.5"), "Items": items}, name="Charged") == {
        "Amount": 12.5,
        "Items": [
            {"Product": "Book", "Quantity": 1, "Price": 9.5, "Tags": '["x"]'},
            {"Product": "Pen", "Quantity": 3, "Meta": '{"color":"red"}'},
        ],
    }


def test_items_of_other_events_are_json_text() -> None:
    assert event_data({"Items": [{"Product": "Book"}]}, name="Added To Cart") == {
        "Items": '[{"Product":"Book"}]'
    }


# --- on_null ----------------------------------------------------------------------------------


def test_with_on_null_unset_a_null_property_removes_the_stored_one() -> None:
    record = {"id": "u-1", "ts": None, "email": None, "plan": None, "name": "Ann"}
    assert map_record(record, profile_plan(on_null="unset")) == {
        "type": "profile",
        "identity": "u-1",
        "profileData": {"Email": {"$delete": True}, "plan": {"$delete": True}, "Name": "Ann"},
    }


def test_by_default_a_null_property_is_left_out() -> None:
    record = {"id": "u-1", "email": None, "name": "Ann"}
    assert map_record(record, PROFILE_PLAN) == {
        "type": "profile",
        "identity": "u-1",
        "profileData": {"Name": "Ann"},
    }


def test_two_fields_for_one_key_conflict_even_when_one_is_null_and_nulls_unset() -> None:
    result = map_record(
        {"id": "u-1", "email": None, "Email": "a@b.co"}, profile_plan(on_null="unset")
    )
    assert isinstance(result, Rejection)
    assert result.code == "field_conflict"


def test_a_deleted_row_maps_to_its_identity_under_the_delete_key() -> None:
    assert deletion({"id": " u-1 ", "name": "x"}, PROFILE_PLAN) == {"identity": "u-1"}
    assert deletion({"id": 42}, profile_plan(identity_type="objectId")) == {"guid": "42"}
    missing = deletion({"name": "x"}, PROFILE_PLAN)
    assert isinstance(missing, Rejection)
    assert missing.code == "identity_missing"
