"""Adaptive concurrency: how the cap on requests in flight reacts to 429s and to successes."""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager

from target_clevertap.limiter import MAX_PATIENCE, AdaptiveLimiter


def send(limiter: AdaptiveLimiter, count: int) -> list[int]:
    """`count` requests sent together and answered; returns the generation each was sent under."""
    slots: list[AbstractContextManager[int]] = [limiter.slot() for _ in range(count)]
    generations = [slot.__enter__() for slot in slots]
    for slot in slots:
        slot.__exit__(None, None, None)
    return generations


def burst(limiter: AdaptiveLimiter, count: int, refused: int) -> None:
    """`count` requests in flight together: `refused` of them answered 429 (first, as CleverTap
    refuses at once), then the others accepted."""
    slots: list[AbstractContextManager[int]] = [limiter.slot() for _ in range(count)]
    generations = [slot.__enter__() for slot in slots]
    for slot, generation in zip(slots[:refused], generations[:refused], strict=True):
        limiter.throttled(generation)
        slot.__exit__(None, None, None)
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
        limiter.throttled(sixth)  # the account holds 5 of ours and took no more
    assert limiter.limit == 5
    for slot in accepted:
        slot.__exit__(None, None, None)


def test_a_429_for_a_request_sent_under_an_older_cap_changes_nothing() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=10)
    (old,) = send(limiter, 1)
    full_rounds(limiter, 2)
    assert limiter.limit == 6
    limiter.throttled(old)  # sent under the cap of 5, which has grown since
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

    for _ in range(100):  # one request at a time: the cap of 7 is never reached
        with limiter.slot():
            limiter.succeeded()
    assert limiter.limit == 7

    full_rounds(limiter, 1)  # patience doubled by the 429s: 2 x 7 successes at the cap
    assert limiter.limit == 7
    full_rounds(limiter, 1)
    assert limiter.limit == 8


def test_a_raise_that_draws_a_429_makes_the_next_raise_wait_twice_as_long() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=10)
    full_rounds(limiter, 2)  # patience 2: two full rounds of 5
    assert limiter.limit == 6
    burst(limiter, 6, refused=1)  # the probe finds the account still takes 5
    assert limiter.limit == 5
    full_rounds(limiter, 3)  # patience 4 now: 15 successes at the cap, not yet 20
    assert limiter.limit == 5
    full_rounds(limiter, 1)
    assert limiter.limit == 6


def test_a_raise_that_holds_brings_patience_back_to_normal() -> None:
    limiter = AdaptiveLimiter(15)
    burst(limiter, 15, refused=10)
    full_rounds(limiter, 2)
    assert limiter.limit == 6
    full_rounds(limiter, 2)  # 12 accepted at 6: the raise held; patience is 1 from here
    assert limiter.limit == 7
    full_rounds(limiter, 1)
    assert limiter.limit == 8


def test_patience_is_bounded_and_the_cap_never_passes_the_ceiling() -> None:
    limiter = AdaptiveLimiter(4)
    for _ in range(10):  # every raise draws a 429
        burst(limiter, limiter.limit, refused=1)
        full_rounds(limiter, MAX_PATIENCE)
    assert 1 <= limiter.limit <= 4
    full_rounds(limiter, 200)
    assert limiter.limit == 4


def test_a_429_says_whether_other_requests_of_ours_are_in_flight() -> None:
    alone = AdaptiveLimiter(15)
    with alone.slot() as generation:
        assert alone.throttled(generation) is False  # the budget is taken by someone else
    together = AdaptiveLimiter(15)
    with together.slot() as first, together.slot() as second:
        assert together.throttled(first) is True  # `second` will free a slot
        assert together.throttled(second) is True


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
