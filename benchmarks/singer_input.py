"""Deterministic Singer inputs: SCHEMA messages, N RECORDs, a STATE every `state_every`.

Three feeds: `profiles` (N records of the `users` profile stream), `mixed` (the same N records
split between `users` profiles and `clicks` events of those users, interleaved in blocks) and
`events` (N `clicks` events, each one different, by EVENT_USERS users).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson

Feed = Literal["profiles", "mixed", "events"]
STREAM = "users"
EVENT_STREAM = "clicks"
EVENT_NAME = "Clicked"
STATE_EVERY = 10_000
# The mixed feed repeats: PROFILE_BLOCK new profiles, then EVENT_BLOCK events of those users.
PROFILE_BLOCK = 400
EVENT_BLOCK = 600
_CYCLE = PROFILE_BLOCK + EVENT_BLOCK
EVENT_USERS = 10_000  # the `events` feed's users
_USER_STEP = 7  # coprime with PROFILE_BLOCK: the events visit the block's users out of order
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_EVENTS_FROM = int(_EPOCH.timestamp()) + 86_400  # event times: the day after the profiles'
_GENDERS = ("male", "female")
_PLANS = ("free", "basic", "pro", "enterprise")
_PAGES = ("/", "/pricing", "/docs", "/signup", "/blog")
_ELEMENTS = ("button", "link", "banner")

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

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "evtName": {"type": "string"},
        "ts": {"type": "integer"},
        "page": {"type": ["string", "null"]},
        "element": {"type": ["string", "null"]},
        "position": {"type": ["integer", "null"]},
        "duration_s": {"type": ["number", "null"]},
    },
    "required": ["user_id", "evtName", "ts"],
}

# How target-clevertap reads the streams: `id` / `user_id` is the identity, `updated_at` the
# profile time, `evtName` and `ts` the event's name and time (epoch seconds).
STREAM_SETTINGS: dict[str, Any] = {
    STREAM: {"type": "profile", "identity_field": "id", "timestamp_field": "updated_at"},
    EVENT_STREAM: {
        "type": "event",
        "identity_field": "user_id",
        "event_name_field": "evtName",
        "timestamp_field": "ts",
    },
}


def record(number: int) -> dict[str, Any]:
    """The profile with this number: 10 fields, all valid for CleverTap."""
    updated = _EPOCH + dt.timedelta(seconds=number)
    return {
        "id": _identity(number),
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


def event(number: int, user: int) -> dict[str, Any]:
    """The click with this number, by the profile numbered `user`: name, time, 4 properties."""
    return {
        "user_id": _identity(user),
        "evtName": EVENT_NAME,
        "ts": _EVENTS_FROM + number,
        "page": _PAGES[number % len(_PAGES)],
        "element": _ELEMENTS[number % len(_ELEMENTS)],
        "position": number % 12,
        "duration_s": round((number * 13 % 60_000) / 1000, 3),
    }


def _identity(number: int) -> str:
    return f"U{number:08d}"


def _mixed_record(position: int) -> tuple[str, dict[str, Any]]:
    """The mixed feed's record at this position: a new profile, or a click by a block's user."""
    cycle, offset = divmod(position, _CYCLE)
    if offset < PROFILE_BLOCK:
        return STREAM, record(cycle * PROFILE_BLOCK + offset)
    nth = offset - PROFILE_BLOCK
    user = cycle * PROFILE_BLOCK + nth * _USER_STEP % PROFILE_BLOCK
    return EVENT_STREAM, event(cycle * EVENT_BLOCK + nth, user)


def _records(feed: Feed, records: int) -> Iterator[tuple[str, dict[str, Any]]]:
    if feed == "profiles":
        return ((STREAM, record(number)) for number in range(records))
    if feed == "events":
        return ((EVENT_STREAM, event(n, n % EVENT_USERS)) for n in range(records))
    return (_mixed_record(position) for position in range(records))


def _schemas(feed: Feed) -> Iterator[dict[str, Any]]:
    if feed != "events":
        yield {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["id"]}
    if feed != "profiles":
        yield {
            "type": "SCHEMA",
            "stream": EVENT_STREAM,
            "schema": EVENT_SCHEMA,
            "key_properties": [],
        }


def state(done: int, feed: Feed = "profiles") -> dict[str, Any]:
    """The STATE value written after the first `done` records of the feed."""
    if feed == "profiles":
        return {"bookmarks": {STREAM: {"records_read": done}}}
    if feed == "events":
        return {"bookmarks": {EVENT_STREAM: {"records_read": done}}}
    cycles, offset = divmod(done, _CYCLE)
    profiles = cycles * PROFILE_BLOCK + min(offset, PROFILE_BLOCK)
    return {
        "bookmarks": {
            STREAM: {"records_read": profiles},
            EVENT_STREAM: {"records_read": done - profiles},
        }
    }


def messages(
    records: int, state_every: int = STATE_EVERY, feed: Feed = "profiles"
) -> Iterator[dict[str, Any]]:
    """SCHEMAs, then the records with a STATE after every `state_every` of them (and at the end)."""
    yield from _schemas(feed)
    for done, (stream, body) in enumerate(_records(feed, records), start=1):
        yield {"type": "RECORD", "stream": stream, "record": body}
        if done % state_every == 0 or done == records:
            yield {"type": "STATE", "value": state(done, feed)}


def expected_states(records: int, state_every: int = STATE_EVERY) -> int:
    """How many STATE messages `messages` writes for this many records."""
    return -(-records // state_every)


def write_input(path: Path, records: int, feed: Feed = "profiles") -> Path:
    """Write the input file (JSON Lines) and return its path."""
    with path.open("wb") as out:
        for message in messages(records, feed=feed):
            out.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
    return path
