"""How one stream's records become CleverTap records: its settings resolved into a `StreamPlan`.

The stream's own `streams` entry goes over the `"*"` entry, over the defaults here; whether a
stream holds profiles or events is read from its settings, else from its SCHEMA message.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from target_clevertap.device_tokens import TokenSettings
from target_clevertap.field_mapping import (
    NO_FIELD_MAPPING,
    FieldMapping,
    compile_properties,
    event_operation_refusal,
)
from target_clevertap.subscriptions import SubscriptionSettings

IDENTITY_TYPES = ("identity", "objectId", "FBID", "GPID")
# CleverTap deletes profiles by identity, or by CleverTap ID ("guid", our objectId) only.
DELETABLE_BY = {"identity": "identity", "objectId": "guid"}
STREAM_TYPES = ("profile", "event", "delete", "token", "subscription")
# What a row marked deleted (`_sdc_deleted_at` set) does: left out, sent like any other row, or
# its CleverTap profile deleted.
ON_DELETE = ("skip", "upsert", "delete")
DELETED_AT = "_sdc_deleted_at"
# What a null property of a profile does: left out, or the stored property removed.
ON_NULL = ("omit", "unset")
DEFAULT_IDENTITY_FIELD = "identity"
DEFAULT_IDENTITY_TYPE = "identity"
DEFAULT_EVENT_NAME_FIELD = "evtName"
DEFAULT_TIMESTAMP_FIELD = "ts"
DEFAULT_MAP_STANDARD_FIELDS = True
DEFAULT_ON_DELETE = "skip"
DEFAULT_ON_NULL = "omit"
DEFAULTS_KEY = "*"

StreamKind = Literal["profile", "event", "delete", "token", "subscription"]


class UnusableStreamSettings(Exception):
    """A stream's own settings ask for what its kind cannot do (known once its SCHEMA is read)."""


@dataclass(frozen=True)
class StreamSettings:
    """One stream's settings after defaults were applied."""

    type: StreamKind | None
    identity_field: str
    identity_type: str
    event_name: str | None
    event_name_field: str | None
    timestamp_field: str
    on_delete: str
    on_delete_inherited: bool  # from the "*" entry, not the stream's own
    on_null: str
    on_null_inherited: bool
    token: TokenSettings
    subscription: SubscriptionSettings
    own_entry: Mapping[str, Any]  # the stream's own `streams` entry, as given
    event_key_fields: tuple[str, ...]
    identity_fallbacks: tuple[str, ...] = ()  # tried in order when identity_field is blank
    object_id_field: str | None = None
    properties: Any = None  # the `properties` setting as given (see `field_mapping`)


@dataclass(frozen=True)
class StreamPlan:
    """How the records of one stream become CleverTap records."""

    stream: str
    kind: StreamKind
    identity_field: str
    identity_type: str
    event_name: str | None
    event_name_field: str | None
    timestamp_field: str
    date_fields: frozenset[str]
    map_standard_fields: bool
    default_phone_region: str | None
    on_delete: str = DEFAULT_ON_DELETE
    on_null: str = DEFAULT_ON_NULL
    event_key_fields: tuple[str, ...] = ()  # what identifies an event for the ledger
    notes: tuple[str, ...] = ()  # said once at the stream's start: settings that do not apply
    token: TokenSettings | None = None  # token streams only
    subscription: SubscriptionSettings | None = None  # subscription streams only
    identity_fallbacks: tuple[str, ...] = ()
    object_id_field: str | None = None
    fields: FieldMapping = NO_FIELD_MAPPING

    @functools.cached_property
    def routing_fields(self) -> frozenset[str]:
        """Fields that place the record (identities, timestamp, event name), not data in it."""
        fields = {self.identity_field, self.timestamp_field, *self.identity_fallbacks}
        if self.kind == "event" and self.event_name_field:
            fields.add(self.event_name_field)
        if self.object_id_field:
            fields.add(self.object_id_field)
        return frozenset(fields)

    @property
    def identity_fields(self) -> tuple[str, ...]:
        """The fields the identity is read from, the first present and not blank winning."""
        return (self.identity_field, *self.identity_fallbacks)

    def _identity_source(self) -> str:
        fields = " else ".join(f"'{field}'" for field in self.identity_fields)
        source = f"identity from {fields} as {self.identity_type}"
        if self.object_id_field:
            source += f", CleverTap ID (objectId) from '{self.object_id_field}' where present"
        return source

    def describe(self) -> str:
        """Say, for the log, how this stream is read."""
        if self.kind == "delete":
            return (
                f"Stream '{self.stream}' deletes profiles: every row names one by "
                f"'{self.identity_field}' as {self.identity_type}."
            )
        if self.kind == "token":
            return (
                f"Stream '{self.stream}' uploads device tokens: each row's CleverTap ID from "
                f"'{self.identity_field}'."
            )
        if self.kind == "subscription":
            return (
                f"Stream '{self.stream}' unsubscribes and resubscribes email addresses and phone "
                "numbers (for every profile sharing one)."
            )
        if self.kind == "profile":
            return (
                f"Stream '{self.stream}' is loaded as profiles: {self._identity_source()}, "
                f"timestamp from '{self.timestamp_field}'."
            )
        name = (
            f"the constant '{self.event_name}'"
            if self.event_name
            else f"field '{self.event_name_field}'"
        )
        return (
            f"Stream '{self.stream}' is loaded as events: {self._identity_source()}, event "
            f"name from {name}, timestamp from '{self.timestamp_field}'."
        )


def stream_entry(config: Mapping[str, Any], stream: str) -> dict[str, Any]:
    """The stream's own entry over the "*" entry, as given."""
    streams = config.get("streams") or {}
    return {**(streams.get(DEFAULTS_KEY) or {}), **(streams.get(stream) or {})}


def identity_fields(value: Any) -> tuple[str, ...] | None:
    """`identity_field` as the fields to try in order: text, or a non-empty list of text; None
    when it is neither."""
    if value is None:
        return (DEFAULT_IDENTITY_FIELD,)
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


def stream_settings(config: Mapping[str, Any], stream: str) -> StreamSettings:
    """The stream's own entry over the "*" defaults over the built-in defaults."""
    streams = config.get("streams") or {}
    own = streams.get(stream) or {}
    merged = stream_entry(config, stream)
    identities = identity_fields(merged.get("identity_field")) or (DEFAULT_IDENTITY_FIELD,)
    return StreamSettings(
        type=merged.get("type"),
        identity_field=identities[0],
        identity_type=merged.get("identity_type") or DEFAULT_IDENTITY_TYPE,
        event_name=merged.get("event_name") or None,
        event_name_field=merged.get("event_name_field", DEFAULT_EVENT_NAME_FIELD) or None,
        timestamp_field=merged.get("timestamp_field") or DEFAULT_TIMESTAMP_FIELD,
        on_delete=merged.get("on_delete") or DEFAULT_ON_DELETE,
        on_delete_inherited=stream != DEFAULTS_KEY and "on_delete" not in own,
        on_null=merged.get("on_null") or DEFAULT_ON_NULL,
        on_null_inherited=stream != DEFAULTS_KEY and "on_null" not in own,
        token=TokenSettings.from_entry(merged),
        subscription=SubscriptionSettings.from_entry(merged),
        own_entry=own,
        identity_fallbacks=identities[1:],
        object_id_field=merged.get("object_id_field") or None,
        properties=merged.get("properties"),
        event_key_fields=tuple(merged.get("event_key_fields") or ()),
    )


def plan_stream(config: Mapping[str, Any], stream: str, schema: Mapping[str, Any]) -> StreamPlan:
    """Resolve how a stream is mapped, from its settings and its SCHEMA message."""
    settings = stream_settings(config, stream)
    properties: Mapping[str, Any] = schema.get("properties") or {}
    looks_like_events = bool(settings.event_name) or settings.event_name_field in properties
    kind: StreamKind = settings.type or ("event" if looks_like_events else "profile")
    # A delete stream deletes every row: its `on_delete` has nothing to decide.
    cannot_delete = None if kind == "delete" else why_it_cannot_delete(kind, settings.identity_type)
    on_delete, delete_note = _effective(
        stream, ON_DELETE_DELETE, settings.on_delete, settings.on_delete_inherited, cannot_delete
    )
    on_null, null_note = _effective(
        stream,
        ON_NULL_UNSET,
        settings.on_null,
        settings.on_null_inherited,
        why_it_cannot_unset(kind),
    )
    return StreamPlan(
        stream=stream,
        kind=kind,
        identity_field=settings.identity_field,
        identity_type=settings.identity_type,
        event_name=settings.event_name,
        event_name_field=settings.event_name_field,
        timestamp_field=settings.timestamp_field,
        date_fields=frozenset(k for k, v in properties.items() if _is_date_property(v)),
        map_standard_fields=bool(config.get("map_standard_fields", DEFAULT_MAP_STANDARD_FIELDS)),
        default_phone_region=config.get("default_phone_region") or None,
        on_delete=on_delete,
        on_null=on_null,
        event_key_fields=settings.event_key_fields,
        notes=tuple(
            note
            for note in (delete_note, null_note, _key_fields_note(stream, kind, settings))
            if note
        ),
        token=settings.token if kind == "token" else None,
        subscription=settings.subscription if kind == "subscription" else None,
        identity_fallbacks=settings.identity_fallbacks,
        object_id_field=settings.object_id_field,
        fields=_field_mapping(stream, kind, settings.properties),
    )


def _key_fields_note(stream: str, kind: StreamKind, settings: StreamSettings) -> str | None:
    if not settings.event_key_fields or kind == "event":
        return None
    return (
        f"Stream '{stream}': 'event_key_fields' does not apply (a {kind} stream does not use "
        "the event ledger: sending it again is harmless)."
    )


def _field_mapping(stream: str, kind: StreamKind, properties: Any) -> FieldMapping:
    """The stream's compiled `properties`; an operation on a stream found to hold events (from
    its SCHEMA) stops the run, as the start-time check does for a stream of `type: event`."""
    fields = compile_properties(properties)
    if kind == "event":
        for key, spec in fields.specs.items():
            if spec is not None and spec.operation != "set":
                where = f"streams.{stream}.properties.{key}"
                raise UnusableStreamSettings(event_operation_refusal(where, spec.operation))
    return fields


def why_it_cannot_delete(kind: str | None, identity_type: str) -> str | None:
    """Why rows of such a stream cannot delete CleverTap profiles, or None if they can."""
    if kind == "event":
        return "an event stream cannot delete (CleverTap deletes profiles, not single events)"
    if kind == "token":
        return "a token stream cannot delete (a token row marked deleted is not a deleted user)"
    if kind == "subscription":
        return "a subscription stream names an address, not a profile to delete"
    if identity_type not in DELETABLE_BY:
        return f"CleverTap deletes profiles by identity or objectId only, not by {identity_type}"
    return None


# The stream kinds that may send a CleverTap ID beside the identity (None: read from the SCHEMA).
KINDS_THAT_LINK = (None, "profile", "event")


def why_it_cannot_link(kind: str | None, identity_type: str) -> str | None:
    """Why such a stream cannot send a CleverTap ID beside the identity, or None if it can."""
    if kind not in KINDS_THAT_LINK:
        return f"a {kind} stream sends no profiles or events"
    if identity_type != "identity":
        return (
            "a CleverTap ID is linked to a custom identity, and the stream's identity_type is "
            f"{identity_type}, not identity"
        )
    return None


def _is_date_property(prop: Mapping[str, Any]) -> bool:
    if prop.get("format") in {"date", "date-time"}:
        return True
    variants = list(prop.get("anyOf") or []) + list(prop.get("oneOf") or [])
    return any(isinstance(v, Mapping) and _is_date_property(v) for v in variants)


def why_it_cannot_unset(kind: str | None) -> str | None:
    """Why nulls of such a stream cannot unset properties, or None if they can."""
    if kind == "event":
        return "an event stream has no stored properties to unset"
    if kind in ("delete", "token", "subscription"):
        return f"a {kind} stream sends no properties"
    return None


@dataclass(frozen=True)
class Switch:
    """A per-stream setting's value that some kinds of stream cannot take."""

    name: str
    value: str
    instead: str  # what to use where it cannot apply
    default: str
    default_does: str  # what the default then does, for the note


ON_DELETE_DELETE = Switch(
    "on_delete",
    "delete",
    "'skip' or 'upsert'",
    DEFAULT_ON_DELETE,
    "its rows marked deleted are skipped",
)
ON_NULL_UNSET = Switch("on_null", "unset", "'omit'", DEFAULT_ON_NULL, "its nulls are left out")


def refusal(stream: str, switch: Switch, why: str) -> str:
    """The sentence refusing a stream's own setting that cannot apply to it."""
    return (
        f"Setting 'streams.{stream}.{switch.name}' is '{switch.value}', but {why}; use "
        f"{switch.instead} for this stream."
    )


def _effective(
    stream: str, switch: Switch, value: str, inherited: bool, why: str | None
) -> tuple[str, str | None]:
    """The stream's value of the setting, and a note if one from the "*" entry does not apply.

    Its own entry asking for what cannot apply stops the run (`UnusableStreamSettings`).
    """
    if value != switch.value or why is None:
        return value, None
    if not inherited:
        raise UnusableStreamSettings(refusal(stream, switch, why))
    return switch.default, (
        f"Stream '{stream}': '{switch.name}: {switch.value}' from the \"*\" entry does not apply "
        f"({why}); {switch.default_does}."
    )
