"""``POST /1/upload``: authentication, the in-flight limit, faults, validation and storage.

The order of checks is: credentials (401), in-flight limit (429), added latency, body (400),
fault injection, then per-record validation (HTTP 200 with the batch envelope). A request counts
as in flight from the moment its body has been read until its answer is ready, so the added
latency counts too; the count drops just before the answer is written, so a client that waits for
each answer never sees a 429 it did not cause.
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from target_clevertap.sandbox.faults import FaultAction, Faults, FaultState
from target_clevertap.sandbox.stats import RESET_STATUS, Stats
from target_clevertap.sandbox.store import RequestLog, StoreWriter
from target_clevertap.sandbox.validation import (
    MALFORMED,
    BatchResult,
    MalformedRequestError,
    Rules,
    accept,
    parse_upload_body,
    validate_batch,
)

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
TOO_MANY_REQUESTS = "Too many concurrent requests"
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_HTML_PAGE = (
    "<html><head><title>{status} {phrase}</title></head>"
    "<body><center><h1>{status} {phrase}</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass(frozen=True)
class Reply:
    """An answer ready to be written; ``reset`` means: close the connection without one."""

    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    records: int = 0
    processed: int = 0
    stored: int = 0


@dataclass(frozen=True)
class UploadRequest:
    account_id: str | None
    passcode: str | None
    query: str
    body: bytes
    host: str

    @property
    def dry_run(self) -> bool:
        return parse_qs(self.query).get("dryRun") == ["1"]


def encode_json(data: Any, *, spaced: bool = False) -> bytes:
    separators = (" , ", " : ") if spaced else (", ", ": ")
    return json.dumps(data, separators=separators).encode()


def fail_reply(status: int, error: str, *, spaced: bool = False) -> Reply:
    """A request-level error in CleverTap's envelope."""
    body = {"status": "fail", "error": error, "code": status}
    return Reply(status, encode_json(body, spaced=spaced))


class UploadService:
    def __init__(
        self,
        *,
        account_id: str,
        passcode: str,
        rules: Rules,
        faults: FaultState,
        stats: Stats,
        store: StoreWriter | None,
        max_concurrent: int,
    ) -> None:
        self._account_id = account_id
        self._passcode = passcode
        self._rules = rules
        self._faults = faults
        self._stats = stats
        self._store = store
        self._max_concurrent = max_concurrent

    def handle(self, request: UploadRequest) -> Reply:
        received_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        in_flight = self._stats.enter()
        try:
            reply = self._answer(request, in_flight)
            status = RESET_STATUS if reply.reset else reply.status
            self._stats.record(status, reply.records, reply.stored)
            if self._store is not None:
                self._store.log_request(
                    RequestLog(
                        received_at,
                        status,
                        reply.records,
                        reply.processed,
                        request.dry_run,
                        request.host,
                    )
                )
        finally:
            self._stats.leave()
        return reply

    def _answer(self, request: UploadRequest, in_flight: int) -> Reply:
        faults = self._faults.current
        spaced = faults.spaced_json
        if not self._is_authorised(request):
            return fail_reply(401, faults.auth_error, spaced=spaced)
        if in_flight > (faults.max_concurrent or self._max_concurrent):
            return fail_reply(429, TOO_MANY_REQUESTS, spaced=spaced)
        _pause(faults.latency_ms / 1000)
        try:
            records = parse_upload_body(request.body, self._rules)
        except MalformedRequestError as exc:
            return fail_reply(400, exc.message, spaced=spaced)
        action = self._faults.next_action(records)
        _pause(action.delay_seconds)
        if not action.process:
            return replace(_fault_reply(action, faults), records=len(records))
        result = validate_batch(records, self._rules)
        stored = self._save(result, dry_run=request.dry_run)
        answer = (
            _batch_reply(result, faults)
            if action.answer == "batch"
            else _fault_reply(action, faults)
        )
        return replace(
            answer,
            records=len(records),
            processed=len(result.accepted),
            stored=stored,
        )

    def _is_authorised(self, request: UploadRequest) -> bool:
        return _same(request.account_id, self._account_id) and _same(
            request.passcode, self._passcode
        )

    def _save(self, result: BatchResult, *, dry_run: bool) -> int:
        if dry_run:
            return 0
        if self._store is not None:
            accepted = [accept(record, self._rules) for record in result.accepted]
            self._store.save(accepted, now=int(time.time()))
        return len(result.accepted)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _batch_reply(result: BatchResult, faults: Faults) -> Reply:
    envelope = result.envelope(list_unprocessed=not faults.empty_unprocessed)
    return Reply(200, encode_json(envelope, spaced=faults.spaced_json))


def _fault_reply(action: FaultAction, faults: Faults) -> Reply:
    if action.answer == "reset":
        return Reply(RESET_STATUS, reset=True)
    if action.answer == "html":
        page = _HTML_PAGE.format(status=action.status, phrase=_PHRASES.get(action.status, "Error"))
        return Reply(action.status, page.encode(), content_type="text/html")
    return fail_reply(action.status, _error_text(action.status, faults), spaced=faults.spaced_json)


def _error_text(status: int, faults: Faults) -> str:
    known = {400: MALFORMED, 401: faults.auth_error, 429: TOO_MANY_REQUESTS}
    return known.get(status) or _PHRASES.get(status, "Error")
