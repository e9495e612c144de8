"""Charged events from warehouse columns: Amount, Charged ID and Items matched and checked; the
notices of many items and of stringified nested event data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from target_clevertap.charged import MANY_ITEMS_NOTE
from target_clevertap.field_mapping import compile_properties
from target_clevertap.mapping import Notice, RecordMapper, Rejection
from tests.unit.plans import event_plan, map_record

ITEMS = [{"Product": "Book", "Quantity": 1}, {"Product": "Pen", "Quantity": 2}]


def charged(record: dict[str, Any], name: str | None = "Charged", **plan: Any) -> Any:
    named = {"event": name} if name else {}
    result = map_record({"id": "u-1", **named, **record}, event_plan(**plan))
    assert not isinstance(result, Rejection), result
    return result["evtData"]


def rejected(record: dict[str, Any]) -> Rejection:
    result = map_record({"id": "u-1", "event": "Charged", **record}, event_plan())
    assert isinstance(result, Rejection), result
    return result


def test_lower_case_warehouse_columns_feed_amount_charged_id_and_items() -> None:
    record = {"amount": Decimal("30.50"), "charged_id": "o-9", "items": ITEMS, "currency": "EUR"}
    assert charged(record) == {
        "Amount": 30.5,
        "Charged ID": "o-9",
        "Items": ITEMS,
        "currency": "EUR",
    }


@pytest.mark.parametrize("key", ["charged id", "Charged ID", "charged-id", "CHARGED_ID"])
def test_charged_id_matches_whatever_its_case_and_separators(key: str) -> None:
    assert charged({key: "o-9"}) == {"Charged ID": "o-9"}


def test_a_constant_event_name_charged_matches_too() -> None:
    data = charged(
        {"amount": 5, "items": ITEMS}, name=None, event_name="Charged", event_name_field=None
    )
    assert data == {"Amount": 5, "Items": ITEMS}


def test_other_events_keep_the_columns_under_their_names() -> None:
    assert charged({"amount": 5, "items": ITEMS}, name="Refunded") == {
        "amount": 5,
        "items": '[{"Product":"Book","Quantity":1},{"Product":"Pen","Quantity":2}]',
    }


def test_items_given_as_json_text_are_parsed() -> None:
    text = '[{"Product": "Book", "Price": 9.5, "Tags": ["a", "b"]}]'
    assert charged({"items": text}) == {
        "Items": [{"Product": "Book", "Price": 9.5, "Tags": '["a","b"]'}]
    }


@pytest.mark.parametrize(
    "items",
    ["[1, 2]", '{"Product": "Book"}', "not json", "", '"text"', [1], {"Product": "Book"}, 5],
)
def test_items_that_are_not_a_list_of_objects_reject_the_record(items: Any) -> None:
    rejection = rejected({"items": items})
    assert rejection.code == "items_invalid"
    assert "list of objects" in rejection.reason


def test_two_sources_of_amount_reject_the_record() -> None:
    assert rejected({"amount": 5, "Amount": 6}).code == "field_conflict"


def test_an_explicit_to_takes_a_charged_key_out_of_matching() -> None:
    fields = compile_properties({"total": "Amount"})
    assert charged({"total": 9, "amount": 5}, fields=fields) == {"Amount": 9, "amount": 5}


def test_a_column_mapped_to_items_is_read_as_items() -> None:
    fields = compile_properties({"products": "Items"})
    assert charged({"products": "[]"}, fields=fields) == {"Items": []}


def heard(records: list[dict[str, Any]], **plan: Any) -> list[Notice]:
    notices: list[Notice] = []
    mapper = RecordMapper(event_plan(**plan), notices.append)
    for record in records:
        assert not isinstance(mapper.map({"id": "u-1", **record}), Rejection)
    return notices


def test_more_than_50_items_are_sent_and_counted_for_the_summary() -> None:
    records = [
        {"event": "Charged", "items": [{"n": i} for i in range(count)]} for count in (50, 51, 60)
    ]
    assert heard(records) == [Notice(MANY_ITEMS_NOTE, summarised=True)] * 2


def test_stringified_nested_event_data_is_named_once_per_key() -> None:
    records = [
        {"event": "Viewed", "meta": {"a": 1}, "tags": ["x"]},
        {"event": "Viewed", "meta": {"a": 2}, "tags": ["y"], "plain": 1},
        {"event": "Charged", "meta": [1], "items": ITEMS},
    ]
    notices = heard(records)
    assert [n.summarised for n in notices] == [False, False]
    assert "'meta' holds dict values, sent as JSON text" in notices[0].text
    assert "'tags' holds list values" in notices[1].text
    assert notices[0].text.startswith("Stream 'events': ")
