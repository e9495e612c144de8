"""Checking records against their stream's SCHEMA: fastjsonschema, skipped for shapes it passed.

Most streams have flat schemas whose properties only name JSON types (formats are not checked),
and a tap writes records of few shapes: the same keys in the same order, each holding the same
kind of value. Under such a schema a record's shape alone decides whether it is valid, so a shape
fastjsonschema has passed once is not checked again (about half the cost a record: see
`benchmarks/README.md`). Other schemas, and records of a new shape, get the full check.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import fastjsonschema

from target_clevertap.text import shown

# Shapes remembered per stream; beyond this, records of new shapes are checked in full.
MAX_SHAPES = 1024

# Keywords that never change whether a value is valid (formats are not checked, defaults unused).
_ANNOTATIONS = frozenset(
    {
        "$comment",
        "$id",
        "$schema",
        "default",
        "deprecated",
        "description",
        "examples",
        "format",
        "readOnly",
        "title",
        "writeOnly",
    }
)
_TOP_LEVEL = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_PROPERTY = _ANNOTATIONS | {"type"}
_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})

Types = frozenset[str]  # the JSON types a property accepts
Shape = tuple[tuple[str, ...], tuple[type, ...]]


class InvalidStreamSchema(Exception):
    """A SCHEMA message that is not usable JSON Schema."""


class RecordValidator:
    """Checks one stream's records against its SCHEMA."""

    def __init__(self, schema: dict[str, Any], stream: str) -> None:
        self._check = _compile(schema, stream)
        self._flat = _flat_schema(schema)
        self._valid_shapes: set[Shape] = set()

    def violation(self, record: Mapping[str, Any]) -> str | None:
        """Why the record does not match the SCHEMA, or None when it does."""
        if self._flat is None:
            return self._full_check(record)
        shape = (tuple(record), tuple(map(type, record.values())))
        if shape in self._valid_shapes:
            return None
        reason = self._full_check(record)
        remember = reason is None and len(self._valid_shapes) < MAX_SHAPES
        if remember and _shape_decides(shape, *self._flat):
            self._valid_shapes.add(shape)
        return reason

    def _full_check(self, record: Mapping[str, Any]) -> str | None:
        try:
            self._check(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            return f"The record does not match the stream's SCHEMA: {shown(exc.message, 300)}"
        return None


def _compile(schema: dict[str, Any], stream: str) -> Any:
    try:
        return fastjsonschema.compile(schema, use_default=False, use_formats=False)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise InvalidStreamSchema(
            f"Stream '{stream}': its SCHEMA message is not valid JSON Schema ({exc}); "
            "fix the tap's schema or drop the stream with a stream map."
        ) from None


def _flat_schema(schema: dict[str, Any]) -> tuple[dict[str, Types], Types] | None:
    """Each property's types and those of keys not listed, if the schema only checks types.

    None when anything else could make a record invalid (`enum`, `maxLength`, nested
    `properties`, `$ref`, ...): records are then always checked in full.
    """
    top = _types(schema)
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    if (
        not schema.keys() <= _TOP_LEVEL
        or top is None
        or "object" not in top
        or not isinstance(properties, dict)
        or not isinstance(additional, bool)
    ):
        return None
    types: dict[str, Types] = {}
    for key, subschema in properties.items():
        accepted = _types(subschema) if isinstance(subschema, dict) else None
        if accepted is None or not subschema.keys() <= _PROPERTY:
            return None
        types[key] = accepted
    return types, (_JSON_TYPES if additional else frozenset())


def _types(schema: dict[str, Any]) -> Types | None:
    """The JSON types the `type` keyword allows (all when it is absent); None if unusable."""
    declared = schema.get("type", list(_JSON_TYPES))
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return None
    found = frozenset(names)
    return found if found <= _JSON_TYPES else None


def _shape_decides(shape: Shape, types: dict[str, Types], others: Types) -> bool:
    """Whether every record of this shape gets the same verdict under a flat schema.

    It does unless a fraction meets an `integer` property that is not also a `number`:
    fastjsonschema takes 2.0 as an integer but not 2.5.
    """
    keys, kinds = shape
    for key, kind in zip(keys, kinds, strict=True):
        accepted = types.get(key, others)
        if (
            (kind is float or kind is Decimal)
            and "integer" in accepted
            and "number" not in accepted
        ):
            return False
    return True
