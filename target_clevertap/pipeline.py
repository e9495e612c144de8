"""Everything after mapping, behind one door: batching, delivery, rejects, report and state.

Sinks hand each mapped record (or its rejection) to `accept`, and nothing else: the pipeline
numbers it, counts it, writes a rejection to the rejects file, or adds the record to its route's
batch and sends the batch when full. Worker threads report each finished batch back here; the
checkpoint then writes the STATE lines that became safe.

The reader's window: the reader stays within `max_concurrency x batch_size_rows` records of the
oldest unsettled record. This bounds what a crash can make the next run send twice (delivered
records the last state does not cover) and the memory held; and a stream that went quiet with a
partial batch has it sent, instead of holding state back until the end of the run.

With an event ledger (see `ledger`), a batch's event keys are taken and looked up on its worker
thread before it is sent; a delivered batch's accepted keys are committed to the ledger before
its span closes, so before any STATE covering them is written.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from target_clevertap.checkpoint import Checkpoint
from target_clevertap.client import UploadClient
from target_clevertap.config import Settings
from target_clevertap.delivery import Batch, BatchOutcome, Delivery, Route
from target_clevertap.event_keys import EventKeys
from target_clevertap.jsonl import dumps_exact
from target_clevertap.lanes import LANES, UPLOADS
from target_clevertap.ledger import open_ledger
from target_clevertap.mapping import Payload, Rejection
from target_clevertap.ordering import ONE_PER_REQUEST, must_follow
from target_clevertap.plan import StreamPlan
from target_clevertap.preflight import SIZE_CODES
from target_clevertap.progress import ProgressLog
from target_clevertap.rejects import RejectsFile
from target_clevertap.report import RunReport
from target_clevertap.response import UNKNOWN_OUTCOME

# A process told to stop at once waits at most this long for a STATE line being written.
STATE_LINE_GRACE_SECONDS = 5.0


class RunFailed(Exception):
    """The run ends with a non-zero exit; the message says why."""


class Pipeline:
    """Takes mapped records from the sinks and sees each one to its end."""

    def __init__(self, settings: Settings, logger: logging.Logger) -> None:
        self._settings = settings
        self._logger = logger
        self._ledger = open_ledger(settings)  # raises LedgerError: the run cannot start
        self._client = UploadClient(settings, logger)
        self._delivery = Delivery(
            self._client,
            self._client.ceilings,
            self._delivered,
            self._failed,
            logger,
            delivered_before=self._delivered_before if self._ledger else None,
        )
        self._batch_limits = {lane: min(settings.batch_rows, lane.max_records) for lane in LANES}
        self._window = settings.max_concurrency * self._batch_limits[UPLOADS]
        self._checkpoint = Checkpoint(None if settings.dry_run else _write_state_line)
        self._rejects = RejectsFile(settings.rejected_records_path, logger)
        self._report = RunReport()
        self.progress = ProgressLog(
            self._report,
            self._checkpoint.last_written,
            settings.progress_interval_seconds,
            logger,
            dry_run=settings.dry_run,
        )
        self._filling: dict[Route, Batch] = {}
        self._followed: dict[Route, list[Route]] = {}  # the routes each must follow
        self._stopping = False
        self._stop_deadline: float | None = None  # monotonic; set by a stop request
        self._failed_sizes: dict[int, int] = {}  # span -> records, of batches failed for good
        self._undelivered: int | None = None  # counted once delivery has ended
        self.abandoned_requests = False
        """Requests were still open at the stop deadline: their threads may never end."""

    def event_keys(self, plan: StreamPlan) -> EventKeys | None:
        """How the stream's events are keyed in the ledger; None if it does not use one."""
        if self._ledger is None or plan.kind != "event":
            return None
        return EventKeys(plan.event_key_fields)

    def accept(
        self,
        route: Route,
        record: Mapping[str, Any],
        result: Payload | Rejection,
        identity: str | None = None,
    ) -> None:
        """Take one record read from a stream: rejected with its reason, or on its way.

        `identity`: the one the ordering follows, where the payload does not hold it under the
        route's key (a record sent by its CleverTap ID on an identity stream).
        """
        position = self._checkpoint.next_record()
        oldest = self._checkpoint.oldest_open
        if oldest is not None and position - oldest[1] >= self._window:
            self._wait_for_room(position)
        self._report.received(route.stream)
        if isinstance(result, Rejection):
            self._reject_locally(route, record, result)
            return
        if self._settings.dry_run and not route.lane.dry_run:
            self._report.held_in_dry_run(route.stream, route.kind)
            return
        if identity is None:
            identity = result[route.payload_key]
        followed = self._followed.get(route)
        for other in self._learn(route) if followed is None else followed:
            self._send_first_if_it_holds(other, identity)
        if route.kind in ONE_PER_REQUEST:
            self._send_first_if_it_holds(route, identity)
        batch = self._filling.get(route)
        if batch is None:
            span = self._checkpoint.open_span(position)
            batch = self._filling[route] = Batch(route, span, first_record=position)
        batch.payloads.append(result)
        batch.records.append(record)
        batch.identities.add(identity)
        if len(batch.payloads) >= self._batch_limits[route.lane]:
            self._send(route)

    def note(self, stream: str, text: str) -> None:
        """Count a record that was sent but that a person should hear of in the summary."""
        self._report.note(stream, text)

    def skip_deleted(self, stream: str) -> None:
        """Take a row marked deleted that its stream's `on_delete` leaves out: counted, not sent,
        and done as far as state goes."""
        self._report.received(stream)
        self._report.skipped_deleted(stream)

    def buffered(self, stream: str) -> int:
        """Records of the stream read and not yet handed to delivery."""
        return sum(len(b.payloads) for r, b in self._filling.items() if r.stream == stream)

    def send_buffered(self, stream: str) -> None:
        """Hand the stream's partial batches to delivery now."""
        for route in [r for r in self._filling if r.stream == stream]:
            self._send(route)

    def add_state(self, value: Any) -> None:
        """A STATE message, written once every record read before it is settled."""
        self._checkpoint.add_state(value)

    def stop(self) -> None:
        """A stop was requested: no more waiting for room, and delivery, retries and requests in
        flight included, ends within `stop_grace_seconds`."""
        self._stop_deadline = time.monotonic() + self._settings.stop_grace_seconds
        self._stopping = True
        self._checkpoint.release_waiters()
        self._client.stop_by(self._stop_deadline)

    @property
    def undelivered(self) -> int:
        """Records read that were neither delivered nor rejected (known once `finish` waited)."""
        return self._undelivered or 0

    def exit_now(self, signum: int) -> None:
        """Leave at once (a second stop signal), but never in the middle of a STATE line."""
        with self._checkpoint.no_state_being_written(STATE_LINE_GRACE_SECONDS):
            self._logger.error(
                "Stopped without waiting for requests in flight; the last STATE written covers "
                "only records CleverTap had taken, so the next run sends the rest."
            )
            logging.shutdown()
            os._exit(128 + signum)

    def finish(self) -> None:
        """Wait for every batch (or until a stop's deadline), log the summary, and raise if the
        run must fail."""
        if self._undelivered is None:  # a failed run comes here twice: at end of input, on exit
            self._undelivered = self._end_delivery()
            self._rejects.close()
            if self._ledger is not None:
                self._ledger.close()
            self._log_summary()
        if self._delivery.failure is not None:
            raise RunFailed(
                f"{self._delivery.failure} No state was written past the last delivered record."
            )
        rejected = self._report.total_rejected
        if rejected and self._settings.fail_on_rejected:
            raise RunFailed(
                f"{rejected} records were rejected (see {self._rejects.where()}) and "
                "'fail_on_rejected' is set."
            )

    def _end_delivery(self) -> int:
        """Let delivery end, by the stop deadline if one comes; the records it did not settle.

        At the deadline the unfinished batches are noted, then the checkpoint is frozen, so an
        answer arriving later writes no state. Not delivered: the records of those batches (and
        of failed or unsent ones) whose spans were still open when it froze.
        """
        if self._delivery.wait(lambda: self._stop_deadline):
            return sum(self._failed_sizes.values())
        self.abandoned_requests = True
        in_flight = self._delivery.abandon(self._settings.stop_grace_seconds)
        still_open = self._checkpoint.freeze()
        sizes = {b.span: len(b.payloads) for b in [*in_flight, *self._filling.values()]}
        sizes.update(self._failed_sizes)
        return sum(size for span, size in sizes.items() if span in still_open)

    def _send(self, route: Route) -> None:
        """Hand the route's filling batch to delivery."""
        batch = self._filling.pop(route)
        self._report.handed_to_delivery(batch.stream, len(batch.payloads))
        self._delivery.submit(batch)

    def _learn(self, route: Route) -> list[Route]:
        """Note which known routes a new route must follow, and which must follow it."""
        self._followed[route] = []
        for known, followed in self._followed.items():
            if known is route or known.identity_key != route.identity_key:
                continue
            if must_follow(known.kind, route.kind):
                self._followed[route].append(known)
            if must_follow(route.kind, known.kind):
                followed.append(route)
        return self._followed[route]

    def _send_first_if_it_holds(self, route: Route, identity: str) -> None:
        """A record of a route that must follow this one is read: if this route's filling batch
        holds its identity, that batch goes first (see `ordering`)."""
        batch = self._filling.get(route)
        if batch is not None and identity in batch.identities:
            self._send(route)

    def _wait_for_room(self, position: int) -> None:
        """Block while the record is a window or more past the oldest unsettled one."""
        while not self._stopping:
            self._delivery.raise_if_failed()
            oldest = self._checkpoint.oldest_open
            if oldest is None or position - oldest[1] < self._window:
                return
            span = oldest[0]
            filling = next((r for r, b in self._filling.items() if b.span == span), None)
            if filling is not None:
                self._send(filling)
            else:
                self._checkpoint.wait_while_open(span)

    def _reject_locally(
        self, route: Route, record: Mapping[str, Any], rejection: Rejection
    ) -> None:
        """A record refused before sending: into the rejects file, counted, never sent."""
        stream = route.stream
        self._rejects.write(
            stream,
            record,
            # A record too large for CleverTap is kept once: its payload would repeat it.
            payload=None if rejection.code in SIZE_CODES else rejection.payload,
            code=rejection.code,
            error=rejection.reason,
            source="local",
        )
        self._report.rejected_locally(stream, rejection.code, erasure=route.kind == "delete")
        self._logger.debug("Stream '%s': record rejected: %s", stream, rejection.reason)

    def _log_summary(self) -> None:
        for line in self._report.summary_lines():
            self._logger.info(line)
        for (stream, text), count in self._report.notes.items():
            self._logger.warning("Stream '%s': %s (%d records).", stream, text, count)
        for stream, count in self._report.not_erased.items():
            self._logger.warning(
                "Stream '%s': %d rows marked deleted could not be erased in CleverTap (see the "
                "rejected records); their profiles stay until they are.",
                stream,
                count,
            )
        if self._settings.dry_run:
            self._logger.info(
                "Dry run: CleverTap validated the records and stored nothing; no state written."
            )

    def _failed(self, batch: Batch) -> None:
        """Runs on a worker thread when a batch failed for good: state never passes it."""
        self._failed_sizes[batch.span] = len(batch.payloads)
        self._checkpoint.fail_span(batch.span)

    def _delivered(self, batch: Batch, outcome: BatchOutcome) -> None:
        """Runs on a worker thread once CleverTap has answered for every record of a batch."""
        codes = []
        sent = len(batch.payloads) - len(outcome.already_delivered)
        erasures = batch.route.kind == "delete"
        for failure in outcome.failures:
            self._rejects.write(
                batch.stream,
                batch.records[failure.index],
                payload=batch.payloads[failure.index],
                code=failure.code,
                error=failure.error,
                source="clevertap" if failure.sent else "local",
            )
            if failure.sent:
                codes.append(str(failure.code))
            else:
                sent -= 1
                self._report.rejected_locally(batch.stream, str(failure.code), erasure=erasures)
        self._report.delivered(batch.stream, sent, codes, erasures=erasures)
        self._report.batch_answered(batch.stream, len(batch.payloads))
        self._logger.debug(
            "Stream '%s': sent %d, accepted %d, rejected %d, HTTP %d, %.0f ms, %d retries, "
            "%d in flight allowed%s.",
            batch.stream,
            sent,
            sent - len(codes),
            len(codes),
            outcome.http_status,
            outcome.seconds * 1000,
            outcome.retries,
            outcome.allowed_in_flight,
            f", {len(outcome.already_delivered)} already delivered"
            if outcome.already_delivered
            else "",
        )
        if batch.route.kind == "event":
            self._count_possible_duplicates(batch, outcome, sent - len(codes))
        if batch.keys:
            self._record_in_ledger(batch, outcome)
        self._checkpoint.close_span(batch.span)

    def _delivered_before(self, batch: Batch) -> frozenset[int]:
        """Runs on a worker thread (keys are taken here, not on the reading thread): the
        batch's records whose keys an earlier run recorded."""
        assert self._ledger is not None
        assert batch.route.keys is not None
        keys = batch.keys = batch.route.keys.keys_of(batch.records, batch.payloads)
        known = self._ledger.delivered_before(batch.stream, list(filter(None, keys)))
        if not known:
            return frozenset()
        return frozenset(i for i, key in enumerate(keys) if key is not None and key in known)

    def _record_in_ledger(self, batch: Batch, outcome: BatchOutcome) -> None:
        """Commit the keys of the records CleverTap accepted (and refresh those it had), before
        the batch's span closes and a STATE covering them may be written; count the rest."""
        assert self._ledger is not None
        if outcome.failures:
            failed = {f.index: f.sent for f in outcome.failures}
            accepted = [k for i, k in enumerate(batch.keys) if k is not None and i not in failed]
            unkeyed = sum(1 for i, k in enumerate(batch.keys) if k is None and failed.get(i, True))
        else:  # the usual batch, counted in C: this thread holds the GIL the reader needs
            accepted = list(filter(None, batch.keys))
            unkeyed = batch.keys.count(None)
        if not self._settings.dry_run:
            self._ledger.remember(batch.stream, accepted)
        self._report.ledger_outcome(batch.stream, len(outcome.already_delivered), unkeyed)

    def _count_possible_duplicates(
        self, batch: Batch, outcome: BatchOutcome, accepted: int
    ) -> None:
        """Events CleverTap may have stored twice: the batch was retried after an attempt whose
        fate is unknown (a timeout, a 5xx), or its answer left some records' fate unknown."""
        unknown = sum(1 for f in outcome.failures if f.code == UNKNOWN_OUTCOME)
        count = unknown + (accepted if outcome.maybe_stored_twice else 0)
        if not count:
            return
        self._report.possibly_duplicated(batch.stream, count)
        self._logger.warning(
            "Stream '%s': %d events of the batch from input record %d on may be stored twice "
            "by CleverTap (%s); neither the target nor its event ledger can tell.",
            batch.stream,
            count,
            batch.first_record + 1,
            "a retry followed an attempt whose outcome is unknown"
            if outcome.maybe_stored_twice
            else "its answer left their outcome unknown",
        )


def _write_state_line(state: Any) -> None:
    sys.stdout.write(dumps_exact(state) + "\n")
    sys.stdout.flush()
