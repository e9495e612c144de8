"""SIGTERM and SIGINT as a flag: stop reading, deliver what was read, write safe state, exit.

The signal handler only writes the signal's number to a pipe; it raises nothing, so no code is
ever cut off half-way. A watcher thread reads the pipe: at the first signal it sets `requested`
and runs the wake-ups registered with it (the reader's window wait, retry waits); reading stops
within a second even when the tap sends nothing, as the reader waits on its input and on this
object's `wake_fd` together (`lines`). At a second signal the watcher calls `on_second_signal`,
which exits at once.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import select
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_CLOSE = 0  # not a signal number: tells the watcher to end
_READ_SIZE = 1 << 16


class StopSignals:
    """Turns SIGTERM/SIGINT into a stop request while installed (in the main thread; a target run
    on another thread leaves signals to its host)."""

    def __init__(
        self,
        logger: logging.Logger,
        wake_ups: Iterable[Callable[[], None]],
        on_second_signal: Callable[[int], None],
    ) -> None:
        self.requested = threading.Event()
        self._logger = logger
        self._wake_ups = list(wake_ups)
        self._on_second_signal = on_second_signal
        self._signals_r, self._signals_w = os.pipe()
        os.set_blocking(self._signals_w, False)
        self.wake_fd, self._wake_w = os.pipe()
        self._previous: dict[int, Any] = {}
        self._watcher = threading.Thread(target=self._watch, name="stop-signals", daemon=True)

    def __enter__(self) -> StopSignals:
        self._watcher.start()
        if threading.current_thread() is threading.main_thread():  # signals reach no other
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        os.write(self._signals_w, bytes([_CLOSE]))
        self._watcher.join()
        for fd in (self._signals_r, self._signals_w, self.wake_fd, self._wake_w):
            os.close(fd)

    def lines(self, source: Iterable[str]) -> Iterator[str]:
        """The input's lines until it ends or a stop is requested.

        Input with a file descriptor (stdin, a pipe, a file) is read in chunks once select says
        it has data, so waiting for the tap and waiting for a stop are one wait.
        """
        fileno = getattr(source, "fileno", None)
        try:
            fd = fileno() if fileno is not None else None
        except (OSError, ValueError):  # io.StringIO and friends have no descriptor
            fd = None
        if fd is None:
            yield from self._lines_of(source)
        else:
            yield from self._lines_from_fd(fd)

    def _lines_of(self, source: Iterable[str]) -> Iterator[str]:
        for line in source:
            if self.requested.is_set():
                return
            yield line

    def _lines_from_fd(self, fd: int) -> Iterator[str]:
        # surrogateescape keeps bytes that are not UTF-8 as lone surrogates, so the reader can
        # refuse that line by its number instead of the whole input failing to decode.
        decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        unfinished: list[str] = []
        while not self.requested.is_set():
            ready, _, _ = select.select([fd, self.wake_fd], [], [])
            if fd not in ready:
                return
            chunk = os.read(fd, _READ_SIZE)
            text = decoder.decode(chunk, final=not chunk)
            *complete, rest = text.split("\n")
            if complete:
                complete[0] = "".join([*unfinished, complete[0]])
                unfinished.clear()
                yield from complete
            unfinished.append(rest)
            if not chunk:
                last = "".join(unfinished)
                if last:
                    yield last
                return

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        # With thousands of signals unread the pipe is full, and the first ones already count.
        with contextlib.suppress(BlockingIOError):
            os.write(self._signals_w, bytes([signum]))

    def _watch(self) -> None:
        while True:
            for signum in os.read(self._signals_r, 64):
                if signum == _CLOSE:
                    return
                self._received(signum)

    def _received(self, signum: int) -> None:
        if self.requested.is_set():
            self._logger.error("Received signal %d again: stopping now.", signum)
            self._on_second_signal(signum)
            return
        self._logger.warning(
            "Received signal %d: reading stops; delivering what was read, then stopping "
            "(a second signal stops at once).",
            signum,
        )
        self.requested.set()
        os.write(self._wake_w, b"x")
        for wake_up in self._wake_ups:
            wake_up()
