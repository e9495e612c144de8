"""Assertions shared by the end-to-end tests: what arrived in the sandbox, what was rejected."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from e2e_samples import Row, expected_event, expected_profile
from e2e_sandbox import Stored


def assert_profiles(stored: Stored, users: Iterable[Row]) -> None:
    """Exactly these users are stored, each with its mapped standard fields and timestamp."""
    expected = {row["id"]: expected_profile(row) for row in users}
    assert sorted(stored.profiles) == sorted(expected), "stored identities differ from the source"
    for identity, want in expected.items():
        got = stored.profiles[identity]
        assert got["identity_key"] == "identity", identity
        assert got["profile"] == want["profileData"], f"profile {identity}"
        assert got["ts"] == want["ts"], f"ts of profile {identity}"


def assert_events(
    stored: Stored, events: Iterable[Row], ignored_data_keys: tuple[str, ...] = ()
) -> None:
    """Exactly these events are stored, each once, with name, identity, ts and data mapped."""
    expected = {row["event_id"]: expected_event(row) for row in events}
    by_id = stored.events_by_id()
    duplicates = sorted(k for k, found in by_id.items() if len(found) > 1)
    assert not duplicates, f"events stored more than once: {duplicates}"
    assert sorted(by_id, key=str) == sorted(expected), "stored events differ from the source"
    for event_id, want in expected.items():
        (got,) = by_id[event_id]
        data = {k: v for k, v in got["evt_data"].items() if k not in ignored_data_keys}
        assert got["evt_name"] == want["evtName"], event_id
        assert got["identity"] == want["identity"], event_id
        assert got["ts"] == want["ts"], f"ts of event {event_id}"
        assert data == want["evtData"], f"data of event {event_id}"


def source_key(stream: str, record: Row) -> tuple[str, Any]:
    """How a rejected record is told apart: users by id (or name, when it has no id)."""
    if stream.endswith("users"):
        return ("users", record.get("id") or record.get("name"))
    return ("events", record.get("event_id"))


def assert_rejected(
    rejected: list[Row], users: Iterable[Row] = (), events: Iterable[Row] = ()
) -> None:
    """The rejects file holds these rows, each once, and every entry says why."""
    want = Counter(
        [source_key("users", row) for row in users] + [source_key("events", row) for row in events]
    )
    got = Counter(source_key(entry["stream"], entry["record"]) for entry in rejected)
    assert got == want, f"rejected records differ: got {dict(got)}, want {dict(want)}"
    for entry in rejected:
        assert entry["source"] in ("local", "clevertap"), entry
        assert entry["error"], entry
        assert entry["rejected_at"], entry
