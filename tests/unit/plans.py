"""Stream plans for the unit tests, built directly so each test states what it depends on."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from target_clevertap.mapping import Payload, RecordMapper, Rejection
from target_clevertap.plan import StreamPlan

PROFILE_PLAN = StreamPlan(
    stream="users",
    kind="profile",
    identity_field="id",
    identity_type="identity",
    event_name=None,
    event_name_field="event",
    timestamp_field="ts",
    date_fields=frozenset(),
    map_standard_fields=True,
    default_phone_region=None,
)
EVENT_PLAN = dataclasses.replace(PROFILE_PLAN, stream="events", kind="event")


def profile_plan(**changes: Any) -> StreamPlan:
    """The profile plan with some fields changed."""
    return dataclasses.replace(PROFILE_PLAN, **changes)


def event_plan(**changes: Any) -> StreamPlan:
    """The event plan (event name from field 'event') with some fields changed."""
    return dataclasses.replace(EVENT_PLAN, **changes)


def map_record(record: Mapping[str, Any], plan: StreamPlan) -> Payload | Rejection:
    """One record mapped by a fresh mapper, so no test depends on what another one taught it."""
    return RecordMapper(plan).map(record)
