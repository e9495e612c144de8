"""Rejected records: one JSON line per record that was not delivered, with why.

They go to a file (`rejected_records_path`, by default `rejected-records.jsonl` in the working
directory), created readable by its owner only: it holds source records. Without a file (`""`,
or when the default place cannot be written) each record is logged at WARNING instead, so a
rejected record never exists only as a count.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal

from target_clevertap.config import DEFAULT_REJECTED_RECORDS_PATH
from target_clevertap.jsonl import dumps_exact

Source = Literal["local", "clevertap"]
LOGGED_RECORD_CHARS = 2048
OWNER_ONLY = 0o600


class RejectsUnwritable(Exception):
    """The rejected-records file the user chose cannot be written; the run must not start."""


class RejectsFile:
    """Appends rejected records to a JSON Lines file, or logs them; safe to share between threads.

    `chosen` is the user's path ("" for none), None the default place. A chosen path is checked
    here, before input is read; the file itself is created at the first rejection.
    """

    def __init__(self, chosen: str | None, logger: logging.Logger) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self.path: Path | None = Path(chosen or DEFAULT_REJECTED_RECORDS_PATH)
        if chosen == "":
            self.path = None
            return
        problem = _why_unwritable(self.path, create_parents=chosen is not None)
        if problem is None:
            return
        if chosen is not None:
            raise RejectsUnwritable(
                f"Setting 'rejected_records_path' is '{chosen}', where no file can be written "
                f'({problem}): give a writable file path, or "" to log rejected records instead.'
            )
        self._log_instead(problem)

    def where(self) -> str:
        """Where the rejected records are, for a person."""
        return str(self.path) if self.path is not None else "the log, at WARNING"

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
        """Keep one rejected record; flushed at once so state written later never outruns it."""
        if self.path is None:
            self._log(stream, record, code, error)
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
            file = self._file or self._open()
            if file is None:
                self._log(stream, record, code, error)
                return
            file.write(line + "\n")
            file.flush()

    def close(self) -> None:
        """Close the file if it was opened."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self) -> IO[str] | None:
        """Open the file (under the lock); None, and the records logged from now on, if the
        place stopped being writable since the start."""
        assert self.path is not None
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, OWNER_ONLY)
        except OSError as exc:
            self._log_instead(exc.strerror or str(exc))
            return None
        # A lone surrogate (text from an escaped half of a character pair) cannot be UTF-8;
        # inside a JSON string its `\udXXX` escape reads back the same.
        self._file = os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace")
        return self._file

    def _log_instead(self, problem: str) -> None:
        self._logger.warning(
            "The rejected-records file '%s' cannot be written (%s); each rejected record is "
            "logged at WARNING instead. Set 'rejected_records_path' to a writable place to keep "
            "them in a file.",
            os.path.abspath(str(self.path)),
            problem,
        )
        self.path = None

    def _log(
        self, stream: str, record: Mapping[str, Any], code: int | str | None, error: str
    ) -> None:
        text = dumps_exact(record)
        if len(text) > LOGGED_RECORD_CHARS:
            text = f"{text[:LOGGED_RECORD_CHARS]}... ({len(text)} characters)"
        self._logger.warning("Stream '%s': record rejected (%s: %s): %s", stream, code, error, text)


def _why_unwritable(path: Path, *, create_parents: bool) -> str | None:
    """Why no file can be appended at the path, or None; nothing is left behind by the check.

    The path itself is never created and removed: another process sharing the file (two jobs
    started together) could open it in between, and its rejected records would go to a file
    no longer there."""
    try:
        if create_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "part of its directory's path is a file"
    except OSError as exc:
        return f"its directory cannot be made: {exc.strerror or exc}"
    try:
        if path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        else:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}-check-"):
                pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
