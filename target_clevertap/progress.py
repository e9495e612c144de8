"""How far along a long run is: one INFO line per stream every `progress_interval_seconds`.

A timer thread writes the lines, so the record loop pays nothing for them, and a line still comes
while the reader waits (a quiet tap, or a full window while CleverTap is slow or failing). The
per-batch lines are at DEBUG; this is the one regular line at INFO.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from target_clevertap.jsonl import dumps_exact
from target_clevertap.report import Progress, RunReport

STATE_SHOWN_CHARS = 200


class ProgressLog:
    """While entered, logs each stream's progress every `interval` seconds (never if 0)."""

    def __init__(
        self,
        report: RunReport,
        last_state: Callable[[], Any],
        interval: float,
        logger: logging.Logger,
        *,
        dry_run: bool,
    ) -> None:
        self._report = report
        self._last_state = last_state
        self._interval = interval
        self._logger = logger
        self._dry_run = dry_run
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._every_interval, name="progress", daemon=True)
        self._before: dict[str, Progress] = {}

    def __enter__(self) -> ProgressLog:
        if self._interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _every_interval(self) -> None:
        last = time.monotonic()
        while not self._stopped.wait(self._interval):
            now = time.monotonic()
            self.log_lines(now - last)
            last = now

    def log_lines(self, seconds: float) -> None:
        """One line per stream that has read a record: its counts, and its rate over `seconds`."""
        state = None if self._dry_run else self._last_state()
        for stream, now in sorted(self._report.progress().items()):
            before = self._before.get(stream, Progress())
            rate = (now.sent - before.sent) / seconds if seconds > 0 else 0.0
            self._logger.info(
                "Progress of stream '%s': read %d, sent %d, accepted %d, rejected %d, in flight "
                "%d, %.0f records/s sent over the last %.0f s; %s.",
                stream,
                now.read,
                now.sent,
                now.accepted,
                now.rejected,
                now.in_flight,
                rate,
                seconds,
                _state_note(stream, state, dry_run=self._dry_run),
            )
            self._before[stream] = now


def _state_note(stream: str, state: Any, *, dry_run: bool) -> str:
    """The last state written: the stream's bookmark of a Singer SDK state (`bookmarks.<stream>`),
    else the whole state, cut short."""
    if dry_run:
        return "no state is written in a dry run"
    if state is None:
        return "no state written yet"
    bookmarks = state.get("bookmarks") if isinstance(state, Mapping) else None
    if isinstance(bookmarks, Mapping) and stream in bookmarks:
        return f"last state written: bookmark {_cut(bookmarks[stream])}"
    return f"last state written: {_cut(state)}"


def _cut(value: Any) -> str:
    text = dumps_exact(value)
    return text if len(text) <= STATE_SHOWN_CHARS else f"{text[: STATE_SHOWN_CHARS - 3]}..."
