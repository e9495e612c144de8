"""Device tokens (`type: "token"` streams): a source record's push token as CleverTap's
`tokenData`, and the stream's token settings with their start-time checks.

No I/O. The token record's `objectId` is the stream's identity (see `mapping.device_token`); the
token itself, its type and (for `chrome`) its keys come from the fields named here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from target_clevertap.text import shown
from target_clevertap.values import Unmappable

# CleverTap's token types (API reference section 3): the current docs name fcm, gcm and apns;
# the older docs and samples add wns, mpns and chrome.
TOKEN_TYPES = ("fcm", "gcm", "apns", "wns", "mpns", "chrome")
# Web push (`chrome`) tokens need the subscription's keys; no other type takes them.
KEYED_TYPE = "chrome"
TOKEN_KEYS = ("p256dh", "auth")
DEFAULT_TOKEN_FIELD = "token"
DEFAULT_TOKEN_TYPE_FIELD = "token_type"
DEFAULT_TOKEN_KEYS_FIELD = "token_keys"
# Tokens belong to a user CleverTap already knows by its CleverTap ID.
TOKEN_IDENTITY_TYPE = "objectId"


@dataclass(frozen=True)
class TokenSettings:
    """Where a token stream's records hold the token, its type and its keys."""

    token_field: str = DEFAULT_TOKEN_FIELD
    token_type: str | None = None  # a constant type for every record, over `token_type_field`
    token_type_field: str = DEFAULT_TOKEN_TYPE_FIELD
    token_keys_field: str = DEFAULT_TOKEN_KEYS_FIELD

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> TokenSettings:
        """The settings of a stream's (merged) `streams` entry, defaults for those not set."""
        return cls(
            token_field=entry.get("token_field") or DEFAULT_TOKEN_FIELD,
            token_type=entry.get("token_type") or None,
            token_type_field=entry.get("token_type_field") or DEFAULT_TOKEN_TYPE_FIELD,
            token_keys_field=entry.get("token_keys_field") or DEFAULT_TOKEN_KEYS_FIELD,
        )


def settings_errors(stream: str, settings: TokenSettings, identity_type: str) -> list[str]:
    """What stops a token stream at start, one sentence each."""
    errors = []
    if identity_type != TOKEN_IDENTITY_TYPE:
        errors.append(
            f"Stream '{stream}' holds device tokens, which CleverTap takes only for a CleverTap "
            f"ID, but its 'identity_type' is '{identity_type}': set 'identity_type' to "
            "'objectId' and 'identity_field' to the field holding the CleverTap ID."
        )
    if settings.token_type is not None and settings.token_type not in TOKEN_TYPES:
        errors.append(
            f"Setting 'streams.{stream}.token_type' is {shown(settings.token_type)}; use one of "
            f"{', '.join(TOKEN_TYPES)}, or leave it out to read each record's type from "
            "'token_type_field'."
        )
    return errors


def token_data(record: Mapping[str, Any], settings: TokenSettings) -> dict[str, Any]:
    """CleverTap's `tokenData` for a record: `id`, `type`, and `keys` for a chrome token."""
    data: dict[str, Any] = {"id": _token(record, settings.token_field)}
    token_type = data["type"] = _token_type(record, settings)
    if token_type == KEYED_TYPE:
        data["keys"] = _keys(record.get(settings.token_keys_field), settings.token_keys_field)
    return data


def _token(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Unmappable(
            "token_missing",
            f"Field '{field}' (the device token) is {shown(value)}; every record needs a token.",
        )
    if not isinstance(value, str):
        raise Unmappable(
            "token_invalid",
            f"Field '{field}' (the device token) is {shown(value)}; a token is text.",
        )
    return value.strip()


def _token_type(record: Mapping[str, Any], settings: TokenSettings) -> str:
    if settings.token_type is not None:
        return settings.token_type
    field = settings.token_type_field
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Unmappable(
            "token_type_missing",
            f"Field '{field}' (the token type) is {shown(value)}; every record needs one of "
            f"{', '.join(TOKEN_TYPES)} (or set 'token_type' for the stream).",
        )
    token_type = value.strip().lower() if isinstance(value, str) else None
    if token_type not in TOKEN_TYPES:
        raise Unmappable(
            "token_type_invalid",
            f"Field '{field}' (the token type) is {shown(value)}; CleverTap takes "
            f"{', '.join(TOKEN_TYPES)}.",
        )
    return token_type


def _keys(value: Any, field: str) -> dict[str, str]:
    """The web push keys `p256dh` and `auth`, from an object or its JSON text; only those two
    are sent."""
    if isinstance(value, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(value)
    if not isinstance(value, Mapping) or not all(
        isinstance(value.get(key), str) and value[key].strip() for key in TOKEN_KEYS
    ):
        raise Unmappable(
            "token_keys_invalid",
            f"Field '{field}' (the keys of a chrome token) is {shown(value)}; it must be an "
            "object (or its JSON text) with the text keys 'p256dh' and 'auth'.",
        )
    return {key: value[key].strip() for key in TOKEN_KEYS}
