"""identity_field as a list (the first present and not blank wins) and object_id_field (a
CleverTap ID linked to the identity): records, deletions and the settings' checks."""

from __future__ import annotations

from typing import Any

import pytest

from target_clevertap.config import config_errors
from target_clevertap.mapping import Rejection, deletion
from target_clevertap.plan import plan_stream
from tests.unit.plans import event_plan, map_record, profile_plan

VALID = {"account_id": "ACC-1", "passcode": "s3cr3t-pass", "region": "eu1"}
FALLBACK = {"identity_field": "user_id", "identity_fallbacks": ("anonymous_id",)}


@pytest.mark.parametrize(
    ("record", "identity"),
    [
        ({"user_id": "u-1", "anonymous_id": "a-1"}, "u-1"),
        ({"user_id": None, "anonymous_id": "a-1"}, "a-1"),
        ({"user_id": "  ", "anonymous_id": "a-1"}, "a-1"),
        ({"anonymous_id": "a-1"}, "a-1"),
        ({"user_id": 42, "anonymous_id": "a-1"}, "42"),
    ],
)
def test_the_first_identity_present_and_not_blank_wins(
    record: dict[str, Any], identity: str
) -> None:
    result = map_record({**record, "plan": "gold"}, profile_plan(**FALLBACK))
    assert result == {"type": "profile", "identity": identity, "profileData": {"plan": "gold"}}


def test_every_listed_identity_field_is_left_out_of_the_data() -> None:
    result = map_record(
        {"user_id": "u-1", "anonymous_id": "a-1", "event": "Viewed", "page": "/"},
        event_plan(**FALLBACK),
    )
    assert result == {
        "type": "event",
        "identity": "u-1",
        "evtName": "Viewed",
        "evtData": {"page": "/"},
    }


def test_no_identity_in_any_listed_field_names_them_all() -> None:
    result = map_record({"user_id": "", "anonymous_id": None}, profile_plan(**FALLBACK))
    assert isinstance(result, Rejection)
    assert result.code == "identity_missing"
    assert "'user_id' is ''" in result.reason
    assert "'anonymous_id' is None" in result.reason


def test_a_deletion_takes_the_first_identity_present() -> None:
    assert deletion({"anonymous_id": "a-1"}, profile_plan(**FALLBACK)) == {"identity": "a-1"}


def test_identity_field_lists_are_read_from_the_settings() -> None:
    settings = {**VALID, "streams": {"users": {"identity_field": ["user_id", "anonymous_id"]}}}
    assert config_errors(settings) == []
    plan = plan_stream(settings, "users", {"properties": {}})
    assert plan.identity_fields == ("user_id", "anonymous_id")
    assert "identity from 'user_id' else 'anonymous_id' as identity" in plan.describe()


@pytest.mark.parametrize("value", [[], [""], ["user_id", 5], 5, ""])
def test_a_malformed_identity_field_is_refused_at_start(value: Any) -> None:
    settings = {**VALID, "streams": {"users": {"identity_field": value}}}
    assert config_errors(settings) == [
        "Setting 'streams.users.identity_field' must be a field name or a non-empty list of "
        'field names (e.g. ["user_id", "anonymous_id"]).'
    ]


# --- object_id_field ---------------------------------------------------------------------------

LINKED = {"identity_field": "user_id", "object_id_field": "ct_id"}


def test_a_profile_with_a_clevertap_id_carries_it_on_top_and_the_identity_inside() -> None:
    result = map_record(
        {"user_id": "u-1", "ct_id": "__g123", "ts": 1700000000, "plan": "gold"},
        profile_plan(**LINKED),
    )
    assert result == {
        "type": "profile",
        "objectId": "__g123",
        "ts": 1700000000,
        "profileData": {"plan": "gold", "identity": "u-1"},
    }


def test_an_event_with_a_clevertap_id_carries_it_alone() -> None:
    result = map_record(
        {"user_id": "u-1", "ct_id": "__g123", "event": "Viewed", "page": "/"},
        event_plan(**LINKED),
    )
    assert result == {
        "type": "event",
        "objectId": "__g123",
        "evtName": "Viewed",
        "evtData": {"page": "/"},
    }


@pytest.mark.parametrize("object_id", [None, "", "  "])
def test_a_row_without_a_clevertap_id_is_sent_by_its_identity(object_id: Any) -> None:
    result = map_record(
        {"user_id": "u-1", "ct_id": object_id, "plan": "gold"}, profile_plan(**LINKED)
    )
    assert result == {"type": "profile", "identity": "u-1", "profileData": {"plan": "gold"}}


def test_an_identity_is_still_required_beside_a_clevertap_id() -> None:
    result = map_record({"ct_id": "__g123"}, profile_plan(**LINKED))
    assert isinstance(result, Rejection)
    assert result.code == "identity_missing"


def test_a_clevertap_id_that_is_not_text_is_refused() -> None:
    result = map_record({"user_id": "u-1", "ct_id": 123}, profile_plan(**LINKED))
    assert isinstance(result, Rejection)
    assert result.code == "identity_invalid"


def test_a_property_named_identity_conflicts_with_the_linked_identity() -> None:
    result = map_record(
        {"user_id": "u-1", "ct_id": "__g1", "identity": "x"}, profile_plan(**LINKED)
    )
    assert isinstance(result, Rejection)
    assert result.code == "field_conflict"


def test_a_deletion_on_a_linked_stream_uses_the_identity() -> None:
    assert deletion({"user_id": "u-1", "ct_id": "__g123"}, profile_plan(**LINKED)) == {
        "identity": "u-1"
    }


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (
            {"identity_type": "objectId"},
            "a CleverTap ID is linked to a custom identity, and the stream's identity_type is "
            "objectId, not identity",
        ),
        ({"type": "delete"}, "a delete stream sends no profiles or events"),
    ],
)
def test_object_id_field_is_refused_where_it_cannot_link(entry: dict[str, Any], why: str) -> None:
    settings = {**VALID, "streams": {"users": {"object_id_field": "ct_id", **entry}}}
    errors = config_errors(settings)
    assert errors == [f"Setting 'streams.users.object_id_field' is set, but {why}."]


def test_object_id_field_reaches_the_plan() -> None:
    settings = {**VALID, "streams": {"users": {"object_id_field": "ct_id"}}}
    assert config_errors(settings) == []
    plan = plan_stream(settings, "users", {"properties": {}})
    assert plan.object_id_field == "ct_id"
    assert "ct_id" in plan.routing_fields
    assert "CleverTap ID (objectId) from 'ct_id' where present" in plan.describe()
