"""Which records count as the same event for the ledger (`event_keys`)."""

from __future__ import annotations

from typing import Any

from target_clevertap.event_keys import KEY_SIZE, EventKeys

PAYLOAD: dict[str, Any] = {
    "type": "event",
    "identity": "u1",
    "ts": 1_700_000_000,
    "evtName": "Charged",
    "evtData": {"Amount": 10, "Currency": "EUR"},
}


def key(payload: dict[str, Any], record: dict[str, Any] | None = None, *fields: str) -> Any:
    return EventKeys(fields).key_of(record or {}, payload)


def test_the_mapped_event_is_its_key_whatever_the_order_of_its_properties() -> None:
    reordered = {**PAYLOAD, "evtData": {"Currency": "EUR", "Amount": 10}}
    assert key(PAYLOAD) == key(reordered)
    assert len(key(PAYLOAD)) == 24
    assert key(PAYLOAD)[:8] == (1_700_000_000).to_bytes(8, "big")  # close in time, close by


def test_any_difference_in_identity_name_time_or_data_is_another_event() -> None:
    changes = [
        {"identity": "u2"},
        {"evtName": "Viewed"},
        {"ts": 1_700_000_001},
        {"evtData": {"Amount": 11, "Currency": "EUR"}},
    ]
    keys = {key({**PAYLOAD, **change}) for change in changes}
    assert len(keys) == len(changes)
    assert key(PAYLOAD) not in keys


def test_the_identity_type_is_part_of_the_key() -> None:
    by_object_id = {**PAYLOAD, "objectId": "u1"}
    del by_object_id["identity"]
    assert key(by_object_id) != key(PAYLOAD)


def test_an_event_without_a_time_has_no_key() -> None:
    assert key({k: v for k, v in PAYLOAD.items() if k != "ts"}) is None


def test_key_fields_alone_make_the_key() -> None:
    record = {"order_id": "o-1", "amount": 10}
    other_data = {**PAYLOAD, "evtData": {"Amount": 99}}
    assert key(PAYLOAD, record, "order_id") == key(other_data, record, "order_id")
    assert key(PAYLOAD, record, "order_id") != key(PAYLOAD, {"order_id": "o-2"}, "order_id")
    no_time = {k: v for k, v in PAYLOAD.items() if k != "ts"}
    assert key(no_time, record, "order_id") is not None


def test_every_key_has_the_same_size() -> None:
    assert {len(key(PAYLOAD)), len(key(PAYLOAD, {"order_id": 1}, "order_id"))} == {KEY_SIZE}


def test_a_null_or_missing_key_field_means_no_key() -> None:
    assert key(PAYLOAD, {"order_id": None}, "order_id") is None
    assert key(PAYLOAD, {"a": 1}, "a", "b") is None


def test_a_batch_s_keys_are_each_event_s_key_whatever_else_is_in_the_batch() -> None:
    plain = [{**PAYLOAD, "ts": PAYLOAD["ts"] + i} for i in range(3)]
    untimed = {k: v for k, v in PAYLOAD.items() if k != "ts"}
    odd = {**PAYLOAD, "evtData": {"when": object()}}  # not JSON: keyed by its text form
    unusual = [
        {**PAYLOAD, "ts": 1.7e9},
        {**PAYLOAD, "ts": -5},  # beyond 64 bits unsigned: the key wraps it
        {**PAYLOAD, "ts": 2**64 + 5},
        {**PAYLOAD, "evtData": {1: "a number as a key"}},
    ]
    for batch in (plain, [*plain, untimed], [*plain, odd], *([*plain, u] for u in unusual)):
        keyer = EventKeys(())
        assert keyer.keys_of([{}] * len(batch), batch) == [keyer.key_of({}, p) for p in batch]


def test_keys_stay_the_same_across_versions() -> None:
    """Keys already in a ledger must keep matching: were they computed differently, the first run
    after an upgrade would send again every event of the retention period."""
    by_content = "000000006553f100789ed74731c5d160332f6747d0ad5554"
    by_field = "000000000000000010d11232314860738171fe3572b290ee"
    assert key(PAYLOAD).hex() == by_content
    assert EventKeys(()).keys_of([{}], [PAYLOAD])[0].hex() == by_content  # type: ignore[union-attr]
    assert key(PAYLOAD, {"order_id": "o-1"}, "order_id").hex() == by_field
