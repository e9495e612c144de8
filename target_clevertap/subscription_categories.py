"""The profile keys that unsubscribe or resubscribe a user from subscription categories.

`category-unsubscribe` and `category-resubscribe` take an object such as
`{"email": ["Marketing"], "push": ["Offers"]}` (API reference section 9). They are sent as objects,
never as JSON text; source keys match as the standard profile keys do (`category_unsubscribe`
feeds `category-unsubscribe`), and JSON text (a warehouse `json` column) is parsed first. No I/O.
"""

from __future__ import annotations

from typing import Any

import orjson

from target_clevertap.standard_fields import key_form
from target_clevertap.text import shown
from target_clevertap.values import Unmappable

CATEGORY_KEYS = frozenset({"category-unsubscribe", "category-resubscribe"})
CHANNELS = ("email", "push", "sms", "whatsapp")
_BY_KEY_FORM = {key_form(key): key for key in CATEGORY_KEYS}


def category_key_for(source_key: str) -> str | None:
    """The category key a source key feeds, if any."""
    return _BY_KEY_FORM.get(key_form(source_key))


def category_value(value: Any, field: str) -> dict[str, list[str]]:
    """An object of channel -> list of category names, checked; else the record is rejected."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = value
    if not isinstance(parsed, dict) or not _well_formed(parsed):
        raise Unmappable(
            "value_invalid",
            f"'{field}' is {shown(value)}; it must be an object whose keys are among "
            f"{', '.join(CHANNELS)}, each a list of category names (text), e.g. "
            '{"email": ["Marketing"]}.',
        )
    return {channel: list(names) for channel, names in parsed.items()}


def _well_formed(categories: dict[Any, Any]) -> bool:
    return all(
        channel in CHANNELS
        and isinstance(names, list)
        and all(isinstance(name, str) and name.strip() for name in names)
        for channel, names in categories.items()
    )
