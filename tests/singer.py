"""Build Singer input for tests: SCHEMA, RECORD and STATE lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

PROFILE_SCHEMA: dict[str, Any] = {
    "properties": {
        "identity": {"type": "string"},
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
    }
}
EVENT_SCHEMA: dict[str, Any] = {
    "properties": {
        "identity": {"type": "string"},
        "evtName": {"type": "string"},
        "ts": {"type": "integer"},
        "amount": {"type": "number"},
    }
}


def schema(stream: str, properties: Mapping[str, Any]) -> str:
    return json.dumps(
        {"type": "SCHEMA", "stream": stream, "schema": properties, "key_properties": []}
    )


def record(stream: str, data: Mapping[str, Any]) -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": data})


def state(value: Any) -> str:
    return json.dumps({"type": "STATE", "value": value})


def profiles(stream: str, count: int, start: int = 0) -> list[str]:
    return [
        record(stream, {"identity": f"u{i}", "name": f"User {i}", "email": f"u{i}@example.com"})
        for i in range(start, start + count)
    ]


def events(stream: str, count: int, start: int = 0) -> list[str]:
    return [
        record(
            stream, {"identity": f"u{i}", "evtName": "Viewed", "ts": 1_700_000_000 + i, "amount": i}
        )
        for i in range(start, start + count)
    ]


def lines(*groups: str | Iterable[str]) -> str:
    """Join messages and lists of messages into one Singer input text."""
    out: list[str] = []
    for group in groups:
        out.extend([group] if isinstance(group, str) else group)
    return "\n".join(out) + "\n"


def users_then_state(count: int, state_value: Any) -> str:
    """The commonest input: a profile stream of `count` users, then one STATE."""
    return lines(schema("users", PROFILE_SCHEMA), profiles("users", count), state(state_value))


def users_with_states(*chunks: int) -> str:
    """A profile stream in chunks of these sizes, each followed by STATE {"users": <so far>}."""
    out, start = [schema("users", PROFILE_SCHEMA)], 0
    for size in chunks:
        out += [*profiles("users", size, start=start), state({"users": start + size})]
        start += size
    return lines(out)


def users_and_clicks(*groups: str | Iterable[str]) -> str:
    """Input with a `users` profile stream and a `clicks` event stream, then the given messages."""
    return lines(schema("users", PROFILE_SCHEMA), schema("clicks", EVENT_SCHEMA), *groups)
