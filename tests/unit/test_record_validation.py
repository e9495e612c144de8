"""RecordValidator: the same verdicts as a full fastjsonschema check of every record, faster."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_clevertap.record_validation import RecordValidator

JSON_TYPES = ["string", "number", "integer", "boolean", "null", "object", "array"]
KEYS = ["id", "email", "score", "visits", "tags", "extra"]

SINGER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["string", "null"], "description": "work address"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "score": {"type": ["number", "null"]},
        "visits": {"type": ["integer", "null"]},
        "is_vip": {"type": ["boolean", "null"]},
    },
    "required": ["id"],
}


def full_check(schema: dict[str, Any], record: dict[str, Any]) -> bool:
    try:
        fastjsonschema.compile(schema, use_default=False, use_formats=False)(record)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


type_keyword = st.sampled_from(JSON_TYPES) | st.lists(
    st.sampled_from(JSON_TYPES), min_size=1, max_size=3, unique=True
)
# Mostly type-only properties, some with a keyword that makes the verdict depend on the value.
property_schemas = st.fixed_dictionaries({"type": type_keyword}) | st.sampled_from(
    [
        {},
        {"type": "string", "format": "email"},
        {"type": "string", "maxLength": 3},
        {"enum": ["a", 1]},
        {"type": "integer", "minimum": 0},
        {"type": "object", "properties": {"n": {"type": "integer"}}},
        {"type": "array", "items": {"type": "string"}},
    ]
)
schemas = st.builds(
    lambda properties, required, additional: {
        "type": "object",
        "properties": properties,
        "required": sorted(set(required) & set(properties)),
        **additional,
    },
    st.dictionaries(st.sampled_from(KEYS), property_schemas, max_size=5),
    st.lists(st.sampled_from(KEYS), max_size=2),
    st.sampled_from([{}, {"additionalProperties": False}, {"additionalProperties": True}]),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2.0, 2.5, -0.0, Decimal("2"), Decimal("2.5"), "", "a", "abcd", "a@b.co"]),
    st.just({"n": 1}),
    st.just({"n": "x"}),
    st.just(["x"]),
    st.just([1]),
)
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)


@settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(schema=schemas, batch=st.lists(records, min_size=1, max_size=20))
def test_every_record_gets_the_verdict_of_a_full_check(
    schema: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    validator = RecordValidator(schema, "s")
    for record in batch:
        assert (validator.violation(record) is None) == full_check(schema, record), record


@pytest.mark.parametrize(
    ("schema", "passed", "failed"),
    [
        ({"properties": {"n": {"type": "integer"}}}, {"n": 2.0}, {"n": 2.5}),
        ({"properties": {"n": {"type": ["integer", "null"]}}}, {"n": 2.0}, {"n": 0.5}),
        ({"properties": {"s": {"type": "string", "maxLength": 3}}}, {"s": "abc"}, {"s": "abcd"}),
        ({"properties": {"s": {"enum": ["a", "b"]}}}, {"s": "a"}, {"s": "c"}),
        (
            {"properties": {"o": {"type": "object", "properties": {"n": {"type": "integer"}}}}},
            {"o": {"n": 1}},
            {"o": {"n": "1"}},
        ),
        (
            {
                "properties": {"n": {"$ref": "#/definitions/n"}},
                "definitions": {"n": {"type": "integer"}},
            },
            {"n": 1},
            {"n": "1"},
        ),
    ],
)
def test_a_record_like_a_valid_one_is_still_checked_where_its_values_matter(
    schema: dict[str, Any], passed: dict[str, Any], failed: dict[str, Any]
) -> None:
    validator = RecordValidator({"type": "object", **schema}, "s")
    assert validator.violation(passed) is None
    reason = validator.violation(failed)
    assert reason is not None
    assert reason.startswith("The record does not match the stream's SCHEMA: ")
    assert "data." in reason


def test_a_type_only_schema_checks_each_shape_once() -> None:
    validator = RecordValidator(SINGER_SCHEMA, "users")
    checked: list[dict[str, Any]] = []
    full = validator._check  # counting the full checks is the point

    def counting(record: dict[str, Any]) -> Any:
        checked.append(record)
        return full(record)

    validator._check = counting
    users = [
        {"id": f"u{n}", "email": f"u{n}@example.com", "score": Decimal(n) / 4, "visits": n}
        for n in range(1, 100)
    ]
    assert [validator.violation(user) for user in users] == [None] * len(users)
    assert validator.violation({"id": "u0", "email": None, "score": Decimal("0.5")}) is None
    assert validator.violation({"id": "u0", "email": 7}) is not None
    assert validator.violation({"email": "x@example.com"}) is not None  # lacks the required id
    assert len(checked) == 4  # one per new shape, and every invalid record
