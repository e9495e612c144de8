"""CleverTap's purchase event, `Charged`, from warehouse columns.

In an event named `Charged` the source keys `amount`, `charged id` / `charged_id` and `items`
feed CleverTap's `Amount`, `Charged ID` and `Items`, matched as the standard profile keys are
(case, `_`, `-` and spaces ignored). `Items`, the one nested value CleverTap takes in event data,
must be a list of objects; JSON text (as PostgreSQL `json` columns often arrive) is parsed first.
No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from target_clevertap import values
from target_clevertap.standard_fields import key_form
from target_clevertap.text import shown
from target_clevertap.values import Unmappable

CHARGED = "Charged"
AMOUNT = "Amount"
CHARGED_ID = "Charged ID"
ITEMS = "Items"
CHARGED_KEYS = frozenset({AMOUNT, CHARGED_ID, ITEMS})
_BY_KEY_FORM = {"amount": AMOUNT, "chargedid": CHARGED_ID, "items": ITEMS}
# CleverTap's SDKs send at most 50 items; the server's own limit is unknown (API reference §6).
SDK_MAX_ITEMS = 50
MANY_ITEMS_NOTE = (
    f"Charged events with more than {SDK_MAX_ITEMS} Items were sent as they are (CleverTap's SDKs "
    "send at most 50; the server's limit is unknown): check one in the dashboard"
)


def charged_key_for(source_key: str) -> str | None:
    """The Charged key (`Amount`, `Charged ID`, `Items`) a source key feeds, if any."""
    return _BY_KEY_FORM.get(key_form(source_key))


def items_converter(on_many: Callable[[], None]) -> Callable[[Any], list[dict[str, Any]]]:
    """The converter of `Items`; `on_many` is called for each list over the SDKs' 50."""

    def convert(value: Any) -> list[dict[str, Any]]:
        items = charged_items(value)
        if len(items) > SDK_MAX_ITEMS:
            on_many()
        return items

    return convert


def charged_items(value: Any) -> list[dict[str, Any]]:
    """`Items` as CleverTap takes it: a list of flat objects (nested values as JSON text)."""
    if isinstance(value, str):
        value = _parsed(value)
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


def _parsed(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Unmappable(
            "items_invalid",
            f"'Items' of a Charged event is text that is not JSON: {shown(text)}; it must be a "
            "list of objects.",
        ) from None
