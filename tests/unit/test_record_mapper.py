"""One stream's mapper over many records: rules it learns from one record hold for the next."""

from __future__ import annotations

import pytest

from target_clevertap import mapping
from target_clevertap.mapping import RecordMapper, Rejection
from tests.unit.plans import event_plan, profile_plan


def test_keys_that_start_to_collide_mid_stream_reject_only_the_record_that_has_both() -> None:
    mapper = RecordMapper(profile_plan())
    first = mapper.map({"id": "u1", "email": "a@example.com"})
    both = mapper.map({"id": "u2", "email": "a@example.com", "E-mail": "b@example.com"})
    later = mapper.map({"id": "u3", "E-mail": "c@example.com"})
    assert not isinstance(first, Rejection)
    assert first["profileData"] == {"Email": "a@example.com"}
    assert isinstance(both, Rejection)
    assert both.code == "field_conflict"
    assert "'email' and 'E-mail'" in both.reason
    assert not isinstance(later, Rejection)
    assert later["profileData"] == {"Email": "c@example.com"}


def test_a_collision_is_reported_before_a_bad_value_that_follows_it() -> None:
    mapper = RecordMapper(profile_plan())
    refused = mapper.map({"id": "u1", "email": "a@example.com", "Email": "b@x.co", "dob": "?"})
    assert isinstance(refused, Rejection)
    assert refused.code == "field_conflict"


def test_a_too_long_key_first_seen_in_a_later_record_is_refused() -> None:
    mapper = RecordMapper(profile_plan())
    assert not isinstance(mapper.map({"id": "u1", "plan": "free"}), Rejection)
    refused = mapper.map({"id": "u2", "plan": "free", "k" * 121: 1})
    assert isinstance(refused, Rejection)
    assert refused.code == "key_too_long"
    assert not isinstance(mapper.map({"id": "u3", "plan": "pro"}), Rejection)


@pytest.mark.parametrize(
    ("value", "code"),
    [("x" * 513, "value_too_long"), ([str(n) for n in range(101)], "too_many_values")],
)
def test_long_values_are_refused_after_short_ones(value: object, code: str) -> None:
    mapper = RecordMapper(profile_plan())
    assert not isinstance(mapper.map({"id": "u1", "note": "short"}), Rejection)
    refused = mapper.map({"id": "u2", "note": value})
    assert isinstance(refused, Rejection)
    assert refused.code == code


def test_one_event_stream_reads_items_by_each_record_event_name() -> None:
    mapper = RecordMapper(event_plan())
    items = [{"Product": "Book"}]
    charged = mapper.map({"id": "u1", "event": "Charged", "Items": items})
    viewed = mapper.map({"id": "u1", "event": "Viewed", "Items": items})
    charged_again = mapper.map({"id": "u2", "event": "Charged", "Items": items})
    assert not isinstance(charged, Rejection)
    assert not isinstance(viewed, Rejection)
    assert not isinstance(charged_again, Rejection)
    assert charged["evtData"] == {"Items": items}
    assert viewed["evtData"] == {"Items": '[{"Product":"Book"}]'}
    assert charged_again["evtData"] == {"Items": items}


def test_a_restricted_event_name_is_refused_after_allowed_ones() -> None:
    mapper = RecordMapper(event_plan())
    assert not isinstance(mapper.map({"id": "u1", "event": "Viewed"}), Rejection)
    refused = mapper.map({"id": "u1", "event": "App Launched"})
    assert isinstance(refused, Rejection)
    assert refused.code == "event_restricted"


def test_keys_beyond_the_remembered_ones_are_still_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mapping, "MAX_REMEMBERED_KEYS", 3)
    mapper = RecordMapper(profile_plan())
    for n in range(10):
        payload = mapper.map({"id": f"u{n}", f"key{n}": n, "mail": f"u{n}@example.com"})
        assert not isinstance(payload, Rejection)
        assert payload["profileData"] == {f"key{n}": n, "mail": f"u{n}@example.com"}
    assert len(mapper._rules) == 3  # memory stays bounded
    assert len(mapper._source_of_key) == 0  # no standard keys among them
