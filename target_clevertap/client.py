"""HTTP client for CleverTap's `POST /1/upload`: one pooled session, retries, adaptive concurrency.

Retries follow the singer-sdk RESTStream idiom: `backoff.on_exception` around one attempt, on
429, 5xx, timeouts and connection errors, exponential waits with full jitter (a `Retry-After`
header wins when present). 401/403 and other 4xx are not retried.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import backoff
import orjson
import requests
from requests.adapters import HTTPAdapter

from target_clevertap.values import shown

UPLOAD_PATH = "/1/upload"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_WAIT_SECONDS = 60.0


class UploadError(Exception):
    """A request that cannot succeed by retrying: the run must stop."""


class AuthError(UploadError):
    """CleverTap refused the credentials or the host (401/403)."""


class BatchRefused(Exception):
    """CleverTap refused the whole request as malformed (400); a smaller batch may pass."""


class UnencodableRecords(Exception):
    """Some records hold text JSON cannot carry (a lone surrogate such as \\ud800)."""


class RetryableError(Exception):
    """A failure worth another attempt: throttling, a server error, a timeout, a lost connection."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    """CleverTap's parsed answer to one request, and what it took to get it."""

    body: Mapping[str, Any]
    status: int
    seconds: float
    retries: int


# Growing the cap waits for `limit x patience` successes; patience doubles (up to this) each
# time a raised cap drew a 429, so an account shared with another client is probed rarely.
MAX_PATIENCE = 16


class AdaptiveLimiter:
    """Caps requests in flight at what the account lets through, learnt from its 429s.

    The first request goes alone: wrong credentials then fail one request, not fifteen. Each 429
    answering a request sent under the current cap lowers the cap by one: with L requests in
    flight and k refused, the account took L - k (another client may hold the rest). The cap also
    drops at once to the number of our other requests in flight, since the account took no more
    than those when it refused this one. Once the cap is reached, it grows by one after
    `limit x patience` successes, never above the ceiling.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = 1
        self._proven = False
        self._in_flight = 0
        self._generation = 0
        self._generation_cap = 1
        self._refused = 0
        self._successes = 0
        self._reached = False
        self._patience = 1
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
        """
        ticket = self.ticket() if ticket is None else ticket
        with self._changed:
            heapq.heappush(self._waiting, ticket)
            self._changed.wait_for(
                lambda: self._in_flight < self.limit and self._waiting[0] == ticket
            )
            heapq.heappop(self._waiting)
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

    def throttled(self, generation: int) -> bool:
        """CleverTap said too many concurrent requests to a request sent under `generation`.

        Called while the request still holds its slot; returns whether other requests of ours
        are in flight, so one of them will soon free a slot.
        """
        with self._changed:
            self._proven = True
            if generation != self._generation:
                return self._in_flight > 1  # sent under an older cap, already lowered since
            self._refused += 1
            if self._refused == 1:
                self._patience = min(MAX_PATIENCE, self._patience * 2)
            others = self._in_flight - 1
            self.limit = max(1, min(self._generation_cap - self._refused, others))
            self._successes = 0
            self._reached = False
            return self._in_flight > 1

    def succeeded(self) -> None:
        """A request went through; once the cap was reached, enough of them raise it by one."""
        with self._changed:
            if not self._proven:
                self._proven = True
                self._open(self.ceiling)
                return
            self._successes += 1
            if (
                self._reached
                and self._successes >= self.limit * self._patience
                and self.limit < self.ceiling
            ):
                if self._refused == 0:  # the last raise held: probe at the normal pace again
                    self._patience = 1
                self._open(self.limit + 1)

    def _open(self, cap: int) -> None:
        self.limit = self._generation_cap = cap
        self._generation += 1
        self._refused = 0
        self._successes = 0
        self._reached = False
        self._changed.notify_all()


def retry_waits(
    first: float, cap: float = MAX_WAIT_SECONDS, rng: Callable[[], float] = random.random
) -> Generator[float, Any, None]:
    """backoff wait generator: full-jitter exponential, or the server's Retry-After."""
    error = yield 0.0
    attempt = 0
    while True:
        retry_after = getattr(error, "retry_after", None)
        wait = retry_after if retry_after is not None else rng() * min(cap, first * 2**attempt)
        attempt += 1
        error = yield wait


class UploadClient:
    """Sends batches of CleverTap records; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        account_id: str,
        passcode: str,
        *,
        timeout: float,
        max_retries: int,
        backoff_seconds: float,
        dry_run: bool,
        limiter: AdaptiveLimiter,
        logger: logging.Logger,
    ) -> None:
        self.url = base_url + UPLOAD_PATH + ("?dryRun=1" if dry_run else "")
        self.base_url = base_url
        self.account_id = account_id
        self._timeout = timeout
        self._limiter = limiter
        self._logger = logger
        self._session = _pooled_session(limiter.ceiling, self.url)
        self._stopped = threading.Event()
        self._session.headers.update(
            {
                "X-CleverTap-Account-Id": account_id,
                "X-CleverTap-Passcode": passcode,
                "Content-Type": "application/json; charset=utf-8",
            }
        )
        self._send_with_retries = backoff.on_exception(
            retry_waits,
            RetryableError,
            max_tries=max_retries + 1,
            jitter=None,
            on_backoff=self._log_backoff,
            first=backoff_seconds,
        )(self._attempt)

    def upload(self, records: Sequence[Mapping[str, Any]], stream: str) -> Answer:
        """Send one batch, retrying transient failures; raises UploadError or BatchRefused."""
        ticket = self._limiter.ticket()
        try:
            body = orjson.dumps({"d": records})
        except orjson.JSONEncodeError as exc:
            raise UnencodableRecords(str(exc)) from None
        started = time.monotonic()
        attempts: list[int] = []
        try:
            status, answer = self._send_with_retries(body, stream, attempts, ticket)
        except RetryableError as exc:
            raise UploadError(f"{exc} (gave up after {len(attempts)} attempts)") from None
        return Answer(answer, status, time.monotonic() - started, len(attempts) - 1)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def stop(self) -> None:
        """Send nothing more: a batch failed for good, so the run is ending."""
        self._stopped.set()

    def _attempt(
        self, body: bytes, stream: str, attempts: list[int], ticket: int
    ) -> tuple[int, Any]:
        attempts.append(1)
        with self._limiter.slot(ticket) as generation:
            response = self._post(body)
            # The cap reacts before this slot is given back, so no request slips in under it.
            if response.status_code == 200:
                self._limiter.succeeded()
            elif response.status_code == 429:
                others_in_flight = self._limiter.throttled(generation)
                if (
                    others_in_flight
                    and len(attempts) == 1
                    and "Retry-After" not in response.headers
                ):
                    # The budget is taken by our own requests: the lowered cap holds this one
                    # back until one of them finishes, so a timed wait would only leave a slot
                    # idle (and hold back the reader, which waits for the oldest batch).
                    raise RetryableError(f"HTTP 429: {_error_text(response)}", 429, retry_after=0.0)
        return response.status_code, self._read(response, stream)

    def _post(self, body: bytes) -> requests.Response:
        if self._stopped.is_set():
            raise UploadError("not sent: the run is stopping after an earlier failure")
        try:
            return self._session.post(
                self.url, data=body, timeout=self._timeout, allow_redirects=False
            )
        except requests.Timeout:
            raise RetryableError(f"no answer within {self._timeout:g}s") from None
        except requests.ConnectionError as exc:
            raise RetryableError(f"connection failed ({_root_cause(exc)})") from None

    def _read(self, response: requests.Response, stream: str) -> Any:
        status = response.status_code
        if status == 200:
            return _json_or_retry(response)
        message = _error_text(response)
        if status in RETRYABLE_STATUSES:
            raise RetryableError(
                f"HTTP {status}: {message}", status, _retry_after(response.headers)
            )
        if status == 400:
            raise BatchRefused(message)
        if status in (401, 403):
            raise AuthError(self._auth_hint(status, message))
        if 300 <= status < 400:
            raise UploadError(
                f"CleverTap answered with a redirect (HTTP {status}) to "
                f"{response.headers.get('Location', '?')}; the credentials are not sent there. "
                "Check 'region' or 'api_url'."
            )
        raise UploadError(
            f"Stream '{stream}': CleverTap refused the request: HTTP {status}: {message}"
        )

    def _auth_hint(self, status: int, message: str) -> str:
        return (
            f"CleverTap refused the credentials (HTTP {status}: {message}) for account "
            f"'{self.account_id}' at {self.base_url}: the passcode or the region is wrong. The "
            "region is the prefix of your dashboard URL (e.g. us1.dashboard.clevertap.com -> "
            "region us1; eu1 uses api.clevertap.com); Account ID and Passcode are under "
            "Settings > Project."
        )

    def _log_backoff(self, details: Any) -> None:
        wait = details.get("wait", 0.0)
        self._logger.warning(
            "Stream '%s': upload attempt %d failed (%s); retrying %s.",
            details["args"][1],
            details["tries"],
            details.get("exception"),
            f"in {wait:.2f}s" if wait else "as soon as one of our requests in flight finishes",
        )


def encodable(record: Mapping[str, Any]) -> bool:
    """Whether a record can be written in a request body."""
    try:
        orjson.dumps(record)
    except orjson.JSONEncodeError:
        return False
    return True


def _pooled_session(pool_size: int, url: str) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # Proxies and CA bundle from the environment, read once for our one URL. Per request,
    # requests would read them again and look for a .netrc file on disk: each look is a pause
    # in which an upload thread waits for the busy reading thread to give back the GIL.
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False
    return session


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json_or_retry(response: requests.Response) -> Any:
    body = _json_body(response)
    if not isinstance(body, Mapping):
        raise RetryableError(f"HTTP 200 with an unreadable body: {shown(response.text)}", 200)
    return body


def _error_text(response: requests.Response) -> str:
    """CleverTap's `error` text when the body is its JSON envelope, else the start of the body."""
    body = _json_body(response)
    if isinstance(body, Mapping) and body.get("error"):
        return str(body["error"])
    text = " ".join(response.text.split())
    return f"non-JSON body {shown(text)}" if text else "empty body"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return min(float(value), MAX_WAIT_SECONDS) if value is not None else None
    except ValueError:
        return None


def _root_cause(error: BaseException) -> str:
    while error.__context__ is not None or error.__cause__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return type(error).__name__
