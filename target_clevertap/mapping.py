"""Turn one Singer record into one CleverTap upload record, or a rejection with its reason.

Pure functions: record and stream plan in, payload or `Rejection` out; no I/O, no clock.
The standard profile keys (DOB, Phone, Gender, ...) are in `standard_fields`; the value rules
in `values`; the checks CleverTap would otherwise fail the record for, in `preflight`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from target_clevertap import preflight, values
from target_clevertap.config import StreamPlan
from target_clevertap.standard_fields import standard_field_for
from target_clevertap.values import Unmappable

CHARGED = "Charged"
ITEMS = "Items"

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was not sent, and what was built from it before that was clear."""

    code: str
    reason: str
    payload: Payload | None = None


def map_record(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """The CleverTap record for a source record, or why it cannot be sent."""
    try:
        payload = _build(record, plan)
    except Unmappable as problem:
        return Rejection(problem.code, problem.reason)
    refusal = preflight.first_problem(payload)
    if refusal is not None:
        return Rejection(refusal.code, refusal.reason, payload)
    return payload


def _build(record: Mapping[str, Any], plan: StreamPlan) -> Payload:
    payload: Payload = {"type": plan.kind, plan.identity_type: _identity(record, plan)}
    raw_ts = record.get(plan.timestamp_field)
    if raw_ts is not None and not (isinstance(raw_ts, str) and not raw_ts.strip()):
        payload["ts"] = values.epoch_seconds(raw_ts, plan.timestamp_field)
    if plan.kind == "profile":
        payload["profileData"] = _profile_data(record, plan)
    else:
        event_name = _event_name(record, plan)
        payload["evtName"] = event_name
        payload["evtData"] = _event_data(record, plan, event_name)
    return payload


def _identity(record: Mapping[str, Any], plan: StreamPlan) -> str:
    value = record.get(plan.identity_field)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = _number_as_identity(value, plan.identity_field)
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(
            "identity_missing",
            f"Field '{plan.identity_field}' (the {plan.identity_type}) is {values.shown(value)}; "
            "every record needs a non-empty identity.",
        )
    return value.strip()


# Whole numbers up to this many digits are written out in full as identities.
_MAX_IDENTITY_DIGITS = 100


# Floats below this are whole numbers exactly (2**53): 1001.0 is the identity "1001".
_EXACT_FLOAT_INTEGERS = 2**53


def _number_as_identity(value: int | float | Decimal, field: str) -> str:
    """A numeric identity as text; whole numbers keep every digit, however large."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < _EXACT_FLOAT_INTEGERS:
            return str(int(value))
        return str(values.number(value, field))
    whole = value.is_finite() and value == value.to_integral_value()
    if whole and value.adjusted() < _MAX_IDENTITY_DIGITS:
        return str(int(value))
    return str(values.number(value, field))


def _event_name(record: Mapping[str, Any], plan: StreamPlan) -> str:
    value = plan.event_name or (
        record.get(plan.event_name_field) if plan.event_name_field else None
    )
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(
            "event_name_missing",
            f"Field '{plan.event_name_field}' (the event name) is {values.shown(value)}; every "
            "event needs a name (or set 'event_name' for the stream).",
        )
    return value.strip()


def _source_fields(record: Mapping[str, Any], plan: StreamPlan) -> list[tuple[str, Any]]:
    """The record's properties that become data, without identity, name, timestamp and nulls."""
    routing = plan.routing_fields
    return [(k, v) for k, v in record.items() if k not in routing and v is not None]


def _profile_data(record: Mapping[str, Any], plan: StreamPlan) -> Payload:
    data: Payload = {}
    source_of: dict[str, str] = {}
    for key, value in _source_fields(record, plan):
        name, converted = _profile_property(key, value, plan)
        if name in source_of:
            raise Unmappable(
                "field_conflict",
                f"Fields '{source_of[name]}' and '{key}' both map to the profile key '{name}'; "
                "drop or rename one of them (e.g. with a stream map).",
            )
        source_of[name] = key
        data[name] = converted
    return data


def _profile_property(key: str, value: Any, plan: StreamPlan) -> tuple[str, Any]:
    standard = standard_field_for(key) if plan.map_standard_fields else None
    if standard is None:
        return key, _profile_value(key, value, plan)
    if not values.is_scalar(value):
        raise Unmappable(
            "value_invalid",
            f"'{key}' feeds the standard key '{standard.name}', which takes a single value, "
            f"not {type(value).__name__}.",
        )
    return standard.name, standard.convert(value, key, plan.default_phone_region)


def _profile_value(key: str, value: Any, plan: StreamPlan) -> Any:
    """Scalars stay, arrays of scalars become multi-value lists, anything else JSON text."""
    if values.is_scalar(value):
        return _scalar_or_date(key, value, plan)
    if isinstance(value, list) and all(values.is_scalar(v) or v is None for v in value):
        return [values.text(v, key) for v in value if v is not None]
    return values.json_text(value, key)


def _event_data(record: Mapping[str, Any], plan: StreamPlan, event_name: str) -> Payload:
    data: Payload = {}
    for key, value in _source_fields(record, plan):
        if key == ITEMS and event_name == CHARGED:
            data[key] = _charged_items(value)
        elif values.is_scalar(value):
            data[key] = _scalar_or_date(key, value, plan)
        else:
            data[key] = values.json_text(value, key)
    return data


def _scalar_or_date(key: str, value: Any, plan: StreamPlan) -> Any:
    if key in plan.date_fields:
        return value if type(value) is bool else values.clevertap_date(value, key)
    if type(value) is str:
        return value
    return values.scalar(value, key)


def _charged_items(value: Any) -> list[Payload]:
    """`Items` of a Charged event: CleverTap's one nested value, a list of flat objects."""
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise Unmappable(
            "items_invalid",
            f"'Items' of a Charged event must be a list of objects, not {values.shown(value)}.",
        )
    return [
        {
            k: values.scalar(v, f"Items.{k}")
            if values.is_scalar(v)
            else values.json_text(v, f"Items.{k}")
            for k, v in item.items()
            if v is not None
        }
        for item in value
    ]
