"""Deliver batches in the background while input is still being read.

Up to `max_concurrency` requests are in flight (the client's adaptive limiter decides how many
right now); how many batches may wait behind them is bounded by the reader's window (see
`Pipeline.hold_window`), so memory stays flat when CleverTap is slower than the tap. A request
refused whole as malformed (400) is split in halves until the records causing it are isolated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from target_clevertap.client import (
    BatchRefused,
    UnencodableRecords,
    UploadClient,
    UploadError,
    encodable,
)
from target_clevertap.response import RecordFailure, read_upload_result

MALFORMED = 400
UNENCODABLE = "text_invalid"
UNENCODABLE_REASON = (
    "The record holds text that is not valid Unicode (a lone surrogate such as \\ud800, half of "
    "an escaped character pair), which a request to CleverTap cannot carry; fix the text at the "
    "source."
)


@dataclass
class Batch:
    """Records of one stream on their way: payloads as sent, input records for the rejects file."""

    stream: str
    payloads: list[dict[str, Any]]
    records: list[Mapping[str, Any]]
    span: int


@dataclass
class BatchOutcome:
    """What CleverTap did with each record of a batch."""

    failures: list[RecordFailure] = field(default_factory=list)
    http_status: int = 0
    seconds: float = 0.0
    retries: int = 0
    requests: int = 0


class DeliveryFailed(Exception):
    """A batch could not be delivered; the run must stop."""


class Delivery:
    """A pool of senders fed by the reading thread, reporting each finished batch."""

    def __init__(
        self,
        client: UploadClient,
        max_concurrency: int,
        on_delivered: Callable[[Batch, BatchOutcome], None],
        logger: logging.Logger,
    ) -> None:
        self._client = client
        self._on_delivered = on_delivered
        self._logger = logger
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="upload")
        self._failure: DeliveryFailed | None = None
        self._unfinished = 0
        self._idle = threading.Condition()

    @property
    def failure(self) -> DeliveryFailed | None:
        """The first fatal delivery error, if any."""
        return self._failure

    def submit(self, batch: Batch) -> None:
        """Queue a batch; raises once any batch has failed."""
        self.raise_if_failed()
        with self._idle:
            self._unfinished += 1
        self._pool.submit(self._deliver, batch)

    def wait_idle(self) -> None:
        """Block until every batch submitted so far has finished (or failed)."""
        with self._idle:
            self._idle.wait_for(lambda: self._unfinished == 0)

    def raise_if_failed(self) -> None:
        """Stop the reader as soon as a batch has failed for good."""
        if self._failure is not None:
            raise self._failure

    def wait(self) -> None:
        """Let every queued batch finish, then release the connections."""
        self._pool.shutdown(wait=True)
        self._client.close()

    def _deliver(self, batch: Batch) -> None:
        try:
            outcome = self._send(batch.payloads, batch.stream)
            self._on_delivered(batch, outcome)
        except UploadError as exc:
            self._fail(batch, exc)
        except Exception as exc:
            self._logger.exception("Stream '%s': unexpected error while delivering", batch.stream)
            self._fail(batch, exc)
        finally:
            with self._idle:
                self._unfinished -= 1
                self._idle.notify_all()

    def _send(self, payloads: list[dict[str, Any]], stream: str) -> BatchOutcome:
        try:
            answer = self._client.upload(payloads, stream)
        except BatchRefused as refusal:
            return self._split(payloads, stream, str(refusal))
        except UnencodableRecords:
            return self._send_encodable(payloads, stream)
        result = read_upload_result(answer.body, payloads)
        return BatchOutcome(result.failures, answer.status, answer.seconds, answer.retries, 1)

    def _split(self, payloads: list[dict[str, Any]], stream: str, error: str) -> BatchOutcome:
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
        first = self._send(payloads[:middle], stream)
        second = self._send(payloads[middle:], stream)
        shifted = [replace(f, index=f.index + middle) for f in second.failures]
        return BatchOutcome(
            first.failures + shifted,
            MALFORMED,
            first.seconds + second.seconds,
            first.retries + second.retries,
            1 + first.requests + second.requests,
        )

    def _send_encodable(self, payloads: list[dict[str, Any]], stream: str) -> BatchOutcome:
        """Send the records a request can carry; refuse the others here, each with its reason."""
        refused = [i for i, payload in enumerate(payloads) if not encodable(payload)]
        kept = sorted(set(range(len(payloads))) - set(refused))
        outcome = self._send([payloads[i] for i in kept], stream) if kept else BatchOutcome()
        failures = [replace(f, index=kept[f.index]) for f in outcome.failures]
        failures += [RecordFailure(i, UNENCODABLE, UNENCODABLE_REASON, sent=False) for i in refused]
        return replace(outcome, failures=failures)

    def _fail(self, batch: Batch, error: Exception) -> None:
        if self._failure is None:
            self._failure = DeliveryFailed(
                f"Stream '{batch.stream}': a batch of {len(batch.payloads)} records could not be "
                f"delivered: {error}"
            )
        self._client.stop()
