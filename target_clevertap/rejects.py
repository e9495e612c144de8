"""The rejected-records file: one JSON line per record that was not delivered, with why."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal

from target_clevertap.jsonl import dumps_exact

Source = Literal["local", "clevertap"]


class RejectsFile:
    """Appends rejected records to a JSON Lines file; safe to share between threads.

    Without a path the records are still counted and logged, just not kept.
    """

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def write(
        self,
        stream: str,
        record: Mapping[str, Any],
        *,
        payload: Mapping[str, Any] | None,
        code: int | str | None,
        error: str,
        source: Source,
    ) -> None:
        """Append one rejected record; flushed at once so state written later never outruns it."""
        if self.path is None:
            return
        line = dumps_exact(
            {
                "stream": stream,
                "record": record,
                "payload": payload,
                "code": code,
                "error": error,
                "source": source,
                "rejected_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            }
        )
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # A lone surrogate (text from an escaped half of a character pair) cannot be
                # UTF-8; inside a JSON string its `\udXXX` escape reads back the same.
                self._file = self.path.open("a", encoding="utf-8", errors="backslashreplace")
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file if it was opened."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
