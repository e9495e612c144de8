"""An event's key for the delivery ledger: what makes two records "the same event". Pure.

A stream's `event_key_fields` name source fields that identify an event (an order ID, an event
ID); without them, the key is a hash of the mapped event as canonical JSON (sorted keys): its
identity key and value, `evtName`, `ts` and `evtData`. A record whose key fields are null, or
that has no key fields and no `ts`, has no key: two identical events without a time may both be
genuine, so it is sent without deduplication.

A key is KEY_SIZE bytes: 8 bytes of the event's `ts` (big-endian; zero for key fields), then a
128-bit XXH3 hash of the canonical JSON. XXH3 is not a cryptographic hash: nobody gains by
forging a collision in their own events, and an accidental one between two events of the same
second is about as likely as a 2^-128 draw. It is a tenth of the cost of BLAKE2, which matters
on a path every event takes. The keys of one batch, usually close in time, sit side by side in
the ledger's index, so a batch's lookup and insert touch a few pages, not one page each.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from xxhash import xxh3_128_digest

_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_NO_TIME = bytes(8)
_TIME = struct.Struct(">Q").pack
_TIME_MASK = 2**64 - 1
# A whole key in one call: the time (which must fit 64 bits unsigned) and the digest.
_TIME_AND_DIGEST = struct.Struct(">Q16s").pack
KEY_SIZE = 24


class EventKeys:
    """Derives the ledger key of each event of one stream."""

    def __init__(self, key_fields: Sequence[str]) -> None:
        self._key_fields = tuple(key_fields)

    def keys_of(
        self, records: Sequence[Mapping[str, Any]], payloads: Sequence[Mapping[str, Any]]
    ) -> list[bytes | None]:
        """The key of each event of a batch (`key_of` of each, most of them in one pass)."""
        if not self._key_fields:
            # The usual batch: every event has a time of 0 to 2^64 - 1 and only text keys (as
            # every mapped record), where sorting the keys writes what `key_of` writes. It runs
            # on an upload thread, holding the GIL the reading thread needs: a quarter less work
            # a key than `key_of`, for the same keys.
            try:
                return [
                    _TIME_AND_DIGEST(
                        payload["ts"],
                        xxh3_128_digest(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)),
                    )
                    for payload in payloads
                ]
            except (KeyError, TypeError, struct.error):  # orjson's errors are TypeErrors
                pass
        pairs = zip(records, payloads, strict=True)
        return [self.key_of(record, payload) for record, payload in pairs]

    def key_of(self, record: Mapping[str, Any], payload: Mapping[str, Any]) -> bytes | None:
        """The event's key, or None when it has none (then it is sent without deduplication)."""
        if self._key_fields:
            values = [record.get(name) for name in self._key_fields]
            digest = None if None in values else _digest(values)
            return None if digest is None else _NO_TIME + digest
        ts = payload.get("ts")
        if ts is None:
            return None
        digest = _digest(payload)
        return None if digest is None else _TIME(int(ts) & _TIME_MASK) + digest


def _digest(value: Any) -> bytes | None:
    """A 16-byte hash of the value as canonical JSON; None if JSON cannot carry it (such a
    record is refused before sending anyway)."""
    try:
        return xxh3_128_digest(orjson.dumps(value, option=_CANONICAL, default=str))
    except orjson.JSONEncodeError:
        return None
