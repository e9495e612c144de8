"""HTTP client for CleverTap's endpoints: one pooled session, retries, adaptive concurrency.

Each request goes to its lane's endpoint (`lanes`) within its budget's `AdaptiveLimiter`. One
retry classification for every lane: 429, 5xx, timeouts, connection errors and an answer that
cannot be read are retried, with exponential waits and full jitter (`backoff.expo`,
`backoff.full_jitter`; a `Retry-After` header wins); 401/403 and other 4xx are not. A 429
answered while other requests of ours are in flight is the exception: it goes again as soon as
one of them finishes, and does not count against `max_retries`; one answered while none is waits
at most MAX_THROTTLED_WAIT_SECONDS and counts a quarter. The waits are our own loop
rather than `backoff.on_exception`, whose sleep nothing can cut short: a stop request must end
them at once.

After a stop request (`stop_by`) requests and retries go on until the stop's deadline, never past
it: a retry that would start later is given up, and a request's timeout ends by the deadline.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import backoff
import orjson
import requests
from requests.adapters import HTTPAdapter

from target_clevertap.config import Settings
from target_clevertap.lanes import Budget, Lane, UnclearAnswer
from target_clevertap.limiter import AdaptiveLimiter
from target_clevertap.switch_interval import SwitchInterval
from target_clevertap.text import secret_forms, shown, without_secret

# Server errors worth another attempt; a 429 is retried too, with the limiter (`_attempt`).
RETRYABLE_SERVER_ERRORS = frozenset({500, 502, 503, 504})
MAX_WAIT_SECONDS = 60.0
# A 429 is answered at once and says the account is full right now; the requests filling it
# finish within a few seconds, so a longer wait only idles the run (and, as the refused request
# holds back all of ours, every batch behind it).
MAX_THROTTLED_WAIT_SECONDS = 8.0
# What a 429 answered with none of our requests in flight uses up of one of `max_retries`.
LONE_REFUSAL_COST = 0.25


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

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        *,
        maybe_stored: bool = True,
        cost: float = 1.0,
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.cost = cost  # how much of one of `max_retries` it uses up
        # Whether CleverTap may have stored the records anyway (a timeout, a 5xx): then a retry
        # that succeeds may have stored them twice. Not so for 429 or a refused connection.
        self.maybe_stored = maybe_stored and status != 429


@dataclass(frozen=True)
class Answer:
    """CleverTap's parsed answer to one request, and what it took to get it."""

    body: Mapping[str, Any]
    status: int
    seconds: float
    retries: int
    maybe_stored_twice: bool  # an attempt before the one answered may have been stored too


def retry_wait(error: RetryableError, schedule: Iterator[float]) -> float:
    """The wait before the next attempt: the server's Retry-After, else full-jitter exponential
    (for a 429, at most MAX_THROTTLED_WAIT_SECONDS)."""
    step = next(schedule)
    if error.retry_after is not None:
        return error.retry_after
    if error.status == 429:
        step = min(step, MAX_THROTTLED_WAIT_SECONDS)
    return backoff.full_jitter(step)


class UploadClient:
    """Sends batches to CleverTap, each on its lane's endpoint and budget; thread-safe."""

    def __init__(self, settings: Settings, logger: logging.Logger) -> None:
        self.base_url = settings.base_url
        self.account_id = settings.account_id
        self._passcode_forms = secret_forms(settings.passcode)
        self._dry_run = settings.dry_run
        self._timeout = settings.request_timeout
        self._max_retries = settings.max_retries
        self._first_wait = settings.retry_backoff_seconds
        self._logger = logger
        ceilings: dict[Budget, int] = {
            "upload": settings.max_concurrency,
            "other": settings.max_concurrency_other,
        }
        switching = SwitchInterval()
        self._limiters = {
            budget: AdaptiveLimiter(ceiling, functools.partial(switching.requests_wait, budget))
            for budget, ceiling in ceilings.items()
        }
        pool_size = sum(limiter.ceiling for limiter in self._limiters.values())
        self._session = _pooled_session(pool_size, self.base_url)
        self._stopped = threading.Event()
        self._hurried = threading.Event()
        self._deadline: float | None = None  # monotonic; set by a stop request
        self._session.headers.update(
            {
                "X-CleverTap-Account-Id": settings.account_id,
                "X-CleverTap-Passcode": settings.passcode,
                "Content-Type": "application/json; charset=utf-8",
            }
        )

    def send(self, lane: Lane, payloads: Sequence[Mapping[str, Any]], stream: str) -> Answer:
        """Send one batch, retrying transient failures; raises UploadError or BatchRefused."""
        limiter = self._limiters[lane.budget]
        ticket = limiter.ticket()
        try:
            body = orjson.dumps(lane.body(payloads))
        except orjson.JSONEncodeError as exc:
            raise UnencodableRecords(str(exc)) from None
        request = _Request(lane, self._url(lane), body, stream, limiter, ticket)
        started = time.monotonic()
        try:
            status, answer, retries, maybe_twice = self._send_with_retries(request)
        finally:
            limiter.finished(ticket)
        return Answer(answer, status, time.monotonic() - started, retries, maybe_twice)

    @property
    def ceilings(self) -> dict[Budget, int]:
        """The most requests each budget may have in flight (its `max_concurrency` setting)."""
        return {budget: limiter.ceiling for budget, limiter in self._limiters.items()}

    def allowed_in_flight(self, lane: Lane) -> int:
        """How many requests of the lane's budget may be in flight right now."""
        return self._limiters[lane.budget].limit

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def stop(self) -> None:
        """Send nothing more: a batch failed for good, so the run is ending."""
        self._stopped.set()
        self._hurried.set()

    def stop_by(self, deadline: float) -> None:
        """A stop was requested: nothing is sent, nor waited for, past the (monotonic) deadline."""
        self._deadline = deadline
        self._hurried.set()

    def _url(self, lane: Lane) -> str:
        if not self._dry_run:
            return self.base_url + lane.path
        if not lane.dry_run:  # the pipeline sends none of these on a dry run; never send one
            raise UploadError(f"CleverTap has no dry run for {lane.name} requests.")
        return self.base_url + lane.path + "?dryRun=1"

    def _send_with_retries(self, request: _Request) -> tuple[int, Any, int, bool]:
        """Attempts until one answers, with waits between them that a stop cuts short; and
        whether a failed attempt may have been stored as well."""
        schedule = backoff.expo(factor=self._first_wait, max_value=MAX_WAIT_SECONDS)
        next(schedule)
        maybe_stored = False
        failures = 0.0
        for attempt in itertools.count(1):
            try:
                status, answer = self._attempt(request)
            except RetryableError as error:
                maybe_stored = maybe_stored or error.maybe_stored
                failures += error.cost
                if failures >= self._max_retries + 1:
                    raise UploadError(f"{error} (gave up after {attempt} attempts)") from None
                wait = retry_wait(error, schedule)
                self._log_retry(request, attempt, error, wait)
                if not self._waited_to_retry(wait):
                    raise UploadError(f"{error}; not retried, as the run is stopping") from None
                if self._deadline is not None:
                    self._log_retry_in_grace(request, self._deadline - time.monotonic())
                continue
            return status, answer, attempt - 1, maybe_stored
        raise AssertionError("unreachable")  # itertools.count never ends

    def _waited_to_retry(self, seconds: float) -> bool:
        """Wait before a retry; False if the run is stopping and the retry would come too late
        (after the stop's deadline) or not at all (after a failure)."""
        retry_at = time.monotonic() + seconds
        if not seconds or not self._hurried.wait(seconds):
            return not self._hurried.is_set() or self._in_time(retry_at)
        if not self._in_time(retry_at):
            return False
        return not self._stopped.wait(retry_at - time.monotonic())

    def _in_time(self, moment: float) -> bool:
        """Whether a request may start at the moment: no failure ended the run, and a stop's
        deadline, if one came, is not passed."""
        if self._stopped.is_set():
            return False
        return self._deadline is None or moment < self._deadline

    def _attempt(self, request: _Request) -> tuple[int, Any]:
        limiter = request.limiter
        with limiter.slot(request.ticket) as generation:
            reply = self._reply(self._post(request))
            # The cap reacts before this slot is given back, so no request slips in under it.
            if reply.status == 200:
                limiter.succeeded()
            elif reply.status == 429:
                # With other requests of ours in flight, the account is taking ours: the lowered
                # cap holds this one back until one of them finishes, so a timed wait would only
                # leave a slot idle (and hold back the reader, which waits for the oldest
                # batch), and the refusal uses up no retry, so the run moves on however often a
                # shared account refuses. With none in flight, other clients fill the account
                # and a place frees only between one of their requests and the next: getting in
                # is a matter of tries, and as nothing else of ours goes meanwhile (see
                # `limiter`), this request gets several tries for each of `max_retries`.
                ours_in_flight = limiter.throttled(generation, request.ticket)
                raise RetryableError(
                    f"HTTP 429: {reply.error_text()}",
                    429,
                    0.0 if ours_in_flight and reply.retry_after is None else reply.retry_after,
                    cost=0.0 if ours_in_flight else LONE_REFUSAL_COST,
                )
        return reply.status, self._read(reply, request)

    def _reply(self, response: requests.Response) -> _Reply:
        """The answer as the rest of the target sees it: the passcode gone from its text."""
        forms = self._passcode_forms
        return _Reply(
            response.status_code,
            # UTF-8, as CleverTap writes JSON: requests would read a text/html page without a
            # charset as Latin-1, and a passcode with non-ASCII characters would then not match.
            without_secret(response.content.decode("utf-8", errors="replace"), forms),
            _retry_after(response.headers),
            without_secret(response.headers.get("Location", "?"), forms),
        )

    def _post(self, request: _Request) -> requests.Response:
        if self._stopped.is_set():
            raise UploadError("not sent: the run is stopping after an earlier failure")
        timeout = self._timeout
        if self._deadline is not None:
            timeout = min(timeout, self._deadline - time.monotonic())
            if timeout <= 0:
                raise UploadError("not sent: the stop grace period ('stop_grace_seconds') ended")
        try:
            return self._session.post(
                request.url, data=request.body, timeout=timeout, allow_redirects=False
            )
        except requests.Timeout:
            raise RetryableError(f"no answer within {timeout:g}s") from None
        except requests.ConnectionError as exc:
            cause = _root_cause(exc)
            raise RetryableError(
                f"connection failed ({cause})", maybe_stored=cause != "ConnectionRefusedError"
            ) from None

    def _read(self, reply: _Reply, request: _Request) -> Any:
        status = reply.status
        if status == 200:
            answer = reply.json_or_retry()
            try:
                if not request.lane.answered_per_record:  # its shape is not documented
                    self._logger.debug("%s answer: %s", request.lane.name, shown(answer, 500))
                request.lane.check_call_answer(answer)
            except UnclearAnswer as unclear:
                raise RetryableError(str(unclear), 200) from None
            return answer
        message = reply.error_text()
        if status in RETRYABLE_SERVER_ERRORS:
            raise RetryableError(f"HTTP {status}: {message}", status, reply.retry_after)
        if status == 400:
            raise BatchRefused(message)
        if status in (401, 403):
            raise AuthError(self._auth_hint(status, message))
        if 300 <= status < 400:
            raise UploadError(
                f"CleverTap answered with a redirect (HTTP {status}) to "
                f"{reply.location}; the credentials are not sent there. "
                "Check 'region' or 'api_url'."
            )
        raise UploadError(
            f"Stream '{request.stream}': CleverTap refused the request: HTTP {status}: {message}"
        )

    def _auth_hint(self, status: int, message: str) -> str:
        return (
            f"CleverTap refused the credentials (HTTP {status}: {message}) for account "
            f"'{self.account_id}' at {self.base_url}: the passcode or the region is wrong. The "
            "region is the prefix of your dashboard URL (e.g. us1.dashboard.clevertap.com -> "
            "region us1; eu1 uses api.clevertap.com); Account ID and Passcode are under "
            "Settings > Project."
        )

    def _log_retry_in_grace(self, request: _Request, left: float) -> None:
        self._logger.info(
            "Stream '%s': the run is stopping, but this %s retry goes on: it fits in the stop's "
            "grace period ('stop_grace_seconds'; %.1fs left).",
            request.stream,
            request.lane.name,
            left,
        )

    def _log_retry(
        self, request: _Request, attempt: int, error: RetryableError, wait: float
    ) -> None:
        self._logger.warning(
            "Stream '%s': %s attempt %d failed (%s); retrying %s.",
            request.stream,
            request.lane.name,
            attempt,
            error,
            f"in {wait:.2f}s" if wait else "as soon as one of our requests in flight finishes",
        )


@dataclass(frozen=True)
class _Request:
    """One batch's request, as every attempt sends it."""

    lane: Lane
    url: str
    body: bytes
    stream: str
    limiter: AdaptiveLimiter
    ticket: int


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


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer with the passcode scrubbed from its text and headers."""

    status: int
    text: str
    retry_after: float | None
    location: str

    def body(self) -> Any:
        try:
            return orjson.loads(self.text)
        except orjson.JSONDecodeError:
            return None

    def json_or_retry(self) -> Any:
        body = self.body()
        if not isinstance(body, Mapping):
            raise RetryableError(f"HTTP 200 with an unreadable body: {shown(self.text)}", 200)
        return body

    def error_text(self) -> str:
        """CleverTap's `error` text when the body is its JSON envelope, else its start."""
        body = self.body()
        if isinstance(body, Mapping) and body.get("error"):
            return str(body["error"])
        text = " ".join(self.text.split())
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
