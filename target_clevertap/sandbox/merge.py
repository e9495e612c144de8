"""How CleverTap merges a profile update into a stored profile (SDK semantics).

Later values overwrite earlier ones property by property. A plain list is a multi-value property
(the SDKs send it as ``$set``). Multi-value properties keep unique items, at most 100 of them, and
evict the oldest first. The value of a property may also be a one-key operator object.

The subscription-category keys ``category-unsubscribe`` / ``category-resubscribe`` hold
``{channel: [category, ...]}``; the stored profile keeps, per key and channel, the categories
currently in that state: unsubscribing from a category adds it to ``category-unsubscribe`` and
takes it out of ``category-resubscribe``, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MULTI_VALUE_LIMIT = 100
OPPOSITE_CATEGORY_KEY = {
    "category-unsubscribe": "category-resubscribe",
    "category-resubscribe": "category-unsubscribe",
}
CATEGORY_KEYS = tuple(OPPOSITE_CATEGORY_KEY)

Profile = dict[str, Any]


def merge_profile(current: Mapping[str, Any], update: Mapping[str, Any]) -> Profile:
    """Return ``current`` with ``update`` applied; neither argument is modified."""
    merged = dict(current)
    for key, value in update.items():
        _apply(merged, key, value)
    return merged


def operator_of(value: object) -> str | None:
    """Return the operator name when ``value`` is a one-key ``{"$op": arg}`` object."""
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if isinstance(key, str) and key.startswith("$"):
            return key
    return None


def _apply(profile: Profile, key: str, value: Any) -> None:
    if value is None:
        return  # a null leaves the stored value alone
    if isinstance(value, list):
        _store_multi_value(profile, key, value)
        return
    if key in OPPOSITE_CATEGORY_KEY:
        _apply_categories(profile, key, value)
        return
    operator = operator_of(value)
    if operator is None:
        profile[key] = value
    else:
        OPERATORS[operator](profile, key, value[operator])


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _store_multi_value(profile: Profile, key: str, items: list[Any]) -> None:
    unique = list(dict.fromkeys(items))[-MULTI_VALUE_LIMIT:]
    if unique:
        profile[key] = unique
    else:
        profile.pop(key, None)


def _apply_categories(profile: Profile, key: str, update: Mapping[str, list[str]]) -> None:
    opposite = OPPOSITE_CATEGORY_KEY[key]
    chosen, other = _categories(profile, key), _categories(profile, opposite)
    for channel, names in update.items():
        chosen[channel] = list(dict.fromkeys([*chosen.get(channel, []), *names]))
        other[channel] = [name for name in other.get(channel, []) if name not in names]
    _store_categories(profile, key, chosen)
    _store_categories(profile, opposite, other)


def _categories(profile: Profile, key: str) -> dict[str, list[str]]:
    """A copy of the stored ``{channel: [category]}`` of ``key`` (empty when there is none)."""
    stored = profile.get(key)
    if not isinstance(stored, dict):
        return {}
    return {channel: list(names) for channel, names in stored.items()}


def _store_categories(profile: Profile, key: str, channels: dict[str, list[str]]) -> None:
    kept = {channel: names for channel, names in channels.items() if names}
    if kept:
        profile[key] = kept
    else:
        profile.pop(key, None)


def _set(profile: Profile, key: str, argument: Any) -> None:
    _store_multi_value(profile, key, _as_list(argument))


def _add(profile: Profile, key: str, argument: Any) -> None:
    _store_multi_value(profile, key, _as_list(profile.get(key)) + _as_list(argument))


def _remove(profile: Profile, key: str, argument: Any) -> None:
    removed = _as_list(argument)
    kept = [item for item in _as_list(profile.get(key)) if item not in removed]
    _store_multi_value(profile, key, kept)


def _delete(profile: Profile, key: str, argument: Any) -> None:
    profile.pop(key, None)


def _number(value: Any) -> int | float:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return value if is_number else 0


def _incr(profile: Profile, key: str, argument: Any) -> None:
    profile[key] = _number(profile.get(key)) + argument


def _decr(profile: Profile, key: str, argument: Any) -> None:
    profile[key] = _number(profile.get(key)) - argument


OPERATORS: dict[str, Callable[[Profile, str, Any], None]] = {
    "$set": _set,
    "$add": _add,
    "$remove": _remove,
    "$delete": _delete,
    "$incr": _incr,
    "$decr": _decr,
}
