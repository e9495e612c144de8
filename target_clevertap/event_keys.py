"""An event's key for the delivery ledger: what makes two records "the same event". Pure.

A stream's `event_key_fields` name source fields that identify an event (an order ID, an event
ID); without them, the key is a hash of the mapped event (identity key and value, `evtName`,
`ts` and `evtData` as canonical JSON). A record whose key fields are null, or that has no key
fields and no `ts`, has no key: two identical events without a time may both be genuine, so it
is sent without deduplication.

A key is KEY_SIZE bytes: 8 bytes of the event's `ts` (big-endian; zero for key fields), then a
hash (16 bytes) of the parts as canonical JSON. The keys of one batch, usually close in time,
then sit side by side in the ledger's index, so a batch's lookup and insert touch a few pages,
not one page each; and a batch's keys travel to the ledger as one string of bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_NO_TIME = bytes(8)
KEY_SIZE = 24


class EventKeys:
    """Derives the ledger key of each event of one stream."""

    def __init__(self, key_fields: Sequence[str], identity_key: str) -> None:
        self._key_fields = tuple(key_fields)
        self._identity_key = identity_key

    def key_of(self, record: Mapping[str, Any], payload: Mapping[str, Any]) -> bytes | None:
        """The event's key, or None when it has none (then it is sent without deduplication)."""
        if self._key_fields:
            values = [record.get(name) for name in self._key_fields]
            digest = None if None in values else _digest(["fields", values])
            return None if digest is None else _NO_TIME + digest
        ts = payload.get("ts")
        if ts is None:
            return None
        key = self._identity_key
        digest = _digest(
            ["event", key, payload.get(key), payload.get("evtName"), ts, payload.get("evtData")]
        )
        return None if digest is None else (int(ts) % 2**64).to_bytes(8, "big") + digest


def _digest(parts: list[Any]) -> bytes | None:
    """A 16-byte hash of the parts as canonical JSON; None if JSON cannot carry them (such a
    record is refused before sending anyway)."""
    try:
        text = orjson.dumps(parts, option=_CANONICAL, default=str)
    except orjson.JSONEncodeError:
        return None
    return hashlib.blake2b(text, digest_size=16).digest()
