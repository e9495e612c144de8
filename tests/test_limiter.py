"""Adaptive concurrency: how the cap on requests in flight reacts to 429s and to successes."""

from __future__ import annotations

from target_clevertap.client import AdaptiveLimiter


def proven(ceiling: int) -> AdaptiveLimiter:
    """A limiter whose first request succeeded, so its cap is open to the ceiling."""
    limiter = AdaptiveLimiter(ceiling)
    with limiter.slot():
        limiter.succeeded()
    return limiter


def test_the_first_request_goes_alone_then_the_cap_opens() -> None:
    limiter = AdaptiveLimiter(15)
    assert limiter.limit == 1
    with limiter.slot():
        limiter.succeeded()
    assert limiter.limit == 15


def test_a_burst_of_429s_for_requests_sent_under_one_cap_halves_it_once() -> None:
    limiter = proven(15)
    generations = []
    for _ in range(8):
        with limiter.slot() as generation:
            generations.append(generation)
    for generation in generations:
        limiter.throttled(generation)

    assert limiter.limit == 7


def test_a_429_after_the_cap_changed_halves_it_again() -> None:
    limiter = proven(16)
    with limiter.slot() as first:
        pass
    limiter.throttled(first)
    with limiter.slot() as second:
        pass
    limiter.throttled(second)

    assert limiter.limit == 4


def test_the_cap_grows_only_after_it_was_reached() -> None:
    limiter = proven(15)
    with limiter.slot() as generation:
        pass
    limiter.throttled(generation)
    assert limiter.limit == 7

    for _ in range(20):  # one request at a time: the cap of 7 is never reached
        with limiter.slot():
            limiter.succeeded()
    assert limiter.limit == 7

    slots = [limiter.slot() for _ in range(7)]
    for slot in slots:
        slot.__enter__()
    for slot in slots:
        limiter.succeeded()
        slot.__exit__(None, None, None)
    assert limiter.limit == 8
