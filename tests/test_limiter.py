"""Adaptive concurrency: how the cap on requests in flight reacts to 429s and to successes."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import AbstractContextManager

import pytest

from target_clevertap.limiter import PROBE_ROUNDS, AdaptiveLimiter
from target_clevertap.switch_interval import SHORT_SECONDS, SwitchInterval, restored_switch_interval


def send(limiter: AdaptiveLimiter, count: int) -> list[int]:
    """`count` requests sent together and answered; returns the generation each was sent under."""
    slots: list[AbstractContextManager[int]] = [limiter.slot() for _ in range(count)]
    generations = [slot.__enter__() for slot in slots]
    for slot in slots:
        slot.__exit__(None, None, None)
    return generations


def burst(limiter: AdaptiveLimiter, count: int, refused: int) -> None:
    """`count` requests in flight together: `refused` of them answered 429 (first, as CleverTap
    refuses at once) and then given up, then the others accepted."""
    tickets = [limiter.ticket() for _ in range(count)]
    slots: list[AbstractContextManager[int]] = [limiter.slot(ticket) for ticket in tickets]
    generations = [slot.__enter__() for slot in slots]
    for slot, generation, ticket in zip(slots, generations, tickets[:refused], strict=False):
        limiter.throttled(generation, ticket)
        slot.__exit__(None, None, None)
        limiter.finished(ticket)
    for slot in slots[refused:]:
        limiter.succeeded()
        slot.__exit__(None, None, None)


def full_rounds(limiter: AdaptiveLimiter, rounds: int) -> None:
    """`rounds` times: as many requests as the cap allows, all at once, all accepted."""
    for _ in range(rounds):
        slots = [limiter.slot() for _ in range(limiter.limit)]
        for slot in slots:
            slot.__enter__()
        for slot in slots:
            limiter.succeeded()
            slot.__exit__(None, None, None)


def test_the_cap_starts_at_the_ceiling_so_the_first_round_fills_the_budget() -> None:
    limiter = AdaptiveLimiter(15)
    assert limiter.limit == 15
    first_round = threading.Thread(target=send, args=(limiter, 15))
    first_round.start()
    first_round.join(timeout=5)
    assert not first_round.is_alive()  # none of the 15 waited for an earlier answer


def test_each_429_under_the_current_cap_lowers_it_by_one_to_what_the_account_took() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=10)  # the account took 5
    assert limiter.limit == 5


def test_a_429_drops_the_cap_at_once_to_our_other_requests_in_flight() -> None:
    limiter = AdaptiveLimiter(15)
    accepted = [limiter.slot() for _ in range(5)]
    for slot in accepted:
        slot.__enter__()
    with limiter.slot() as sixth:
        limiter.throttled(sixth, ticket=5)  # the account holds 5 of ours and took no more
    assert limiter.limit == 5
    for slot in accepted:
        slot.__exit__(None, None, None)


def test_a_429_for_a_request_sent_under_an_older_cap_changes_nothing() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=10)
    (old,) = send(limiter, 1)
    full_rounds(limiter, PROBE_ROUNDS * 5)
    assert limiter.limit == 6
    limiter.throttled(old, ticket=6)  # sent under the cap of 5, which has grown since
    assert limiter.limit == 6


def test_the_cap_never_goes_below_one() -> None:
    limiter = AdaptiveLimiter(3)
    burst(limiter, 3, refused=3)
    for _ in range(3):
        burst(limiter, 1, refused=1)
    assert limiter.limit == 1


def test_the_cap_grows_only_after_it_was_reached() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=8)
    assert limiter.limit == 7

    for _ in range(200):  # one request at a time: the cap of 7 is never reached
        with limiter.slot():
            limiter.succeeded()
    assert limiter.limit == 7

    full_rounds(limiter, PROBE_ROUNDS * 7 - 1)  # after a 429: PROBE_ROUNDS x limit full rounds
    assert limiter.limit == 7
    full_rounds(limiter, 1)
    assert limiter.limit == 8


def test_after_a_429_a_small_share_probes_sooner_than_a_large_one() -> None:
    small, large = AdaptiveLimiter(15), AdaptiveLimiter(15)
    burst(small, 15, refused=13)
    burst(large, 15, refused=5)
    assert (small.limit, large.limit) == (2, 10)
    full_rounds(small, PROBE_ROUNDS * 2)
    full_rounds(large, PROBE_ROUNDS * 2)
    assert (small.limit, large.limit) == (3, 10)  # the small one probes first
    full_rounds(large, PROBE_ROUNDS * 10 - PROBE_ROUNDS * 2)
    assert large.limit == 11


def test_a_raise_that_holds_for_a_round_is_followed_by_one_twice_its_size() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=11)
    full_rounds(limiter, PROBE_ROUNDS * 4)
    assert limiter.limit == 5
    full_rounds(limiter, 1)  # 5 accepted at 5: the raise held
    assert limiter.limit == 7
    full_rounds(limiter, 1)
    assert limiter.limit == 11
    full_rounds(limiter, 1)
    assert limiter.limit == 15  # never past the ceiling
    full_rounds(limiter, 50)
    assert limiter.limit == 15


def test_a_raise_that_draws_a_429_is_followed_by_a_raise_of_one() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=11)
    full_rounds(limiter, PROBE_ROUNDS * 4)
    full_rounds(limiter, 1)
    assert limiter.limit == 7
    burst(limiter, 7, refused=2)  # the raise of two found the account takes 5
    assert limiter.limit == 5
    full_rounds(limiter, PROBE_ROUNDS * 5 - 1)
    assert limiter.limit == 5
    full_rounds(limiter, 1)
    assert limiter.limit == 6


def test_a_429_with_none_of_ours_in_flight_holds_back_every_other_request() -> None:
    limiter = AdaptiveLimiter(15)
    refused_ticket, later = limiter.ticket(), limiter.ticket()
    with limiter.slot(refused_ticket) as generation:
        assert limiter.throttled(generation, refused_ticket) is False
    sent: list[str] = []

    def send_later() -> None:
        with limiter.slot(later):
            sent.append("later")

    newer = threading.Thread(target=send_later)
    newer.start()
    time.sleep(0.05)
    assert sent == []  # the account is full of others' requests: a new batch would draw a 429
    with limiter.slot(refused_ticket):  # the refused request, after its retry wait, goes again
        sent.append("retry")
    newer.join(timeout=5)
    assert sent == ["retry", "later"]


def test_a_refused_request_given_up_lets_the_others_go() -> None:
    limiter = AdaptiveLimiter(15)
    refused_ticket = limiter.ticket()
    with limiter.slot(refused_ticket) as generation:
        limiter.throttled(generation, refused_ticket)
    newer = threading.Thread(target=send, args=(limiter, 1))
    newer.start()
    time.sleep(0.05)
    assert newer.is_alive()
    limiter.finished(refused_ticket)  # out of retries, or the run is stopping
    newer.join(timeout=5)
    assert not newer.is_alive()


def test_a_429_says_whether_other_requests_of_ours_are_in_flight() -> None:
    alone = AdaptiveLimiter(15)
    with alone.slot() as generation:
        assert (
            alone.throttled(generation, ticket=-1) is False
        )  # the budget is taken by someone else
    together = AdaptiveLimiter(15)
    with together.slot() as first, together.slot() as second:
        assert together.throttled(first, ticket=-1) is True  # `second` will free a slot
        assert together.throttled(second, ticket=-1) is True


def test_a_free_slot_goes_to_the_oldest_ticket_waiting() -> None:
    limiter = AdaptiveLimiter(1)
    older, newer = limiter.ticket(), limiter.ticket()
    order: list[str] = []

    def wait_with(ticket: int, name: str) -> None:
        with limiter.slot(ticket):
            order.append(name)

    with limiter.slot():  # the one place is taken
        late = threading.Thread(target=wait_with, args=(newer, "newer"))
        late.start()
        time.sleep(0.05)  # the newer ticket queues first...
        early = threading.Thread(target=wait_with, args=(older, "older"))
        early.start()
        time.sleep(0.05)
    early.join(timeout=5)
    late.join(timeout=5)
    assert order == ["older", "newer"]  # ...but the older one goes first


def test_the_limiter_says_when_requests_start_and_stop_waiting_for_a_place() -> None:
    heard: list[bool] = []
    limiter = AdaptiveLimiter(1, heard.append)
    first = limiter.slot()
    first.__enter__()
    assert heard == []  # a free place: nobody waited

    second = threading.Thread(target=send, args=(limiter, 1))
    second.start()
    deadline = time.monotonic() + 5
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert heard == [True]  # the second request waits for the only place

    first.__exit__(None, None, None)
    second.join(timeout=5)
    assert heard == [True, False]  # it went, and none waits any more
    send(limiter, 1)
    assert heard == [True, False]  # said at each change only


def test_the_switch_interval_is_short_while_any_budget_has_requests_waiting() -> None:
    with restored_switch_interval():
        default = sys.getswitchinterval()
        switching = SwitchInterval()

        switching.requests_wait("upload", True)
        switching.requests_wait("other", True)
        switching.requests_wait("upload", False)
        assert sys.getswitchinterval() == pytest.approx(SHORT_SECONDS)

        switching.requests_wait("other", False)
        assert sys.getswitchinterval() == pytest.approx(default)

        switching.requests_wait("other", True)
    assert sys.getswitchinterval() == pytest.approx(default)  # the run's end restores it
