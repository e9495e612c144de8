"""How many requests may be in flight: CleverTap's per-account budget, learnt from its 429s."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# After a raise that drew a 429, the next raise waits PROBE_ROUNDS x limit rounds (at the cap,
# PROBE_ROUNDS x limit^2 successes): a process with a small share of a shared account probes
# often, one with a large share rarely, so shares drift towards fair. N processes at ceiling / N
# each make N^2 / (PROBE_ROUNDS x ceiling) probes a round between them: with a ceiling of 15,
# one every ~2 rounds for four processes, one every ~7 for two.
PROBE_ROUNDS = 2


def _unheard(queued: bool) -> None:
    del queued


class AdaptiveLimiter:
    """Caps requests in flight at what the account lets through, learnt from its 429s.

    The cap starts at the ceiling: CleverTap answers a 429 at once, so the first round teaches
    the cap, where a first request sent alone would leave the budget idle for a round trip (2 s
    of 20 at 2,000 ms). Wrong credentials then fail the requests of one round, not one request;
    a 401 stores nothing, and the first one stops the run. Each 429 answering a request sent
    under the current cap lowers the cap by one: with L requests in flight and k refused, the
    account took L - k (another client may hold the rest). The cap also drops at once to the
    number of our other requests in flight, since the account took no more than those when it
    refused this one. Once the cap is reached it grows, never above the ceiling: a raise that
    held for a round (no 429) is followed by one twice its size, so room that others left fills
    in a few rounds; a raise that drew a 429 is followed, after PROBE_ROUNDS x limit rounds, by
    a raise of one.
    """

    def __init__(self, ceiling: int, requests_wait: Callable[[bool], None] = _unheard) -> None:
        """`requests_wait` hears, at each change, whether requests wait for a place."""
        self.ceiling = ceiling
        self._requests_wait = requests_wait
        self._queued = False
        self.limit = ceiling
        self._in_flight = 0
        self._generation = 0
        self._generation_cap = ceiling
        self._refused = 0
        self._successes = 0
        self._reached = False
        self._step = 1
        self._resting: int | None = None
        self._tickets = itertools.count()
        self._waiting: list[int] = []
        self._changed = threading.Condition()

    def ticket(self) -> int:
        """A place in line for a request: older tickets get a free slot first."""
        return next(self._tickets)

    @contextmanager
    def slot(self, ticket: int | None = None) -> Iterator[int]:
        """Hold one of the allowed in-flight places for a request; yields the cap's generation.

        Places go by ticket, so a retried request (which keeps its ticket) goes before batches
        read after it: the reader waits for the oldest batch, and must not wait behind newer ones.
        While a request refused with none of ours in flight waits to retry, it alone may go.
        """
        ticket = self.ticket() if ticket is None else ticket
        with self._changed:
            heapq.heappush(self._waiting, ticket)
            if self._in_flight >= self.limit:  # not just behind an older ticket
                self._note_queue(True)
            self._changed.wait_for(lambda: self._may_go(ticket))
            if self._waiting[0] == ticket:
                heapq.heappop(self._waiting)
            else:  # the resting request, going before older tickets in their own retry waits
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
            if not self._waiting:
                self._note_queue(False)
            self._resting = None
            self._in_flight += 1
            if not self._reached and self._in_flight >= self.limit:
                self._reached = True
                self._successes = 0  # growth counts successes from the moment the cap is full
            generation = self._generation
            self._changed.notify_all()  # the next in line may fit too
        try:
            yield generation
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def _note_queue(self, queued: bool) -> None:
        if queued != self._queued:
            self._queued = queued
            self._requests_wait(queued)

    def _may_go(self, ticket: int) -> bool:
        if self._in_flight >= self.limit:
            return False
        if self._resting is not None:
            return ticket == self._resting
        return self._waiting[0] == ticket

    def finished(self, ticket: int) -> None:
        """The request with `ticket` is done, retried to an answer or given up."""
        with self._changed:
            if self._resting == ticket:
                self._resting = None
                self._changed.notify_all()

    def throttled(self, generation: int, ticket: int) -> bool:
        """CleverTap said too many concurrent requests to a request sent under `generation`.

        Called while the request still holds its slot; returns whether other requests of ours
        are in flight, so one of them will soon free a slot. If none are, the account is full
        of other clients' requests: nothing of ours goes until this one, after its retry wait,
        goes again (or is `finished`), where each batch read meanwhile would draw its own 429.
        """
        with self._changed:
            if self._in_flight == 1:
                self._resting = ticket
            if generation != self._generation:
                return self._in_flight > 1  # sent under an older cap, already lowered since
            self._refused += 1
            others = self._in_flight - 1
            self.limit = max(1, min(self._generation_cap - self._refused, others))
            self._successes = 0
            self._reached = False
            return self._in_flight > 1

    def succeeded(self) -> None:
        """A request went through; once the cap was reached, enough of them raise it."""
        with self._changed:
            self._successes += 1
            if not self._reached or self.limit >= self.ceiling:
                return
            held = self._refused == 0  # no 429 since the cap was last raised
            if self._successes < (self.limit if held else PROBE_ROUNDS * self.limit**2):
                return
            self._step = self._step * 2 if held else 1
            self._open(min(self.ceiling, self.limit + self._step))

    def _open(self, cap: int) -> None:
        self.limit = self._generation_cap = cap
        self._generation += 1
        self._refused = 0
        self._successes = 0
        self._reached = False
        self._changed.notify_all()
