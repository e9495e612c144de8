"""Thread-safe counters of upload requests, including how many were in flight at once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

RESET_STATUS = 0  # status recorded for a connection closed without an answer


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_status: Counter[int] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._records_received = 0
        self._records_accepted = 0

    def enter(self) -> int:
        """Count a request as in flight; return how many are in flight now, this one included."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return self._in_flight

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def record(self, status: int, received: int, accepted: int) -> None:
        with self._lock:
            self._by_status[status] += 1
            self._records_received += received
            self._records_accepted += accepted

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests_total": sum(self._by_status.values()),
                "requests_by_status": dict(sorted(self._by_status.items())),
                "in_flight": self._in_flight,
                "max_in_flight_seen": self._max_in_flight,
                "records_received": self._records_received,
                "records_accepted": self._records_accepted,
            }
