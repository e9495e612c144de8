"""Property: map_record never raises; it rejects with a reason or builds a sendable payload."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from target_clevertap import preflight, values
from target_clevertap.mapping import Rejection
from target_clevertap.plan import IDENTITY_TYPES, StreamPlan
from target_clevertap.values import INT64_MAX, INT64_MIN, Unmappable
from tests.unit.plans import map_record

ROUTING_KEYS = ["id", "event", "ts"]
INTERESTING_KEYS = [
    *ROUTING_KEYS,
    "Items",
    "when",
    "name",
    "Email",
    "phone",
    "gender",
    "dob",
    "Date Of Birth",
    "age",
    "employed",
    "married",
    "education",
    "msg_sms",
    "MSG-push",
    "customer_type",
    "identity",
    "k" * 121,
]
INTERESTING_TEXT = [
    "",
    " ",
    "yes",
    "N",
    "female",
    "Graduate",
    "+14155550100",
    "4155550100",
    "+44+441234",
    "ana@example.com",
    "1990-01-01",
    "2023-11-14T22:13:20Z",
    "3000-01-01",
    "1700000000123",
    "1" * 400,
    "NaN",
    "Web Page Viewed",
    "Charged",
    "é" * 257,
    "😀" * 200,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN, infinities, -0.0, huge and tiny
    st.decimals(),  # NaN, sNaN, infinities, huge exponents
    st.text(max_size=30),
    st.sampled_from(INTERESTING_TEXT),
    st.datetimes(timezones=st.none() | st.just(dt.timezone.utc)),
    st.dates(),
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
# Mostly usable identities, names and timestamps, so most records get as far as a payload.
routing = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8) | st.integers() | scalars,
        "event": st.sampled_from(["Signed Up", "Charged", "Stayed", "Ünïcode ✓"]) | scalars,
    },
    optional={"ts": st.integers(min_value=1, max_value=2**42) | scalars},
)
keys = st.sampled_from(INTERESTING_KEYS) | st.text(max_size=20)
records = st.builds(
    lambda fields, base: {**fields, **base},
    st.dictionaries(keys, json_like, max_size=8),
    routing,
)
plans = st.builds(
    StreamPlan,
    stream=st.just("s"),
    kind=st.sampled_from(["profile", "event"]),
    identity_field=st.just("id"),
    identity_type=st.sampled_from(IDENTITY_TYPES),
    event_name=st.none() | st.sampled_from(["Charged", "App Launched", "Signed Up", " "]),
    event_name_field=st.sampled_from(["event", "event", "event", None]),
    timestamp_field=st.just("ts"),
    date_fields=st.frozensets(st.sampled_from(["when", "dob", "ts", "age", "Items", "x"])),
    map_standard_fields=st.booleans(),
    default_phone_region=st.sampled_from([None, "US", "in", "XX"]),
)


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = payload["profileData" if payload["type"] == "profile" else "evtData"]
    return data


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(record=records, plan=plans)
def test_map_record_rejects_with_a_reason_or_builds_a_sendable_payload(
    record: dict[str, Any], plan: StreamPlan
) -> None:
    result = map_record(record, plan)
    event(f"rejected: {result.code}" if isinstance(result, Rejection) else f"{plan.kind} payload")
    if isinstance(result, Rejection):
        assert isinstance(result.code, str)
        assert result.code
        assert isinstance(result.reason, str)
        assert result.reason.strip()
        if result.payload is not None:  # refused by preflight after it was built
            problem = preflight.first_problem(result.payload)
            assert problem is not None
            assert problem.code == result.code
        return
    assert preflight.first_problem(result) is None
    assert orjson.loads(orjson.dumps(result)) == result  # plain JSON: no Decimal, no datetime
    assert result["type"] == plan.kind
    identity = result[plan.identity_type]
    assert isinstance(identity, str)
    assert identity
    assert identity == identity.strip()
    if "ts" in result:
        assert type(result["ts"]) is int
        assert 0 < result["ts"] < 4102444800  # 1970 to 2100
    data = _data(result)
    assert "id" not in data
    assert "ts" not in data
    if plan.kind == "event":
        assert result["evtName"]
        if plan.event_name_field:
            assert plan.event_name_field not in data
    assert all(value is not None for value in data.values())


decimal_text = st.from_regex(r"-?\d{1,25}(\.\d{1,25})?([eE][+-]?\d{1,4})?", fullmatch=True)


@settings(max_examples=500, deadline=None, database=None)
@given(raw=st.decimals() | st.builds(Decimal, decimal_text))
def test_a_decimal_is_sent_as_the_number_it_writes(raw: Decimal) -> None:
    """Whole values within 64 bits as integers, fractions as floats; the rest refused."""
    whole = raw.is_finite() and raw == raw.to_integral_value()
    refused = not raw.is_finite() or (whole and not INT64_MIN <= int(raw) <= INT64_MAX)
    if refused:
        with pytest.raises(Unmappable):
            values.number(raw, "n")
        return
    sent = values.number(raw, "n")
    expected = int(raw) if whole else float(raw)
    assert (type(sent), sent) == (type(expected), expected)
