"""Subscriptions (`type: "subscription"` streams): a source record as one `/1/subscribe` record,
and the stream's settings with their start-time checks.

No I/O. A record unsubscribes or resubscribes one email address or phone number, for every
CleverTap profile that shares it: `{"type": "email" | "phone", "value": ..., "status":
"Unsubscribe" | "Resubscribe"}`. Addresses and numbers are checked as for profiles (`values`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_clevertap import values
from target_clevertap.text import shown
from target_clevertap.values import Unmappable

CHANNELS = ("email", "phone")
UNSUBSCRIBE = "Unsubscribe"
RESUBSCRIBE = "Resubscribe"
# The two words in any case, and booleans read as "subscribed": true resubscribes.
_STATUSES: dict[Any, str] = {
    UNSUBSCRIBE.lower(): UNSUBSCRIBE,
    RESUBSCRIBE.lower(): RESUBSCRIBE,
    True: RESUBSCRIBE,
    False: UNSUBSCRIBE,
}
DEFAULT_CHANNEL_FIELD = "channel"
DEFAULT_VALUE_FIELD = "value"
DEFAULT_STATUS_FIELD = "status"
_ADDRESS = {"email": "an email address", "phone": "a phone number"}
# Settings that name whose profile a record is for: a subscription names an address instead.
# object_id_field too, refused for every stream that sends no profiles or events (config).
IDENTITY_SETTINGS = ("identity_field", "identity_type")


@dataclass(frozen=True)
class SubscriptionSettings:
    """Where a subscription stream's records hold the channel, the address and the status."""

    channel: str | None = None  # a constant channel for every record, over `channel_field`
    channel_field: str = DEFAULT_CHANNEL_FIELD
    value_field: str = DEFAULT_VALUE_FIELD
    status_field: str = DEFAULT_STATUS_FIELD

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> SubscriptionSettings:
        """The settings of a stream's (merged) `streams` entry, defaults for those not set."""
        return cls(
            channel=entry.get("channel") or None,
            channel_field=entry.get("channel_field") or DEFAULT_CHANNEL_FIELD,
            value_field=entry.get("value_field") or DEFAULT_VALUE_FIELD,
            status_field=entry.get("status_field") or DEFAULT_STATUS_FIELD,
        )


def settings_errors(
    stream: str, settings: SubscriptionSettings, own_entry: Mapping[str, Any]
) -> list[str]:
    """What stops a subscription stream at start, one sentence each."""
    errors = [
        f"Setting 'streams.{stream}.{name}' does not apply to a subscription stream, which "
        "changes every profile sharing an email address or phone number rather than one "
        f"profile: remove it (the address comes from 'value_field')."
        for name in IDENTITY_SETTINGS
        if name in own_entry
    ]
    if settings.channel is not None and settings.channel not in CHANNELS:
        errors.append(
            f"Setting 'streams.{stream}.channel' is {shown(settings.channel)}; use 'email' or "
            "'phone', or leave it out to read each record's channel from 'channel_field'."
        )
    return errors


def subscription_record(
    record: Mapping[str, Any], settings: SubscriptionSettings, phone_region: str | None
) -> dict[str, Any]:
    """The `/1/subscribe` record for a source record (raises `Unmappable`)."""
    channel = _channel(record, settings)
    field = settings.value_field
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Unmappable(
            "value_missing",
            f"Field '{field}' (the {channel} to subscribe or unsubscribe) is {shown(value)}; "
            f"every record needs {_ADDRESS[channel]}.",
        )
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Unmappable(
            f"{channel}_invalid",
            f"Field '{field}' is {shown(value)}, which is not {_ADDRESS[channel]}.",
        )
    address = (
        values.email(value, field)
        if channel == "email"
        else values.phone_e164(value, field, phone_region)
    )
    return {"type": channel, "value": address, "status": _status(record, settings.status_field)}


def _channel(record: Mapping[str, Any], settings: SubscriptionSettings) -> str:
    if settings.channel is not None:
        return settings.channel
    field = settings.channel_field
    value = record.get(field)
    channel = value.strip().lower() if isinstance(value, str) else None
    if channel not in CHANNELS:
        raise Unmappable(
            "channel_invalid",
            f"Field '{field}' (the channel) is {shown(value)}; use 'email' or 'phone' (or set "
            "'channel' for the stream).",
        )
    return channel


def _status(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    key = value.strip().lower() if isinstance(value, str) else value
    status = _STATUSES.get(key) if isinstance(key, (str, bool)) else None
    if status is None:
        raise Unmappable(
            "status_invalid",
            f"Field '{field}' (the subscription status) is {shown(value)}; use 'Unsubscribe' or "
            "'Resubscribe', or a boolean 'subscribed' (true resubscribes, false unsubscribes).",
        )
    return status
