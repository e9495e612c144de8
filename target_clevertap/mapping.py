"""Turn one Singer record into one CleverTap upload record, or a rejection with its reason.

No I/O, no clock: record in, payload or `Rejection` out. A stream's `RecordMapper` (its sink owns
it) works out each source key's rule (CleverTap key and value converter) the first time it sees
the key, so a record costs a lookup and a call per field. The standard profile keys (DOB, Phone,
Gender, ...) are in `standard_fields`; the stream's own field mapping (`properties`) and the
property operations in `field_mapping`; `Charged` in `charged`; the subscription category keys in
`subscription_categories`; the value rules in `values`; the checks CleverTap would otherwise fail
the record for, in `preflight`. What a person should hear of (a nested value stringified, many
Charged items) goes to the `Notice` callback the mapper is given; the mapper itself does no I/O.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from target_clevertap import device_tokens, preflight, subscriptions, values
from target_clevertap.charged import (
    CHARGED,
    CHARGED_KEYS,
    ITEMS,
    MANY_ITEMS_NOTE,
    charged_key_for,
    items_converter,
)
from target_clevertap.device_tokens import TOKEN_IDENTITY_TYPE
from target_clevertap.field_mapping import FieldSpec, operation_converter
from target_clevertap.plan import DELETABLE_BY, StreamPlan
from target_clevertap.standard_fields import (
    BY_SOURCE_KEY,
    STANDARD_KEYS,
    StandardField,
    standard_field_for,
)
from target_clevertap.subscription_categories import (
    CATEGORY_KEYS,
    category_key_for,
    category_value,
)
from target_clevertap.text import shown
from target_clevertap.values import INT64_MAX, INT64_MIN, Unmappable

# CleverTap's operator removing a profile property (a fresh copy in each payload).
UNSET: dict[str, Any] = {"$delete": True}
# The key a profile linked by its CleverTap ID carries its identity under, in `profileData`.
LINKED_IDENTITY = "identity"
_STANDARD_BY_NAME = {field.name: field for field in BY_SOURCE_KEY.values()}

Payload = dict[str, Any]
Converter = Callable[[Any], Any]
# A source key's CleverTap key and value converter; None for identity, event name and timestamp.
Rule = tuple[str, Converter] | None
Rules = dict[str, Rule]

# Keys whose rules are kept per stream; a stream with ever-new keys stays within this memory.
MAX_REMEMBERED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a person should hear of about a stream's records, which were still sent.

    `summarised`: counted and said once in the run's summary; else logged once when it happens.
    """

    text: str
    summarised: bool = False


def _ignore(notice: Notice) -> None:
    del notice


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was not sent, and what was built from it before that was clear."""

    code: str
    reason: str
    payload: Payload | None = None


def deletion(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """The profile to delete for a row marked deleted (or of a delete stream): its identity only,
    under the key CleverTap's delete call takes (`identity`, or `guid` for objectId streams)."""
    return _or_rejection(lambda: {DELETABLE_BY[plan.identity_type]: identity_of(record, plan)})


def device_token(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """The token upload record of a token stream's row: its CleverTap ID and `tokenData`."""
    assert plan.token is not None, "a token stream's plan has token settings"
    settings = plan.token
    return _or_rejection(
        lambda: {
            "type": "token",
            TOKEN_IDENTITY_TYPE: identity_of(record, plan),
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

    def __init__(self, plan: StreamPlan, notice: Callable[[Notice], None] = _ignore) -> None:
        self.plan = plan
        self._notice = notice
        self._rules: Rules = {}
        self._charged_rules: Rules = {}  # event streams: Charged events read its keys apart
        # Keys more than one source key may feed: standard, Charged and category keys, and the
        # targets of an explicit `to`.
        self._collidable = STANDARD_KEYS | CHARGED_KEYS | CATEGORY_KEYS | plan.fields.explicit_keys
        self._source_of_key: dict[str, str] = {}  # collidable key -> the first source key seen
        # Two source keys feed one CleverTap key (`email` and `Email`): records are then checked
        # key by key, so the one that has both is rejected instead of losing a value.
        self._keys_can_collide = False
        # A key over CleverTap's length limit was seen: payloads then get the full preflight.
        self._has_long_key = False
        # A null profile property removes the stored one (`on_null: unset`), else is left out.
        self._unsets = plan.kind == "profile" and plan.on_null == "unset"
        self._nulls_left_out = plan.fields.never_unset
        self._stringified: set[str] = set()  # event keys whose nested values were said to be

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
        identity = identity_of(record, plan)
        object_id = _object_id(record, plan.object_id_field) if plan.object_id_field else None
        if object_id is None:
            payload: Payload = {"type": plan.kind, plan.identity_type: identity}
        else:
            payload = {"type": plan.kind, "objectId": object_id}
        raw_ts = record.get(plan.timestamp_field)
        if raw_ts is not None and not (isinstance(raw_ts, str) and not raw_ts.strip()):
            payload["ts"] = values.epoch_seconds(raw_ts, plan.timestamp_field)
        if plan.kind == "profile":
            data = self._data_of(record, self._rules)
            if object_id is not None:
                _link(data, identity, plan.identity_fields)
            payload["profileData"] = data
            return payload, preflight.data_surely_fits(data, preflight.MAX_PROFILE_PROPERTIES)
        event_name = _event_name(record, plan)
        data = self._data_of(record, self._charged_rules if event_name == CHARGED else self._rules)
        payload["evtName"] = event_name
        payload["evtData"] = data
        screened = preflight.data_surely_fits(data, preflight.MAX_EVENT_PROPERTIES)
        return payload, screened and preflight.event_name_surely_fits(event_name)

    def _data_of(self, record: Mapping[str, Any], rules: Rules) -> Payload:
        if self._keys_can_collide:
            return self._data_key_by_key(record, rules)
        return self._data(record, rules)

    def _data(self, record: Mapping[str, Any], rules: Rules) -> Payload:
        data: Payload = {}
        for key, value in record.items():
            if value is None and (not self._unsets or key in self._nulls_left_out):
                continue
            try:
                rule = rules[key]
            except KeyError:
                rule = self._learn(key, rules)
                if self._keys_can_collide:
                    return self._data_key_by_key(record, rules)
            if rule is not None:
                name, convert = rule
                data[name] = dict(UNSET) if value is None else convert(value)
        return data

    def _data_key_by_key(self, record: Mapping[str, Any], rules: Rules) -> Payload:
        data: Payload = {}
        source_of: dict[str, str] = {}
        for key, value in record.items():
            if value is None and (not self._unsets or key in self._nulls_left_out):
                continue
            rule = self._rule(key, rules)
            if rule is None:
                continue
            name, convert = rule
            if name in source_of:
                raise Unmappable(
                    "field_conflict",
                    f"Fields '{source_of[name]}' and '{key}' both map to the {self.plan.kind} "
                    f"key '{name}'; drop or rename one of them (in the stream's 'properties' "
                    "setting, or with a stream map).",
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
            # Only these keys can have two sources; other keys are their source's own name.
            if name in self._collidable and self._source_of_key.setdefault(name, key) != key:
                self._keys_can_collide = True
        if len(rules) < MAX_REMEMBERED_KEYS:
            rules[key] = rule
        return rule

    def _rule_for(self, key: str, *, charged: bool) -> Rule:
        """Its `properties` entry first (which may send even a routing field as data), then the
        automatic rule."""
        specs = self.plan.fields.specs
        if key in specs:
            spec = specs[key]
            return None if spec is None else self._rule_of_spec(key, spec, charged=charged)
        if key in self.plan.routing_fields:
            return None
        name = self._automatic_name(key, charged=charged)
        return name, self._converter(key, name, charged=charged)

    def _rule_of_spec(self, key: str, spec: FieldSpec, *, charged: bool) -> Rule:
        if spec.to:
            name = spec.to
        elif spec.operation != "set":
            name = key  # an operation changes a custom property: no standard key matching
        else:
            name = self._automatic_name(key, charged=charged)
        convert = operation_converter(spec, key) or self._converter(key, name, charged=charged)
        return name, convert

    def _automatic_name(self, key: str, *, charged: bool) -> str:
        """The CleverTap key a source key feeds unless `properties` says otherwise: a standard,
        Charged or category key it matches, if no explicit `to` took that key, else its own."""
        plan = self.plan
        if plan.kind == "event":
            name = charged_key_for(key) if charged else None
        elif plan.map_standard_fields:
            standard = standard_field_for(key)
            name = standard.name if standard is not None else category_key_for(key)
        else:
            name = None
        return key if name is None or name in plan.fields.explicit_keys else name

    def _converter(self, key: str, name: str, *, charged: bool) -> Converter:
        """The value rule of the CleverTap key `name`, fed by the source key `key`."""
        plan = self.plan
        is_date = key in plan.date_fields
        if plan.kind == "event":
            if charged and name == ITEMS:
                return items_converter(self._many_items)
            return _value_converter(self._event_value, key, is_date=is_date)
        standard = _STANDARD_BY_NAME.get(name) if plan.map_standard_fields else None
        if standard is not None:
            return _standard_converter(key, standard, plan.default_phone_region)
        if name in CATEGORY_KEYS:
            return functools.partial(category_value, field=key)
        return _value_converter(_profile_value, key, is_date=is_date)

    def _many_items(self) -> None:
        self._notice(Notice(MANY_ITEMS_NOTE, summarised=True))

    def _event_value(self, key: str, value: Any, *, is_date: bool) -> Any:
        """Scalars (dates as `$D_`), anything nested as JSON text: said once per key, since the
        value loses its structure in CleverTap."""
        if values.is_scalar(value):
            return _scalar_or_date(key, value, is_date=is_date)
        text = values.json_text(value, key)
        if key not in self._stringified:
            self._stringified.add(key)
            self._notice(
                Notice(
                    f"Stream '{self.plan.stream}': event property '{key}' holds "
                    f"{type(value).__name__} values, sent as JSON text (CleverTap takes nested "
                    "event data only in a Charged event's Items); map it to flat columns if you "
                    "need to segment on its parts."
                )
            )
        return text


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


def identity_of(record: Mapping[str, Any], plan: StreamPlan) -> str:
    """The record's identity: from the first of the stream's identity fields that holds one."""
    identity = _identity_in(record, plan.identity_field)
    if identity is not None:
        return identity
    for fallback in plan.identity_fallbacks:
        identity = _identity_in(record, fallback)
        if identity is not None:
            return identity
    raise Unmappable("identity_missing", _identity_missing_reason(record, plan))


def _identity_in(record: Mapping[str, Any], field: str) -> str | None:
    """The identity a field holds, or None if it is absent, null or blank."""
    value = record.get(field)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = _number_as_identity(value, field)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _identity_missing_reason(record: Mapping[str, Any], plan: StreamPlan) -> str:
    if not plan.identity_fallbacks:
        return (
            f"Field '{plan.identity_field}' (the {plan.identity_type}) is "
            f"{shown(record.get(plan.identity_field))}; every record needs a non-empty identity."
        )
    found = ", ".join(f"'{field}' is {shown(record.get(field))}" for field in plan.identity_fields)
    return (
        f"None of the identity fields holds an identity ({found}); every record needs a "
        f"non-empty {plan.identity_type} in one of them."
    )


def _object_id(record: Mapping[str, Any], field: str) -> str | None:
    """The row's CleverTap ID, if it has one (text, not blank)."""
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Unmappable(
            "identity_invalid",
            f"Field '{field}' (the CleverTap ID) is {shown(value)}; a CleverTap ID is text.",
        )
    return value.strip()


def _link(data: Payload, identity: str, identity_fields: tuple[str, ...]) -> None:
    """A profile sent by its CleverTap ID carries its identity in `profileData.identity`, which
    links the two in CleverTap."""
    if LINKED_IDENTITY in data:
        raise Unmappable(
            "field_conflict",
            f"The record has a property that maps to the profile key '{LINKED_IDENTITY}', which "
            f"carries the identity (from {', '.join(repr(f) for f in identity_fields)}) of a "
            "profile sent with its CleverTap ID; drop or rename that property.",
        )
    data[LINKED_IDENTITY] = identity


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


def _scalar_or_date(key: str, value: Any, *, is_date: bool) -> Any:
    if is_date:
        return value if type(value) is bool else values.clevertap_date(value, key)
    if type(value) is str:
        return value
    return values.scalar(value, key)
