"""The parts of one run wired together: delivery, checkpoint, rejects file and report.

Sinks hand it mapped records and finished buffers; worker threads hand it delivered batches; it
writes rejected records, advances the checkpoint and logs one line per request.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from target_clevertap.checkpoint import Checkpoint
from target_clevertap.client import AdaptiveLimiter, UploadClient
from target_clevertap.config import DEFAULT_MAX_CONCURRENCY, api_base_url, batch_rows
from target_clevertap.delivery import Batch, BatchOutcome, Delivery
from target_clevertap.jsonl import dumps_exact
from target_clevertap.mapping import Rejection
from target_clevertap.rejects import RejectsFile
from target_clevertap.report import RunReport


class RunFailed(Exception):
    """The run ends with a non-zero exit; the message says why."""


class Pipeline:
    """Everything after mapping: batching hand-off, delivery, rejects and state."""

    def __init__(
        self,
        config: Mapping[str, Any],
        logger: logging.Logger,
        flush_buffer: Callable[[int], bool],
    ) -> None:
        """`flush_buffer(span)` sends the buffered records of that span now, if a sink holds it."""
        self._logger = logger
        self._flush_buffer = flush_buffer
        self._fail_on_rejected = bool(config.get("fail_on_rejected"))
        self.dry_run = bool(config.get("dry_run"))
        concurrency = int(config.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY)
        self.limiter = AdaptiveLimiter(concurrency)
        client = UploadClient(
            api_base_url(config),
            str(config["account_id"]),
            str(config["passcode"]),
            timeout=float(config.get("request_timeout", 60)),
            max_retries=int(config.get("max_retries", 8)),
            backoff_seconds=float(config.get("retry_backoff_seconds", 1.0)),
            dry_run=self.dry_run,
            limiter=self.limiter,
            logger=logger,
        )
        self.delivery = Delivery(client, concurrency, self._delivered, logger)
        self.window = concurrency * batch_rows(config)
        self.checkpoint = Checkpoint(None if self.dry_run else _write_state_line)
        self.rejects = RejectsFile(config.get("rejected_records_path"))
        self.report = RunReport()
        self._summary_logged = False

    def reject_locally(self, stream: str, record: Mapping[str, Any], rejection: Rejection) -> None:
        """A record refused before sending: into the rejects file, counted, never sent."""
        self.rejects.write(
            stream,
            record,
            payload=rejection.payload,
            code=rejection.code,
            error=rejection.reason,
            source="local",
        )
        self.report.rejected_locally(stream, rejection.code)
        self._logger.debug("Stream '%s': record rejected: %s", stream, rejection.reason)

    def hold_window(self, position: int) -> None:
        """Keep the reader within `max_concurrency x batch_size_rows` records of the oldest
        unsettled one.

        This bounds what a crash can make the next run send twice (delivered records the last
        state does not cover) and the memory held; and a stream that went quiet with a partial
        buffer is flushed instead of holding the state back until the end of the run.
        """
        oldest = self.checkpoint.oldest_open
        while oldest is not None and position - oldest[1] >= self.window:
            self.delivery.raise_if_failed()
            if not self._flush_buffer(oldest[0]):
                self.checkpoint.wait_for_a_close(timeout=1.0)
            oldest = self.checkpoint.oldest_open

    def send(self, batch: Batch) -> None:
        """Hand a full buffer to delivery; the reader's window bounds how many are waiting."""
        self.delivery.submit(batch)

    def finish(self) -> None:
        """Wait for every batch, log the summary, and raise if the run must fail."""
        self.delivery.wait()
        self.rejects.close()
        if not self._summary_logged:  # a failed run comes here twice: at end of input, on exit
            self._summary_logged = True
            self._log_summary()
        if self.delivery.failure is not None:
            raise RunFailed(
                f"{self.delivery.failure} No state was written past the last delivered record."
            )
        rejected = self.report.total_rejected
        if rejected and self._fail_on_rejected:
            where = self.rejects.path or "the log (set 'rejected_records_path' to keep them)"
            raise RunFailed(
                f"{rejected} records were rejected (see {where}) and 'fail_on_rejected' is set."
            )

    def _log_summary(self) -> None:
        for line in self.report.summary_lines():
            self._logger.info(line)
        if self.dry_run:
            self._logger.info(
                "Dry run: CleverTap validated the records and stored nothing; no state written."
            )

    def _delivered(self, batch: Batch, outcome: BatchOutcome) -> None:
        """Runs on a worker thread once CleverTap has answered for every record of a batch."""
        codes = []
        sent = len(batch.payloads)
        for failure in outcome.failures:
            self.rejects.write(
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
                self.report.rejected_locally(batch.stream, str(failure.code))
        self.report.delivered(batch.stream, sent, codes)
        self._logger.info(
            "Stream '%s': sent %d, accepted %d, rejected %d, HTTP %d, %.0f ms, %d retries, "
            "%d in flight allowed.",
            batch.stream,
            sent,
            sent - len(codes),
            len(codes),
            outcome.http_status,
            outcome.seconds * 1000,
            outcome.retries,
            self.limiter.limit,
        )
        self.checkpoint.close_span(batch.span)


def _write_state_line(state: Any) -> None:
    sys.stdout.write(dumps_exact(state) + "\n")
    sys.stdout.flush()
