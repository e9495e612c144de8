"""What every CleverTap endpoint of the sandbox shares: answers, credentials, the in-flight
limit, added latency and scripted faults.

An endpoint is a :class:`Service`: it parses its body and does its work; the base class runs the
same checks around them for every endpoint, in this order: credentials (401), in-flight limit
(429), added latency, body (400), fault injection, then the endpoint's own work. A request counts
as in flight from the moment its body has been read until its answer is ready, so the added
latency counts too; the count drops just before the answer is written, so a client that waits for
each answer never sees a 429 it did not cause.
"""

from __future__ import annotations

import hmac
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs

from target_clevertap.sandbox.faults import FaultAction, Faults, FaultState
from target_clevertap.sandbox.stats import RESET_STATUS, Stats
from target_clevertap.sandbox.store import StoreWriter
from target_clevertap.sandbox.validation import MALFORMED, BatchResult, MalformedRequestError, Rules

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
TOO_MANY_REQUESTS = "Too many concurrent requests"
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_HTML_PAGE = (
    "<html><head><title>{status} {phrase}</title></head>"
    "<body><center><h1>{status} {phrase}</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass(frozen=True)
class Reply:
    """An answer ready to be written; ``reset`` means: close the connection without one.

    ``records``, ``processed`` and ``stored`` are counters for the log and the statistics; what
    they count is up to the endpoint (records of an upload, values of a delete)."""

    status: int
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False
    records: int = 0
    processed: int = 0
    stored: int = 0


@dataclass(frozen=True)
class ApiRequest:
    """One request to a CleverTap endpoint, as the HTTP handler read it."""

    account_id: str | None
    passcode: str | None
    query: str
    body: bytes
    host: str

    @property
    def dry_run(self) -> bool:
        return parse_qs(self.query).get("dryRun") == ["1"]


@dataclass(frozen=True)
class Credentials:
    """The one account ID and passcode the sandbox accepts (compared in constant time)."""

    account_id: str
    passcode: str

    def admit(self, request: ApiRequest) -> bool:
        return _same(request.account_id, self.account_id) and _same(request.passcode, self.passcode)


def per_record_reply(result: BatchResult, records: int, faults: Faults, *, stored: int) -> Reply:
    """A 200 answering each record, as uploads and subscribes answer."""
    envelope = result.envelope(list_unprocessed=not faults.empty_unprocessed)
    return Reply(
        200,
        encode_json(envelope, spaced=faults.spaced_json),
        records=records,
        processed=len(result.accepted),
        stored=stored,
    )


def encode_json(data: Any, *, spaced: bool = False) -> bytes:
    separators = (" , ", " : ") if spaced else (", ", ": ")
    return json.dumps(data, separators=separators).encode()


def fail_reply(status: int, error: str, *, spaced: bool = False) -> Reply:
    """A request-level error in CleverTap's envelope."""
    body = {"status": "fail", "error": error, "code": status}
    return Reply(status, encode_json(body, spaced=spaced))


def fault_reply(action: FaultAction, faults: Faults) -> Reply:
    """The answer a scripted fault gives instead of the endpoint's own."""
    if action.answer == "reset":
        return Reply(RESET_STATUS, reset=True)
    if action.answer == "html":
        page = _HTML_PAGE.format(status=action.status, phrase=_PHRASES.get(action.status, "Error"))
        return Reply(action.status, page.encode(), content_type="text/html")
    return fail_reply(action.status, _error_text(action.status, faults), spaced=faults.spaced_json)


def _error_text(status: int, faults: Faults) -> str:
    known = {400: MALFORMED, 401: faults.auth_error, 429: TOO_MANY_REQUESTS}
    return known.get(status) or _PHRASES.get(status, "Error")


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


Parsed = TypeVar("Parsed")


class Service(ABC, Generic[Parsed]):
    """One endpoint: the shared checks of the module docstring around the endpoint's work.

    ``stats`` counts this endpoint's requests and holds its in-flight count: endpoints that share
    CleverTap's concurrency budget share one :class:`Stats`.
    """

    def __init__(
        self,
        *,
        credentials: Credentials,
        rules: Rules,
        faults: FaultState,
        stats: Stats,
        store: StoreWriter | None,
        max_concurrent: int,
    ) -> None:
        self._credentials = credentials
        self._rules = rules
        self._faults = faults
        self._stats = stats
        self._store = store
        self._max_concurrent = max_concurrent

    def handle(self, request: ApiRequest) -> Reply:
        received_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        in_flight = self._stats.enter()
        try:
            reply = self._answer(request, in_flight)
            status = RESET_STATUS if reply.reset else reply.status
            self._stats.record(status, reply.records, reply.stored)
            self._log(request, reply, status, received_at)
        finally:
            self._stats.leave()
        return reply

    def _answer(self, request: ApiRequest, in_flight: int) -> Reply:
        faults = self._faults.current
        spaced = faults.spaced_json
        if not self._credentials.admit(request):
            return fail_reply(401, faults.auth_error, spaced=spaced)
        if in_flight > self._limit(faults):
            return fail_reply(429, TOO_MANY_REQUESTS, spaced=spaced)
        if not faults.latency_includes_work:
            pause(faults.latency_ms / 1000)
            return self._work(request, faults)
        answer_at = time.monotonic() + faults.latency_ms / 1000
        reply = self._work(request, faults)
        pause(answer_at - time.monotonic())
        return reply

    def _work(self, request: ApiRequest, faults: Faults) -> Reply:
        """Parse the body (400), apply the scripted faults, then the endpoint's own work."""
        spaced = faults.spaced_json
        try:
            parsed = self._parse(request)
        except MalformedRequestError as exc:
            return fail_reply(400, exc.message, spaced=spaced)
        action = self._faults.next_action(self._fault_subjects(parsed))
        pause(action.delay_seconds)
        if not action.process:
            return replace(fault_reply(action, faults), records=self._size(parsed))
        done = self._process(parsed, request, faults)
        if action.answer == "batch":
            return done
        return replace(
            fault_reply(action, faults),
            records=done.records,
            processed=done.processed,
            stored=done.stored,
        )

    def _limit(self, faults: Faults) -> int:
        """Requests allowed in flight; the faults may lower it at runtime."""
        return self._max_concurrent

    @abstractmethod
    def _parse(self, request: ApiRequest) -> Parsed:
        """The body, checked as a whole; raise :class:`MalformedRequestError` for a 400."""

    @abstractmethod
    def _fault_subjects(self, parsed: Parsed) -> Sequence[Any]:
        """Record-like objects a fault's ``match`` filter is tested against."""

    @abstractmethod
    def _size(self, parsed: Parsed) -> int:
        """How many records (or values) the request holds, for the log and the statistics."""

    @abstractmethod
    def _process(self, parsed: Parsed, request: ApiRequest, faults: Faults) -> Reply:
        """Do the endpoint's work and return its normal answer, with its counters."""

    def _log(self, request: ApiRequest, reply: Reply, status: int, received_at: str) -> None:
        """Keep a trace of the answered request (nothing by default)."""


class OtherApiService(Service[Parsed]):
    """An endpoint of CleverTap's APIs other than upload (delete, subscribe): they share one
    in-flight budget (3 per account), which ``Faults.max_concurrent_other`` may lower."""

    def _limit(self, faults: Faults) -> int:
        return faults.max_concurrent_other or self._max_concurrent
