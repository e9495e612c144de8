"""Deliver batches in the background while input is still being read.

Each lane's requests go through its budget's worker pool (see `lanes`), after the ordering
barrier lets them (see `ordering`). How many batches may wait behind the requests in flight is
bounded by the reader's window (see `Pipeline`), so memory stays flat when CleverTap is slower
than the tap. A request refused whole as malformed (400) is split in halves until the records
causing it are isolated (on every lane: an identity a delete call refuses alone is rejected with
CleverTap's text, and the others are deleted).

With an event ledger, a batch's records that an earlier run delivered are left out of its
request (one lookup per batch, on the worker thread, see `ledger`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field, replace
from typing import Any

from target_clevertap.client import (
    BatchRefused,
    UnencodableRecords,
    UploadClient,
    UploadError,
    encodable,
)
from target_clevertap.event_keys import EventKeys
from target_clevertap.lanes import Budget, Lane
from target_clevertap.ledger import LedgerError
from target_clevertap.ordering import Kind, OrderingBarrier, Touches
from target_clevertap.response import RecordFailure, read_upload_result

MALFORMED = 400
# How often a wait for the batches in flight looks whether a stop has set a deadline.
STOP_CHECK_SECONDS = 0.5
UNENCODABLE = "text_invalid"
UNENCODABLE_REASON = (
    "The record holds text that is not valid Unicode (a lone surrogate such as \\ud800, half of "
    "an escaped character pair), which a request to CleverTap cannot carry; fix the text at the "
    "source."
)


@dataclass(frozen=True, eq=False)  # one per sink, compared (and hashed) by identity: per record
class Route:
    """Where a stream's mapped records go: a lane, as records of a kind the ordering compares."""

    stream: str
    lane: Lane
    kind: Kind
    identity_key: str  # the kind of identity its records are for (identity, objectId, ...)
    payload_key: str  # where a payload holds it (`guid` for an objectId in a delete)
    keys: EventKeys | None = None  # events with a ledger: each record's key


@dataclass
class Batch:
    """Records of one route on their way: payloads as sent, input records for the rejects file,
    their checkpoint span, the identities they touch and (events, with a ledger) their keys."""

    route: Route
    span: int
    payloads: list[dict[str, Any]] = field(default_factory=list)
    records: list[Mapping[str, Any]] = field(default_factory=list)
    identities: set[str] = field(default_factory=set)
    keys: list[bytes | None] = field(default_factory=list)  # set by the ledger's lookup
    first_record: int = -1  # the number of its first record in the input, for messages

    @property
    def stream(self) -> str:
        """The stream the records came from."""
        return self.route.stream

    def touches(self) -> Touches:
        """What the batch changes, for the ordering barrier."""
        return Touches(self.route.kind, self.route.identity_key, self.identities)


@dataclass
class BatchOutcome:
    """What CleverTap did with each record of a batch."""

    failures: list[RecordFailure] = field(default_factory=list)
    http_status: int = 0
    seconds: float = 0.0
    retries: int = 0
    requests: int = 0
    allowed_in_flight: int = 0
    maybe_stored_twice: bool = False  # a retry followed an attempt CleverTap may have stored
    already_delivered: frozenset[int] = frozenset()  # left out: an earlier run delivered them


class DeliveryFailed(Exception):
    """A batch could not be delivered; the run must stop."""


class Delivery:
    """Worker pools fed by the reading thread, one per budget, reporting each finished batch."""

    def __init__(
        self,
        client: UploadClient,
        ceilings: Mapping[Budget, int],
        on_delivered: Callable[[Batch, BatchOutcome], None],
        on_failed: Callable[[Batch], None],
        logger: logging.Logger,
        *,
        delivered_before: Callable[[Batch], frozenset[int]] | None = None,
    ) -> None:
        """`delivered_before` gives a keyed batch's records that an earlier run delivered."""
        self._client = client
        self._delivered_before = delivered_before
        self._on_delivered = on_delivered
        self._on_failed = on_failed
        self._logger = logger
        self._barrier = OrderingBarrier()
        self._pools = {
            budget: ThreadPoolExecutor(ceiling, thread_name_prefix=f"{budget}-requests")
            for budget, ceiling in ceilings.items()
        }
        self._failure: DeliveryFailed | None = None
        self._lock = threading.Lock()
        self._in_progress: dict[Future[None], Batch] = {}  # queued or in flight

    @property
    def failure(self) -> DeliveryFailed | None:
        """The first fatal delivery error, if any."""
        return self._failure

    def submit(self, batch: Batch) -> None:
        """Queue a batch, in reading order; raises once any batch has failed."""
        self.raise_if_failed()
        number, before = self._barrier.enter(batch.touches())
        with self._lock:
            future = self._pools[batch.route.lane.budget].submit(
                self._deliver, batch, number, before
            )
            self._in_progress[future] = batch
        future.add_done_callback(self._forget)

    def raise_if_failed(self) -> None:
        """Stop the reader as soon as a batch has failed for good."""
        if self._failure is not None:
            raise self._failure

    def wait(self, deadline: Callable[[], float | None]) -> bool:
        """Let every queued batch finish, then release the connections; False if the deadline
        (a monotonic time, once `deadline` gives one) passed first."""
        while True:
            with self._lock:
                pending = list(self._in_progress)
            if not pending:
                break
            end = deadline()
            left = STOP_CHECK_SECONDS if end is None else end - time.monotonic()
            if left <= 0:
                return False
            wait_for_futures(pending, min(left, STOP_CHECK_SECONDS), FIRST_COMPLETED)
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        self._client.close()
        return True

    def abandon(self, grace: float) -> list[Batch]:
        """The stop deadline passed: queued batches are dropped, requests in flight left to
        themselves (their threads cannot be stopped). Returns the batches not finished."""
        with self._lock:
            unfinished = list(self._in_progress.values())
            if self._failure is None:
                self._failure = DeliveryFailed(
                    f"The stop grace period of {grace:g}s ('stop_grace_seconds') ended before "
                    "every batch was delivered; requests still open were abandoned."
                )
        self._client.stop()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        return unfinished

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._in_progress.pop(future, None)

    def _deliver(self, batch: Batch, number: int, before: frozenset[int]) -> None:
        try:
            self._barrier.wait_for(before)
            outcome = self._send_undelivered(batch)
            outcome.allowed_in_flight = self._client.allowed_in_flight(batch.route.lane)
            self._on_delivered(batch, outcome)
        except (UploadError, LedgerError) as exc:
            self._fail(batch, exc)
        except Exception as exc:
            self._logger.exception("Stream '%s': unexpected error while delivering", batch.stream)
            self._fail(batch, exc)
        finally:
            self._barrier.leave(number)

    def _send_undelivered(self, batch: Batch) -> BatchOutcome:
        """Send the batch but the records an earlier run delivered."""
        lane, payloads = batch.route.lane, batch.payloads
        look_up = self._delivered_before
        known = look_up(batch) if look_up is not None and batch.route.keys is not None else None
        if not known:
            return self._send(lane, payloads, batch.stream)
        kept = [i for i in range(len(payloads)) if i not in known]
        outcome = self._send_subset(lane, payloads, batch.stream, kept)
        return replace(outcome, already_delivered=known)

    def _send(self, lane: Lane, payloads: list[dict[str, Any]], stream: str) -> BatchOutcome:
        try:
            answer = self._client.send(lane, payloads, stream)
        except BatchRefused as refusal:
            return self._split(lane, payloads, stream, str(refusal))
        except UnencodableRecords:
            return self._send_encodable(lane, payloads, stream)
        failures = (
            read_upload_result(answer.body, payloads).failures if lane.answered_per_record else []
        )
        return BatchOutcome(
            failures,
            answer.status,
            answer.seconds,
            answer.retries,
            1,
            maybe_stored_twice=answer.maybe_stored_twice,
        )

    def _split(
        self, lane: Lane, payloads: list[dict[str, Any]], stream: str, error: str
    ) -> BatchOutcome:
        """Halve a batch CleverTap refused as a whole, down to the records that cause it."""
        if len(payloads) == 1:
            return BatchOutcome([RecordFailure(0, MALFORMED, error)], MALFORMED, requests=1)
        self._logger.warning(
            "Stream '%s': CleverTap refused a batch of %d records as a whole (%s); "
            "splitting it to find the records that cause it.",
            stream,
            len(payloads),
            error,
        )
        middle = len(payloads) // 2
        first = self._send(lane, payloads[:middle], stream)
        second = self._send(lane, payloads[middle:], stream)
        shifted = [replace(f, index=f.index + middle) for f in second.failures]
        return BatchOutcome(
            first.failures + shifted,
            MALFORMED,
            first.seconds + second.seconds,
            first.retries + second.retries,
            1 + first.requests + second.requests,
            maybe_stored_twice=first.maybe_stored_twice or second.maybe_stored_twice,
        )

    def _send_encodable(
        self, lane: Lane, payloads: list[dict[str, Any]], stream: str
    ) -> BatchOutcome:
        """Send the records a request can carry; refuse the others here, each with its reason."""
        refused = [i for i, payload in enumerate(payloads) if not encodable(payload)]
        kept = sorted(set(range(len(payloads))) - set(refused))
        outcome = self._send_subset(lane, payloads, stream, kept)
        failures = [RecordFailure(i, UNENCODABLE, UNENCODABLE_REASON, sent=False) for i in refused]
        return replace(outcome, failures=outcome.failures + failures)

    def _send_subset(
        self, lane: Lane, payloads: list[dict[str, Any]], stream: str, kept: list[int]
    ) -> BatchOutcome:
        """Send the payloads at the `kept` indices; failures point into `payloads`."""
        sendable = [payloads[i] for i in kept]
        outcome = self._send(lane, sendable, stream) if kept else BatchOutcome()
        failures = [replace(f, index=kept[f.index]) for f in outcome.failures]
        return replace(outcome, failures=failures)

    def _fail(self, batch: Batch, error: Exception) -> None:
        if self._failure is None:
            self._failure = DeliveryFailed(
                f"Stream '{batch.stream}': a batch of {len(batch.payloads)} records could not be "
                f"delivered: {error}"
            )
        self._client.stop()
        self._on_failed(batch)
