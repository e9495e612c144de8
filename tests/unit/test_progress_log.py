"""The progress line's counts, rate and state note, from a run's report (no process, no timer)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from target_clevertap.progress import STATE_SHOWN_CHARS, ProgressLog
from target_clevertap.report import RunReport

LOGGER = logging.getLogger("test-progress")


def _lines(
    caplog: pytest.LogCaptureFixture, report: RunReport, state: Any, seconds: float = 10
) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, LOGGER.name):
        ProgressLog(report, lambda: state, 30, LOGGER, dry_run=False).log_lines(seconds)
    return [record.getMessage() for record in caplog.records]


def test_counts_in_flight_and_the_rate_of_records_sent(caplog: pytest.LogCaptureFixture) -> None:
    report = RunReport()
    for _ in range(2500):
        report.received("users")
    report.handed_to_delivery("users", 1000)
    report.handed_to_delivery("users", 1000)
    report.delivered("users", 1000, ["515"])
    report.batch_answered("users", 1000)
    report.rejected_locally("users", "email_invalid")

    (line,) = _lines(caplog, report, None)

    assert line == (
        "Progress of stream 'users': read 2500, sent 1000, accepted 999, rejected 2, in flight "
        "1000, 100 records/s sent over the last 10 s; no state written yet."
    )


def test_a_state_without_the_stream_s_bookmark_is_shown_whole_and_cut_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    report = RunReport()
    report.received("users")

    (small,) = _lines(caplog, report, {"n": 1})
    (large,) = _lines(caplog, report, {"bookmarks": {"other": "x" * 500}})

    assert small.endswith('; last state written: {"n": 1}.')
    note = large.split("; last state written: ", 1)[1]
    assert len(note) == STATE_SHOWN_CHARS + 1  # and the full stop
    assert note.endswith("....")
