"""The ordering rule: records for one identity reach CleverTap in reading order where it matters.

Unit tests state the rule on the barrier; in-process runs of the target against a loopback
endpoint that answers u0's profile slowly show it on real, concurrent requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from target_clevertap.ordering import OrderingBarrier, Touches, must_follow
from tests import singer
from tests.loopback_api import LoopbackApi

# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "later", "ordered"),
    [
        ("profile", "event", False),  # measured too costly: see ordering.py
        ("event", "profile", False),
        ("event", "event", False),  # events carry their own time
        ("profile", "profile", True),  # the last value read wins
        ("profile", "delete", True),  # a delete is never undone by an upsert read before it
        ("delete", "profile", True),  # nor does it undo one read after it
        ("event", "delete", True),
        ("delete", "event", True),
        ("token", "delete", True),  # a token never lands after its user's delete
        ("delete", "token", True),
        ("token", "token", False),  # a user's tokens are all kept, in any order
        ("profile", "token", False),  # a token needs a user known through the SDK already
        ("subscription", "subscription", True),  # Unsubscribe then Resubscribe ends subscribed
        ("profile", "subscription", False),  # an address, not a profile: see ordering.py
    ],
)
def test_which_kinds_keep_their_reading_order(earlier: str, later: str, ordered: bool) -> None:
    assert must_follow(earlier, later) is ordered


def test_a_batch_waits_only_for_earlier_batches_it_must_follow_that_share_an_identity() -> None:
    barrier = OrderingBarrier()
    deletes, _ = barrier.enter(Touches("delete", "identity", {"u1", "u2"}))
    barrier.enter(Touches("delete", "objectId", {"u3"}))  # another key: other identities
    _, disjoint = barrier.enter(Touches("event", "identity", {"u9"}))
    events, shared = barrier.enter(Touches("event", "identity", {"u2", "u9"}))
    _, after_events = barrier.enter(Touches("event", "identity", {"u2"}))

    assert disjoint == frozenset()
    assert shared == {deletes}
    assert after_events == {deletes}, "not the earlier events batch"
    assert events not in after_events


def test_a_waiting_batch_goes_once_the_earlier_one_leaves() -> None:
    barrier = OrderingBarrier()
    first, _ = barrier.enter(Touches("profile", "identity", {"u1"}))
    _, before = barrier.enter(Touches("profile", "identity", {"u1"}))
    went = threading.Event()
    waiter = threading.Thread(target=lambda: (barrier.wait_for(before), went.set()))
    waiter.start()

    assert not went.wait(0.2)
    barrier.leave(first)
    assert went.wait(5)
    waiter.join()


# --- on real requests -------------------------------------------------------------------------


def slow_for_u0_profile(path: str, body: Any) -> float:
    """u0's profile upload takes 0.3 s to answer; everything else is answered at once."""
    del path
    return 0.3 if any(r["type"] == "profile" and r["identity"] == "u0" for r in body["d"]) else 0


@pytest.fixture
def uploads(config: dict) -> Iterator[LoopbackApi]:
    with LoopbackApi(delay=slow_for_u0_profile) as api:
        config["api_url"] = api.url
        config["batch_size_rows"] = 3
        yield api


def test_events_are_not_held_back_for_their_users_profiles(
    uploads: LoopbackApi, config: dict, run_target: Any
) -> None:
    singer_input = singer.users_and_clicks(
        singer.profiles("users", 3, start=20),  # the first request goes alone: answered at once
        singer.profiles("users", 3),  # answered slowly
        singer.events("clicks", 3),  # the same users
        singer.state({"done": True}),
    )

    result = run_target(config, singer_input)

    assert result.exit_code == 0, result.log
    assert (
        uploads.request_for("event", "u0").started < uploads.request_for("profile", "u0").answered
    )
    assert result.states == [{"done": True}]


def test_profile_updates_of_one_user_in_two_batches_land_in_reading_order(
    uploads: LoopbackApi, config: dict, run_target: Any
) -> None:
    config["batch_size_rows"] = 2
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        *singer.profiles("users", 2, start=20),  # the first request goes alone: answered at once
        singer.record("users", {"identity": "u0", "name": "Old name"}),
        *singer.profiles("users", 1, start=5),
        singer.record("users", {"identity": "u0", "name": "New name"}),
        *singer.profiles("users", 1, start=6),
    )

    result = run_target(config, singer_input)

    assert result.exit_code == 0, result.log
    old, new = sorted((r for r in uploads.log if "u0" in r.identities), key=lambda r: r.started)
    assert new.started >= old.answered


def test_two_profile_streams_updating_one_user_keep_their_reading_order(
    uploads: LoopbackApi, config: dict, run_target: Any
) -> None:
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.schema("crm_users", singer.PROFILE_SCHEMA),
        singer.record("users", {"identity": "u0", "name": "Old name"}),  # a batch still filling
        singer.record("crm_users", {"identity": "u0", "name": "New name"}),
        *singer.profiles("crm_users", 2, start=7),  # crm_users' batch is full first
        singer.state({"done": True}),
    )

    result = run_target(config, singer_input)

    assert result.exit_code == 0, result.log
    old, new = uploads.log
    assert [r["profileData"]["Name"] for r in old.body["d"]] == ["Old name"]
    assert [r["profileData"]["Name"] for r in new.body["d"]] == ["New name", "User 7", "User 8"]
    assert new.started >= old.answered
    assert result.states == [{"done": True}]
