"""When a STATE may be written: only once every record that came before it is settled.

Records are numbered in arrival order. Each buffered or in-flight batch is an open span from its
first record's number; a STATE that arrived after N records is safe once no open span starts
below N. Batches finish out of order, so the watermark is the lowest open span, not the newest
finished batch. A failed batch's span never closes, so no state past it is ever written.

Spans open in record order, so the oldest open span is the first in insertion order; the reader
uses it to stay within a window of the watermark (see `Pipeline`). STATE lines are written under
the checkpoint's lock, whole, so a process told to exit at once can wait for the line being
written (`no_state_being_written`).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Checkpoint:
    """Tracks open spans and pending STATE values; writes each safe state once."""

    def __init__(self, write_state: Callable[[Any], None] | None) -> None:
        """`write_state` of None (a dry run) means state is tracked but never written."""
        self._write_state = write_state
        self._lock = threading.Lock()
        self._closed = threading.Condition(self._lock)
        self._records_seen = 0
        self._span_ids = itertools.count()
        self._open: dict[int, int] = {}
        self._pending: deque[tuple[int, Any]] = deque()
        self._written: Any = None
        self._failed: set[int] = set()
        self._released = False
        self.oldest_open: tuple[int, int] | None = None
        """(span id, first record) of the oldest open span, or None; a hint read without the
        lock (waits check it under the lock)."""

    def last_written(self) -> Any:
        """The newest state written (in a dry run: the one that would have been), or None.

        Read without the lock, so a progress line never waits for a STATE line being written."""
        return self._written

    def next_record(self) -> int:
        """Number the next record (called from the reading thread only)."""
        number = self._records_seen
        self._records_seen += 1
        return number

    def open_span(self, first_record: int) -> int:
        """A batch starts buffering at this record; returns its span id."""
        span = next(self._span_ids)
        with self._lock:
            self._open[span] = first_record
            if self.oldest_open is None:
                self.oldest_open = (span, first_record)
        return span

    def close_span(self, span: int) -> None:
        """Every record of the span is delivered or rejected."""
        with self._lock:
            del self._open[span]
            self.oldest_open = next(iter(self._open.items()), None)
            self._advance()
            self._closed.notify_all()

    def fail_span(self, span: int) -> None:
        """The span's batch failed for good: it stays open, so no state passes it."""
        with self._lock:
            self._failed.add(span)
            self._closed.notify_all()

    def wait_while_open(self, span: int, timeout: float | None = None) -> None:
        """Block until the span closes or fails, waiters are released, or the timeout passes."""
        with self._closed:
            self._closed.wait_for(
                lambda: span not in self._open or span in self._failed or self._released,
                timeout,
            )

    def release_waiters(self) -> None:
        """Wake every wait for a span, now and later: the run is stopping."""
        with self._lock:
            self._released = True
            self._closed.notify_all()

    def freeze(self) -> set[int]:
        """Write no more state, whatever settles later (the process is about to leave without
        waiting for requests in flight); returns the spans still open, which no state covers."""
        with self._lock:
            self._write_state = None
            return set(self._open)

    @contextmanager
    def no_state_being_written(self, timeout: float) -> Iterator[None]:
        """Hold state writes back (for at most `timeout` seconds of waiting for one to finish)."""
        held = self._lock.acquire(timeout=timeout)
        try:
            yield
        finally:
            if held:
                self._lock.release()

    def add_state(self, value: Any) -> None:
        """A STATE message arrived after all records numbered so far."""
        with self._lock:
            if self._pending and self._pending[-1][0] == self._records_seen:
                self._pending.pop()
            self._pending.append((self._records_seen, value))
            self._advance()

    def _advance(self) -> None:
        watermark = self.oldest_open[1] if self.oldest_open else self._records_seen
        safe = None
        while self._pending and self._pending[0][0] <= watermark:
            safe = self._pending.popleft()[1]
        if safe is not None and safe != self._written:
            self._written = safe
            if self._write_state is not None:
                self._write_state(safe)
