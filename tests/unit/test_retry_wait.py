"""How long a failed upload waits before its next attempt."""

from __future__ import annotations

import backoff

from target_clevertap.client import (
    MAX_THROTTLED_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    RetryableError,
    retry_wait,
)


def late_waits(error: RetryableError, samples: int = 50) -> list[float]:
    """Waits drawn where the exponential schedule has reached its cap of 60 s."""
    waits = []
    for _ in range(samples):
        schedule = backoff.expo(factor=1.0, max_value=MAX_WAIT_SECONDS)
        for _ in range(10):
            next(schedule)
        waits.append(retry_wait(error, schedule))
    return waits


def test_a_refusal_for_too_many_requests_waits_seconds_not_a_minute() -> None:
    waits = late_waits(RetryableError("HTTP 429: Too many concurrent requests", 429))
    assert max(waits) <= MAX_THROTTLED_WAIT_SECONDS


def test_a_server_error_still_backs_off_up_to_a_minute() -> None:
    waits = late_waits(RetryableError("HTTP 503: unavailable", 503))
    assert max(waits) > MAX_THROTTLED_WAIT_SECONDS
    assert max(waits) <= MAX_WAIT_SECONDS


def test_a_retry_after_header_wins() -> None:
    schedule = backoff.expo(factor=1.0, max_value=MAX_WAIT_SECONDS)
    next(schedule)
    assert retry_wait(RetryableError("HTTP 429", 429, retry_after=30.0), schedule) == 30.0
