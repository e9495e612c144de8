"""Checks on a built CleverTap record, so a record CleverTap would refuse never costs a request.

The limits are CleverTap's documented ones (keys 120 bytes, values 512 bytes, 256 properties per
event, 100 items per multi-value property) and the system event names it refuses (code 513).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from target_clevertap.standard_fields import STANDARD_KEYS
from target_clevertap.text import shown
from target_clevertap.values import Unmappable

MAX_KEY_BYTES = 120
MAX_VALUE_BYTES = 512
MAX_EVENT_PROPERTIES = 256
MAX_PROFILE_PROPERTIES = 256  # custom profile properties per account
MAX_MULTI_VALUES = 100
# The problems of size: a record refused for one may be huge, so it is not kept twice.
SIZE_CODES = frozenset(
    {
        "key_too_long",
        "value_too_long",
        "event_name_too_long",
        "too_many_properties",
        "too_many_values",
    }
)
# UTF-8 takes at most 4 bytes a character: text this short is within the limits unencoded.
_SURELY_SHORT_KEY = MAX_KEY_BYTES // 4
_SURELY_SHORT_VALUE = MAX_VALUE_BYTES // 4

# The Android SDK's restricted list (with the Direct Call SDK's system events), plus
# `Web Page Viewed`, which the server refused with 513.
RESTRICTED_EVENT_NAMES = frozenset(
    {
        "App Launched",
        "App Uninstalled",
        "Notification Viewed",
        "Notification Clicked",
        "Notification Sent",
        "Notification Bounced",
        "UTM Visited",
        "Stayed",
        "Geocluster Entered",
        "Geocluster Exited",
        "Web Page Viewed",
        "wzrk_d",
        "DCOutgoing",
        "DCIncoming",
        "DCEnd",
    }
)


def first_problem(payload: Mapping[str, Any]) -> Unmappable | None:
    """The first reason CleverTap would refuse this record, or None."""
    return next(_problems(payload), None)


def key_too_long(key: str) -> bool:
    """Whether a property key is over CleverTap's 120 bytes."""
    return len(key) > _SURELY_SHORT_KEY and len(key.encode()) > MAX_KEY_BYTES


def data_surely_fits(data: Mapping[str, Any], max_properties: int) -> bool:
    """A quick look: few keys, no list, no long text; `first_problem` would find no value problem.

    Key lengths are not looked at: a key is the same in every record, so callers check it once.
    """
    if len(data) > max_properties:
        return False
    for value in data.values():
        kind = value.__class__
        if kind is list or (kind is str and len(value) > _SURELY_SHORT_VALUE):
            return False
    return True


def event_name_surely_fits(name: str) -> bool:
    """A quick look: the name is short and not a system event's, so uploads may raise it."""
    return len(name) <= _SURELY_SHORT_VALUE and name not in RESTRICTED_EVENT_NAMES


def _problems(payload: Mapping[str, Any]) -> Iterator[Unmappable]:
    if payload["type"] == "event":
        yield from _event_problems(payload)
        data = payload["evtData"]
    else:
        data = payload["profileData"]
        custom = len(data.keys() - STANDARD_KEYS)
        if custom > MAX_PROFILE_PROPERTIES:
            yield Unmappable(
                "too_many_properties",
                f"The profile has {custom} custom properties; a CleverTap account holds at "
                "most 256.",
            )
    yield from _data_problems(data)


def _event_problems(payload: Mapping[str, Any]) -> Iterator[Unmappable]:
    name = payload["evtName"]
    if name in RESTRICTED_EVENT_NAMES:
        yield Unmappable(
            "event_restricted",
            f"Event name '{name}' is a CleverTap system event, which uploads may not raise "
            "(CleverTap code 513); rename the event.",
        )
    if len(name.encode()) > MAX_VALUE_BYTES:
        yield Unmappable("event_name_too_long", f"Event name {shown(name)} is over 512 bytes.")
    if len(payload["evtData"]) > MAX_EVENT_PROPERTIES:
        yield Unmappable(
            "too_many_properties",
            f"The event has {len(payload['evtData'])} properties; CleverTap takes at most 256.",
        )


def _data_problems(data: Mapping[str, Any], prefix: str = "") -> Iterator[Unmappable]:
    for key, value in data.items():
        if key_too_long(key):
            yield Unmappable(
                "key_too_long", f"Property key {shown(prefix + key)} is over 120 bytes."
            )
        if (
            isinstance(value, str)
            and len(value) > _SURELY_SHORT_VALUE
            and len(value.encode()) > MAX_VALUE_BYTES
        ):
            yield Unmappable(
                "value_too_long",
                f"The value of '{prefix}{key}' is {len(value.encode())} bytes; CleverTap takes "
                "at most 512.",
            )
        if isinstance(value, list):
            yield from _list_problems(f"{prefix}{key}", value)


def _list_problems(key: str, items: list[Any]) -> Iterator[Unmappable]:
    is_multi_value = not any(isinstance(item, Mapping) for item in items)
    if is_multi_value and len(items) > MAX_MULTI_VALUES:
        yield Unmappable(
            "too_many_values",
            f"'{key}' has {len(items)} values; CleverTap keeps at most 100 and drops the rest.",
        )
    for item in items:
        if isinstance(item, Mapping):
            yield from _data_problems(item, prefix=f"{key}.")
        elif isinstance(item, str) and len(item.encode()) > MAX_VALUE_BYTES:
            yield Unmappable("value_too_long", f"A value of '{key}' is over 512 bytes.")
