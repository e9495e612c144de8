"""A deterministic Singer input: one SCHEMA, N profile RECORDs, a STATE every `state_every`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

STREAM = "users"
STATE_EVERY = 10_000
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_GENDERS = ("male", "female")
_PLANS = ("free", "basic", "pro", "enterprise")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "gender": {"type": ["string", "null"]},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
        "score": {"type": ["number", "null"]},
        "is_vip": {"type": ["boolean", "null"]},
        "plan": {"type": ["string", "null"]},
        "visits": {"type": ["integer", "null"]},
    },
    "required": ["id"],
}

# How target-clevertap reads the stream: `id` is the identity, `updated_at` the profile time.
STREAM_SETTINGS: dict[str, Any] = {
    STREAM: {"type": "profile", "identity_field": "id", "timestamp_field": "updated_at"}
}


def record(number: int) -> dict[str, Any]:
    """The profile with this number: 10 fields, all valid for CleverTap."""
    updated = _EPOCH + dt.timedelta(seconds=number)
    return {
        "id": f"U{number:08d}",
        "email": f"user{number}@example.com",
        "name": f"User {number}",
        "phone": f"+1415{200 + number // 10_000 % 800:03d}{number % 10_000:04d}",  # unique
        "gender": _GENDERS[number % 2],
        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": round((number * 37 % 100_000) / 100, 2),
        "is_vip": number % 7 == 0,
        "plan": _PLANS[number % len(_PLANS)],
        "visits": number % 1_000,
    }


def messages(records: int, state_every: int = STATE_EVERY) -> Iterator[dict[str, Any]]:
    """SCHEMA, then the records with a STATE after every `state_every` of them (and at the end)."""
    yield {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]}
    for number in range(records):
        yield {"type": "RECORD", "stream": STREAM, "record": record(number)}
        done = number + 1
        if done % state_every == 0 or done == records:
            yield {"type": "STATE", "value": {"bookmarks": {STREAM: {"records_read": done}}}}


def expected_states(records: int, state_every: int = STATE_EVERY) -> int:
    """How many STATE messages `messages` writes for this many records."""
    return -(-records // state_every)


def write_input(path: Path, records: int) -> Path:
    """Write the input file (JSON Lines) and return its path."""
    with path.open("wb") as out:
        for message in messages(records):
            out.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
    return path
