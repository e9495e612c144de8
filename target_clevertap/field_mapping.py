"""The per-stream `properties` setting: which CleverTap key a source key feeds, and how.

`properties` is an object keyed by source key; a value is the CleverTap key (text), an object
`{"to": key, "operation": "set" | "add" | "remove" | "incr" | "decr", "format": "date"}` (all
optional), or null to leave the column out. `property_errors` checks it at start (one sentence a
problem); `compile_properties` turns it into the `FieldMapping` a stream's mapper reads once per
source key; the operation converters here build the values the mapper then sends. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from target_clevertap import values
from target_clevertap.preflight import MAX_KEY_BYTES, MAX_MULTI_VALUES, MAX_VALUE_BYTES
from target_clevertap.standard_fields import STANDARD_KEYS
from target_clevertap.text import shown
from target_clevertap.values import Unmappable

OPERATIONS = ("set", "add", "remove", "incr", "decr")
LIST_OPERATIONS = frozenset({"add", "remove"})
FORMATS = ("date",)
SUB_KEYS = ("to", "operation", "format")


@dataclass(frozen=True)
class FieldSpec:
    """How one source key is sent: under `to` (None: the key it would feed anyway), how."""

    to: str | None = None
    operation: str = "set"
    date: bool = False


@dataclass(frozen=True)
class FieldMapping:
    """A stream's compiled `properties`: each listed source key's spec (None: left out)."""

    specs: Mapping[str, FieldSpec | None]

    @property
    def explicit_keys(self) -> frozenset[str]:
        """CleverTap keys named by an explicit `to`: no other column feeds them automatically."""
        return frozenset(spec.to for spec in self.specs.values() if spec and spec.to)

    @property
    def never_unset(self) -> frozenset[str]:
        """Source keys whose null is left out whatever `on_null` says: a null with an operation
        means nothing to add, remove or count, not 'remove the stored property'."""
        return frozenset(
            key for key, spec in self.specs.items() if spec and spec.operation != "set"
        )


NO_FIELD_MAPPING = FieldMapping({})


def property_errors(stream: str, properties: Any, kind: str | None) -> list[str]:
    """Every problem with a stream's `properties` setting, one sentence each.

    `kind` is the stream's `type` when set (an event stream takes only `set`); None when it is
    read from the SCHEMA, where `compile_properties`'s caller checks the operations again.
    """
    where = f"streams.{stream}.properties"
    if properties is None:
        return []
    if not isinstance(properties, Mapping):
        return [
            f"Setting '{where}' must be an object keyed by source key (values: the CleverTap "
            "key, an object with to/operation/format, or null to leave the column out)."
        ]
    errors = []
    sources_of: dict[str, list[str]] = {}
    for key, entry in properties.items():
        if entry is None:
            continue
        spec_errors = _entry_errors(f"{where}.{key}", key, entry, kind)
        errors += spec_errors
        if not spec_errors:
            to = _spec(entry).to
            if to:
                sources_of.setdefault(to, []).append(key)
    for to, sources in sources_of.items():
        if len(sources) > 1:
            listed = " and ".join(f"'{source}'" for source in sources)
            errors.append(
                f"Setting '{where}' sends {listed} both to the CleverTap key '{to}'; "
                "one key takes one source: map one of them elsewhere, or to null."
            )
    return errors


def _entry_errors(where: str, key: str, entry: Any, kind: str | None) -> list[str]:
    if isinstance(entry, str):
        return _to_errors(where, entry)
    if not isinstance(entry, Mapping):
        return [
            f"Setting '{where}' is {shown(entry)}; give the CleverTap key as text, an object "
            "with to/operation/format, or null to leave the column out."
        ]
    unknown = sorted(set(entry) - set(SUB_KEYS))
    if unknown:
        return [
            f"Setting '{where}' has {', '.join(repr(k) for k in unknown)}, which it does not "
            f"know; use {', '.join(SUB_KEYS)}."
        ]
    to = entry.get("to")
    errors = _to_errors(f"{where}.to", to) if to is not None else []
    operation = entry.get("operation", "set")
    if operation not in OPERATIONS:
        errors.append(
            f"Setting '{where}.operation' is {shown(operation)}; use one of "
            f"{', '.join(OPERATIONS)}."
        )
    elif operation != "set" and kind == "event":
        errors.append(event_operation_refusal(where, operation))
    elif operation != "set" and (to if isinstance(to, str) and to else key) in STANDARD_KEYS:
        errors.append(
            f"Setting '{where}.operation' is '{operation}', but '{to or key}' is a standard "
            "profile key, which holds a single value; send it with operation 'set'."
        )
    fmt = entry.get("format")
    if fmt is not None and fmt not in FORMATS:
        errors.append(f"Setting '{where}.format' is {shown(fmt)}; the only format is 'date'.")
    elif fmt is not None and operation != "set":
        errors.append(
            f"Setting '{where}' has format '{fmt}' with operation '{operation}'; a date is "
            "sent with operation 'set' only."
        )
    return errors


def event_operation_refusal(where: str, operation: str) -> str:
    """The sentence refusing an operation on an event stream."""
    return (
        f"Setting '{where}.operation' is '{operation}', but the stream holds events, which have "
        "no stored properties to change; use 'set' (or leave operation out)."
    )


def _to_errors(where: str, to: Any) -> list[str]:
    if not isinstance(to, str) or not to.strip():
        return [f"Setting '{where}' is {shown(to)}; give the CleverTap key as non-empty text."]
    if len(to.encode()) > MAX_KEY_BYTES:
        return [
            f"Setting '{where}' is {len(to.encode())} bytes long; CleverTap keys take at most "
            f"{MAX_KEY_BYTES}."
        ]
    return []


def compile_properties(properties: Mapping[str, Any] | None) -> FieldMapping:
    """A `properties` setting that `property_errors` found nothing wrong with, compiled."""
    if not properties:
        return NO_FIELD_MAPPING
    return FieldMapping(
        {key: None if entry is None else _spec(entry) for key, entry in properties.items()}
    )


def _spec(entry: str | Mapping[str, Any]) -> FieldSpec:
    if isinstance(entry, str):
        return FieldSpec(to=entry)
    return FieldSpec(
        to=entry.get("to") or None,
        operation=entry.get("operation") or "set",
        date=entry.get("format") == "date",
    )


Converter = Callable[[Any], Any]


def operation_converter(spec: FieldSpec, key: str) -> Converter | None:
    """The converter a spec asks for itself (an operation, a date), or None for the automatic
    one of the key it feeds."""
    if spec.operation in LIST_OPERATIONS:
        return _list_operation(f"${spec.operation}", key)
    if spec.operation != "set":
        return _number_operation(f"${spec.operation}", key)
    if spec.date:
        return lambda value: values.clevertap_date(value, key)
    return None


def _list_operation(operator: str, key: str) -> Converter:
    """`{"$add": [...]}` / `{"$remove": [...]}`: items as text, a scalar as a one-item list."""

    def convert(value: Any) -> dict[str, list[str]]:
        if values.is_scalar(value):
            items = [values.text(value, key)]
        elif isinstance(value, list) and all(values.is_scalar(v) or v is None for v in value):
            items = [values.text(v, key) for v in value if v is not None]
        else:
            raise Unmappable(
                "value_invalid",
                f"'{key}' ({operator}) must be a value or a list of values, not {shown(value)}.",
            )
        if len(items) > MAX_MULTI_VALUES:
            raise Unmappable(
                "value_invalid",
                f"'{key}' ({operator}) has {len(items)} items; CleverTap keeps at most "
                f"{MAX_MULTI_VALUES} in a multi-value property, and a record is never cut short.",
            )
        long_item = next((i for i in items if len(i.encode()) > MAX_VALUE_BYTES), None)
        if long_item is not None:
            raise Unmappable(
                "value_too_long",
                f"An item of '{key}' ({operator}) is {len(long_item.encode())} bytes; CleverTap "
                f"takes at most {MAX_VALUE_BYTES}.",
            )
        return {operator: items}

    return convert


def _number_operation(operator: str, key: str) -> Converter:
    """`{"$incr": n}` / `{"$decr": n}` from a number; anything else rejects the record."""

    def convert(value: Any) -> dict[str, int | float]:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise Unmappable(
                "value_invalid", f"'{key}' ({operator}) must be a number, not {shown(value)}."
            )
        return {operator: values.number(value, key)}

    return convert
