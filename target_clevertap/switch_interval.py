"""The interpreter's switch interval: how soon a thread waiting for the GIL gets it.

CPython lets a thread that wants the GIL wait up to the switch interval (5 ms by default)
before the running thread must give it up. An upload thread wants it back after each blocking
step of a request (the send, the answer, handing its place to the next request), while the
reading thread keeps it busy. While the account is the limit (requests wait for a place),
those waits lengthen each request's hold on a place the API could use; the reading thread is
then ahead of the API anyway. So while requests wait, the interval is SHORT_SECONDS: with 5
places at 250 ms, 6% more records/s than with the default (three alternating rounds). While
places are free the reader is the limit and every extra switch costs it: the default holds.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Hashable, Iterator

SHORT_SECONDS = 0.001


class SwitchInterval:
    """The short interval while any budget has requests waiting for a place, else the default
    the process started with."""

    def __init__(self) -> None:
        self._default = sys.getswitchinterval()
        self._waiting: set[Hashable] = set()
        self._lock = threading.Lock()

    def requests_wait(self, budget: Hashable, waiting: bool) -> None:
        """Whether requests of `budget` now wait for a place."""
        with self._lock:
            was_short = bool(self._waiting)
            if waiting:
                self._waiting.add(budget)
            else:
                self._waiting.discard(budget)
            if bool(self._waiting) != was_short:
                sys.setswitchinterval(SHORT_SECONDS if self._waiting else self._default)


@contextlib.contextmanager
def restored_switch_interval() -> Iterator[None]:
    """Whatever the run sets, the process gets its own switch interval back at the end."""
    interval = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
