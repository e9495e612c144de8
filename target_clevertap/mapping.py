"""Turn one Singer record into one CleverTap upload record, or a rejection with its reason.

No I/O, no clock: record in, payload or `Rejection` out. A stream's `RecordMapper` (its sink owns
it) works out each source key's rule (CleverTap key and value converter) the first time it sees
the key, so a record costs a lookup and a call per field. The standard profile keys (DOB, Phone,
Gender, ...) are in `standard_fields`; the value rules in `values`; the checks CleverTap would
otherwise fail the record for, in `preflight`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from target_clevertap import device_tokens, preflight, subscriptions, values
from target_clevertap.device_tokens import TOKEN_IDENTITY_TYPE
from target_clevertap.plan import DELETABLE_BY, StreamPlan
from target_clevertap.standard_fields import STANDARD_KEYS, StandardField, standard_field_for
from target_clevertap.text import shown
from target_clevertap.values import INT64_MAX, INT64_MIN, Unmappable

CHARGED = "Charged"
# CleverTap's operator removing a profile property (a fresh copy in each payload).
UNSET: dict[str, Any] = {"$delete": True}
ITEMS = "Items"

Payload = dict[str, Any]
Converter = Callable[[Any], Any]
# A source key's CleverTap key and value converter; None for identity, event name and timestamp.
Rule = tuple[str, Converter] | None
Rules = dict[str, Rule]

# Keys whose rules are kept per stream; a stream with ever-new keys stays within this memory.
MAX_REMEMBERED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was not sent, and what was built from it before that was clear."""

    code: str
    reason: str
    payload: Payload | None = None


def deletion(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """The profile to delete for a row marked deleted (or of a delete stream): its identity only,
    under the key CleverTap's delete call takes (`identity`, or `guid` for objectId streams)."""
    return _or_rejection(lambda: {DELETABLE_BY[plan.identity_type]: _identity(record, plan)})


def device_token(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """The token upload record of a token stream's row: its CleverTap ID and `tokenData`."""
    assert plan.token is not None, "a token stream's plan has token settings"
    settings = plan.token
    return _or_rejection(
        lambda: {
            "type": "token",
            TOKEN_IDENTITY_TYPE: _identity(record, plan),
            "tokenData": device_tokens.token_data(record, settings),
        }
    )


def subscription(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """The `/1/subscribe` record of a subscription stream's row."""
    assert plan.subscription is not None, "a subscription stream's plan has its settings"
    settings, region = plan.subscription, plan.default_phone_region
    return _or_rejection(lambda: subscriptions.subscription_record(record, settings, region))


def _or_rejection(build: Callable[[], Payload]) -> Payload | Rejection:
    try:
        return build()
    except Unmappable as problem:
        return Rejection(problem.code, problem.reason)


class RecordMapper:
    """Maps the records of one stream."""

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan
        self._rules: Rules = {}
        self._charged_rules: Rules = {}  # event streams: Charged events read `Items` differently
        self._source_of_key: dict[str, str] = {}  # standard key -> the first source key seen
        # Two source keys feed one CleverTap key (`email` and `Email`): records are then checked
        # key by key, so the one that has both is rejected instead of losing a value.
        self._keys_can_collide = False
        # A key over CleverTap's length limit was seen: payloads then get the full preflight.
        self._has_long_key = False
        # A null profile property removes the stored one (`on_null: unset`), else is left out.
        self._unsets = plan.kind == "profile" and plan.on_null == "unset"

    def map(self, record: Mapping[str, Any]) -> Payload | Rejection:
        """The CleverTap record for a source record, or why it cannot be sent."""
        try:
            payload, screened = self._build(record)
        except Unmappable as problem:
            return Rejection(problem.code, problem.reason)
        if screened and not self._has_long_key:
            return payload
        refusal = preflight.first_problem(payload)
        if refusal is not None:
            return Rejection(refusal.code, refusal.reason, payload)
        return payload

    def _build(self, record: Mapping[str, Any]) -> tuple[Payload, bool]:
        """The payload, and whether a quick look rules out every preflight problem."""
        plan = self.plan
        payload: Payload = {"type": plan.kind, plan.identity_type: _identity(record, plan)}
        raw_ts = record.get(plan.timestamp_field)
        if raw_ts is not None and not (isinstance(raw_ts, str) and not raw_ts.strip()):
            payload["ts"] = values.epoch_seconds(raw_ts, plan.timestamp_field)
        if plan.kind == "profile":
            if self._keys_can_collide:
                data = self._profile_data_key_by_key(record)
            else:
                data = self._data(record, self._rules)
            payload["profileData"] = data
            return payload, preflight.data_surely_fits(data, preflight.MAX_PROFILE_PROPERTIES)
        event_name = _event_name(record, plan)
        data = self._data(record, self._charged_rules if event_name == CHARGED else self._rules)
        payload["evtName"] = event_name
        payload["evtData"] = data
        screened = preflight.data_surely_fits(data, preflight.MAX_EVENT_PROPERTIES)
        return payload, screened and preflight.event_name_surely_fits(event_name)

    def _data(self, record: Mapping[str, Any], rules: Rules) -> Payload:
        data: Payload = {}
        for key, value in record.items():
            if value is None and not self._unsets:
                continue
            try:
                rule = rules[key]
            except KeyError:
                rule = self._learn(key, rules)
                if self._keys_can_collide:  # only profile keys can collide
                    return self._profile_data_key_by_key(record)
            if rule is not None:
                name, convert = rule
                data[name] = dict(UNSET) if value is None else convert(value)
        return data

    def _profile_data_key_by_key(self, record: Mapping[str, Any]) -> Payload:
        data: Payload = {}
        source_of: dict[str, str] = {}
        for key, value in record.items():
            if value is None and not self._unsets:
                continue
            rule = self._rule(key, self._rules)
            if rule is None:
                continue
            name, convert = rule
            if name in source_of:
                raise Unmappable(
                    "field_conflict",
                    f"Fields '{source_of[name]}' and '{key}' both map to the profile key "
                    f"'{name}'; drop or rename one of them (e.g. with a stream map).",
                )
            source_of[name] = key
            data[name] = dict(UNSET) if value is None else convert(value)
        return data

    def _rule(self, key: str, rules: Rules) -> Rule:
        try:
            return rules[key]
        except KeyError:
            return self._learn(key, rules)

    def _learn(self, key: str, rules: Rules) -> Rule:
        rule = self._rule_for(key, charged=rules is self._charged_rules)
        if rule is not None:
            name = rule[0]
            self._has_long_key = self._has_long_key or preflight.key_too_long(name)
            # Only standard keys can have two sources; other keys are their source's own name.
            if name in STANDARD_KEYS and self._source_of_key.setdefault(name, key) != key:
                self._keys_can_collide = True
        if len(rules) < MAX_REMEMBERED_KEYS:
            rules[key] = rule
        return rule

    def _rule_for(self, key: str, *, charged: bool) -> Rule:
        plan = self.plan
        if key in plan.routing_fields:
            return None
        is_date = key in plan.date_fields
        if plan.kind == "event":
            if charged and key == ITEMS:
                return key, _charged_items
            return key, _value_converter(_event_value, key, is_date=is_date)
        standard = standard_field_for(key) if plan.map_standard_fields else None
        if standard is not None:
            return standard.name, _standard_converter(key, standard, plan.default_phone_region)
        return key, _value_converter(_profile_value, key, is_date=is_date)


def _value_converter(general: Callable[..., Any], key: str, *, is_date: bool) -> Converter:
    """`general(key, value)`, with text, booleans and numbers (checked) sent without the detour."""
    convert = functools.partial(general, key, is_date=is_date)
    if is_date:
        return convert

    def plain_or_converted(value: Any) -> Any:
        kind = value.__class__
        if kind is str or kind is bool or (kind is int and INT64_MIN <= value <= INT64_MAX):
            return value
        if kind is Decimal or kind is float:
            return values.number(value, key)
        return convert(value)

    return plain_or_converted


def _standard_converter(key: str, standard: StandardField, region: str | None) -> Converter:
    def convert(value: Any) -> Any:
        if value.__class__ is not str and not values.is_scalar(value):
            raise Unmappable(
                "value_invalid",
                f"'{key}' feeds the standard key '{standard.name}', which takes a single value, "
                f"not {type(value).__name__}.",
            )
        return standard.convert(value, key, region)

    return convert


def _identity(record: Mapping[str, Any], plan: StreamPlan) -> str:
    value = record.get(plan.identity_field)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = _number_as_identity(value, plan.identity_field)
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(
            "identity_missing",
            f"Field '{plan.identity_field}' (the {plan.identity_type}) is {shown(value)}; "
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
            f"Field '{plan.event_name_field}' (the event name) is {shown(value)}; every "
            "event needs a name (or set 'event_name' for the stream).",
        )
    return value.strip()


def _profile_value(key: str, value: Any, *, is_date: bool) -> Any:
    """Scalars stay, arrays of scalars become multi-value lists, anything else JSON text."""
    if values.is_scalar(value):
        return _scalar_or_date(key, value, is_date=is_date)
    if isinstance(value, list) and all(values.is_scalar(v) or v is None for v in value):
        return [values.text(v, key) for v in value if v is not None]
    return values.json_text(value, key)


def _event_value(key: str, value: Any, *, is_date: bool) -> Any:
    if values.is_scalar(value):
        return _scalar_or_date(key, value, is_date=is_date)
    return values.json_text(value, key)


def _scalar_or_date(key: str, value: Any, *, is_date: bool) -> Any:
    if is_date:
        return value if type(value) is bool else values.clevertap_date(value, key)
    if type(value) is str:
        return value
    return values.scalar(value, key)


def _charged_items(value: Any) -> list[Payload]:
    """`Items` of a Charged event: CleverTap's one nested value, a list of flat objects."""
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise Unmappable(
            "items_invalid",
            f"'Items' of a Charged event must be a list of objects, not {shown(value)}.",
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
