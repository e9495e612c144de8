"""Fault injection for the sandbox: latency, scripted answers and response quirks.

A :class:`Faults` value is plain data (it round-trips through the admin endpoint as JSON). The
server keeps it in a :class:`FaultState`, which hands out one :class:`FaultAction` per request
to a CleverTap endpoint (``/1/upload``, ``/1/delete/profiles.json`` and ``/1/subscribe`` draw
from the same sequence, in the order they arrive). Entries of ``sequence`` and ``forever``:

``ok`` / ``200``   process the request normally
``503``            answer that HTTP status (400-599) with a CleverTap-style JSON body
``502html``        answer that status with an HTML body (``text/html``), as a gateway would
``reset``          close the connection without answering
``slow:2.5``       wait that many seconds (while in flight), then process normally
``store:503``      process and store the batch (or apply the delete), then answer ``503``
                   (also ``store:reset`` ...)

``sequence`` entries are used up one per matching request, then ``forever`` (if set) answers
every matching request, then ``store_then_fail`` (if set) stores and answers 503. ``match``
(``key=value``, e.g. ``type=event`` or ``evtName=Charged``) limits those three to requests holding
at least one record whose top-level ``key`` equals ``value``; others are processed normally. A
delete is matched value by value, as if each were a record ``{"type": "delete", "identity": v}``
(or ``{"type": "delete", "guid": v, "objectId": v}``): ``identity=u-1`` or ``type=delete``. A
subscribe is matched on its records as sent: ``type=email`` or ``value=ana@example.com``.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

AUTH_ERROR = "Account ID is not valid"
ENTRY_HELP = "use ok, an HTTP status 400-599, 502html, reset, slow:SECONDS or store:503"

Answer = Literal["batch", "json", "html", "reset"]


@dataclass(frozen=True)
class FaultAction:
    """What to do with one request."""

    answer: Answer = "batch"
    status: int = 200
    delay_seconds: float = 0.0
    process: bool = True  # validate and store the records before answering


NORMAL = FaultAction()
STORE_THEN_503 = FaultAction("json", 503, process=True)


def parse_action(entry: str) -> FaultAction:
    """Turn one entry such as ``503``, ``502html``, ``reset`` or ``slow:2`` into an action."""
    text = entry.strip().lower()
    if text in ("ok", "200"):
        return NORMAL
    if text == "reset":
        return FaultAction("reset", 0, process=False)
    if text.startswith("slow:"):
        return FaultAction(delay_seconds=_seconds(text.removeprefix("slow:"), entry))
    if text.startswith("store:"):
        failure = parse_action(text.removeprefix("store:"))
        if failure.answer == "batch":
            raise ValueError(f"Fault {entry!r}: store: needs a failure after it, e.g. store:503")
        return replace(failure, process=True)
    if text.endswith("html"):
        return FaultAction("html", _status(text.removesuffix("html"), entry), process=False)
    return FaultAction("json", _status(text, entry), process=False)


def split_entries(text: str) -> tuple[str, ...]:
    """``"503, 503,200"`` -> ``("503", "503", "200")``."""
    return tuple(entry.strip() for entry in text.split(",") if entry.strip())


def _status(text: str, entry: str) -> int:
    if text.isdigit() and 400 <= int(text) <= 599:
        return int(text)
    raise ValueError(f"Unknown fault {entry!r}: {ENTRY_HELP}")


def _seconds(text: str, entry: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"Fault {entry!r}: slow: takes a number of seconds, e.g. slow:2.5")
    return seconds


def parse_match(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise ValueError(f"Match filter {text!r} must look like key=value, e.g. type=event")
    return key.strip(), value.strip()


def record_matches(record: Any, key: str, value: str) -> bool:
    if not isinstance(record, dict) or key not in record:
        return False
    actual = record[key]
    return (actual if isinstance(actual, str) else json.dumps(actual)) == value


@dataclass(frozen=True)
class Faults:
    """Fault injection and response quirks; replace them at runtime with ``Sandbox.set_faults``.

    ``auth_error`` is the text of every 401 (alternative seen in the wild: ``Invalid
    Credentials``); ``max_concurrent`` replaces the sandbox's in-flight limit of ``/1/upload``
    (to lower it), ``max_concurrent_other`` that of the other APIs (delete and subscribe);
    ``empty_unprocessed`` answers partial/fail uploads and subscribes with an empty
    ``unprocessed`` list;
    ``spaced_json`` formats answers the way CleverTap did in 2018 (``{ "status" : "fail" , ...}``);
    ``latency_includes_work`` makes ``latency_ms`` each answer's whole time from the body read,
    the sandbox's own work (parsing, validating, storing, a ``slow:`` wait) done within it, as at
    an API whose round trip is that latency; by default the latency comes before that work.
    """

    latency_ms: int = 0
    latency_includes_work: bool = False
    sequence: Sequence[str] = ()
    forever: str | None = None
    match: str | None = None
    store_then_fail: bool = False
    auth_error: str = AUTH_ERROR
    max_concurrent: int | None = None
    max_concurrent_other: int | None = None
    empty_unprocessed: bool = False
    spaced_json: bool = False

    def __post_init__(self) -> None:
        entries = self.sequence
        sequence = split_entries(entries) if isinstance(entries, str) else tuple(entries)
        object.__setattr__(self, "sequence", sequence)
        _require(all(isinstance(entry, str) for entry in sequence), "sequence holds strings")
        _require(self.forever is None or isinstance(self.forever, str), "forever is a string")
        for entry in (*sequence, *([self.forever] if self.forever else [])):
            parse_action(entry)
        if self.match is not None:
            _require(isinstance(self.match, str), "match is a string such as type=event")
            parse_match(self.match)
        _require(_is_whole(self.latency_ms, minimum=0), "latency_ms is a whole number >= 0")
        for name in ("max_concurrent", "max_concurrent_other"):
            limit = getattr(self, name)
            _require(limit is None or _is_whole(limit, minimum=1), f"{name} is a whole number >= 1")
        _require(isinstance(self.auth_error, str) and bool(self.auth_error), "auth_error is text")
        flags = ("store_then_fail", "empty_unprocessed", "spaced_json", "latency_includes_work")
        for name in flags:
            _require(isinstance(getattr(self, name), bool), f"{name} is true or false")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Build from JSON-like data; unknown keys are refused so typos do not pass silently."""
        known = [field.name for field in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"Unknown fault settings {unknown}; known: {', '.join(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sequence"] = list(self.sequence)
        return data


def _is_whole(value: Any, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"Invalid faults: {message}")


class FaultState:
    """The current faults plus what is left of their scripted sequence (thread-safe)."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._pending: deque[FaultAction] = deque()
        self._forever: FaultAction | None = None
        self._match: tuple[str, str] | None = None
        self.replace(faults)

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def replace(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._pending = deque(parse_action(entry) for entry in faults.sequence)
            self._forever = parse_action(faults.forever) if faults.forever else None
            self._match = parse_match(faults.match) if faults.match else None

    def next_action(self, records: Sequence[Any]) -> FaultAction:
        with self._lock:
            if self._match and not any(record_matches(r, *self._match) for r in records):
                return NORMAL
            if self._pending:
                return self._pending.popleft()
            if self._forever is not None:
                return self._forever
            return STORE_THEN_503 if self._faults.store_then_fail else NORMAL
