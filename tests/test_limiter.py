"""Adaptive concurrency: how the cap on requests in flight reacts to 429s and to successes."""

from __future__ import annotations

from contextlib import AbstractContextManager

from target_clevertap.client import MAX_PATIENCE, AdaptiveLimiter


def proven(ceiling: int) -> AdaptiveLimiter:
    """A limiter whose first request succeeded, so its cap is open to the ceiling."""
    limiter = AdaptiveLimiter(ceiling)
    with limiter.slot():
        limiter.succeeded()
    return limiter


def send(limiter: AdaptiveLimiter, count: int) -> list[int]:
    """`count` requests sent together; returns the generation each was sent under."""
    slots: list[AbstractContextManager[int]] = [limiter.slot() for _ in range(count)]
    generations = [slot.__enter__() for slot in slots]
    for slot in slots:
        slot.__exit__(None, None, None)
    return generations


def full_rounds(limiter: AdaptiveLimiter, rounds: int) -> None:
    """`rounds` times: as many requests as the cap allows, all at once, all accepted."""
    for _ in range(rounds):
        slots = [limiter.slot() for _ in range(limiter.limit)]
        for slot in slots:
            slot.__enter__()
        for slot in slots:
            limiter.succeeded()
            slot.__exit__(None, None, None)


def test_the_first_request_goes_alone_then_the_cap_opens() -> None:
    limiter = AdaptiveLimiter(15)
    assert limiter.limit == 1
    with limiter.slot():
        limiter.succeeded()
    assert limiter.limit == 15


def test_each_429_under_the_current_cap_lowers_it_by_one_to_what_the_account_took() -> None:
    limiter = proven(15)
    generations = send(limiter, 15)
    for generation in generations[5:]:  # the account took 5, refused 10
        limiter.throttled(generation)
    assert limiter.limit == 5


def test_a_429_for_a_request_sent_under_an_older_cap_changes_nothing() -> None:
    limiter = proven(15)
    (old,) = send(limiter, 1)
    full_rounds(limiter, 1)
    limiter.throttled(old)
    full_rounds(limiter, 2)  # 15 in flight and more: the cap is 15 and stays
    assert limiter.limit == 15


def test_the_cap_never_goes_below_one() -> None:
    limiter = proven(3)
    for generation in send(limiter, 3) * 4:
        limiter.throttled(generation)
    assert limiter.limit == 1


def test_the_cap_grows_only_after_it_was_reached() -> None:
    limiter = proven(15)
    for generation in send(limiter, 8):
        limiter.throttled(generation)
    assert limiter.limit == 7

    for _ in range(100):  # one request at a time: the cap of 7 is never reached
        with limiter.slot():
            limiter.succeeded()
    assert limiter.limit == 7

    full_rounds(limiter, 2)  # patience doubled by the 429s: 2 x 7 successes at the cap
    assert limiter.limit == 8


def test_a_raise_that_draws_a_429_makes_the_next_raise_wait_twice_as_long() -> None:
    limiter = proven(15)
    for generation in send(limiter, 15)[5:]:
        limiter.throttled(generation)
    full_rounds(limiter, 2)  # patience 2: two full rounds of 5
    assert limiter.limit == 6
    limiter.throttled(send(limiter, 6)[5])  # the probe finds the account still takes 5
    assert limiter.limit == 5
    full_rounds(limiter, 3)
    assert limiter.limit == 5  # patience 4 now: 20 successes, not 15
    full_rounds(limiter, 1)
    assert limiter.limit == 6


def test_a_raise_that_holds_brings_patience_back_to_normal() -> None:
    limiter = proven(15)
    for generation in send(limiter, 15)[5:]:
        limiter.throttled(generation)
    full_rounds(limiter, 2)
    assert limiter.limit == 6
    full_rounds(limiter, 2)  # 12 accepted at 6: the raise held; patience is 1 from here
    assert limiter.limit == 7
    full_rounds(limiter, 1)
    assert limiter.limit == 8


def test_patience_is_bounded_and_the_cap_never_passes_the_ceiling() -> None:
    limiter = proven(4)
    for _ in range(10):  # every raise draws a 429
        generations = send(limiter, limiter.limit)
        limiter.throttled(generations[-1])
        full_rounds(limiter, MAX_PATIENCE)
    assert 1 <= limiter.limit <= 4
    full_rounds(limiter, 200)
    assert limiter.limit == 4


def test_a_429_says_whether_other_requests_of_ours_are_in_flight() -> None:
    limiter = proven(15)
    with limiter.slot() as alone:
        assert limiter.throttled(alone) is False  # the budget is taken by someone else
    with limiter.slot() as first, limiter.slot() as second:
        assert limiter.throttled(first) is True  # `second` will free a slot
        assert limiter.throttled(second) is True
