"""Read CleverTap's answer to an upload: which of the sent records it refused, and why.

CleverTap answers HTTP 200 even when records fail. Each refused record is listed in
`unprocessed` with a reason ending in `Skipped record number : N` (1-based within the request);
the echoed record is a normalised copy, so it is only a fallback for finding the input record.

Subscribe requests are read the same way: their answer says `success` or `partial`, and the
shape of its per-record errors is not documented (API reference section 9). Read defensively,
an answer that is not a plain success and does not account for a record (listed as refused, or
counted in `processed`) leaves that record's outcome unknown, never delivered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from target_clevertap.plan import IDENTITY_TYPES

_RECORD_NUMBER = re.compile(r"Skipped\s+record\s+number\s*:\s*(\d+)", re.IGNORECASE)

UNKNOWN_OUTCOME = "unknown_outcome"


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """One record of a batch that was not delivered: CleverTap did not take it, or (`sent` False)
    it was refused before sending."""

    index: int
    code: int | str | None
    error: str
    sent: bool = True


@dataclass(frozen=True)
class UploadResult:
    """The fate of every record of one request."""

    status: str
    processed: int
    failures: list[RecordFailure] = field(default_factory=list)


def read_upload_result(body: Mapping[str, Any], sent: Sequence[Mapping[str, Any]]) -> UploadResult:
    """Map CleverTap's batch answer onto the records that were sent, in order."""
    status = str(body.get("status", ""))
    processed = _as_int(body.get("processed"))
    failures: list[RecordFailure] = []
    taken: set[int] = set()
    for item in body.get("unprocessed") or []:
        if not isinstance(item, Mapping):
            continue
        index = _record_index(item, sent, taken)
        if index is None:
            continue
        taken.add(index)
        failures.append(RecordFailure(index, item.get("code"), str(item.get("error", ""))))
    failures += _unaccounted(status, processed, len(sent), taken)
    return UploadResult(status, processed if processed is not None else -1, failures)


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _record_index(
    item: Mapping[str, Any], sent: Sequence[Mapping[str, Any]], taken: set[int]
) -> int | None:
    match = _RECORD_NUMBER.search(str(item.get("error", "")))
    # A number already listed is not trusted twice: each sent record gets at most one failure.
    if match and 1 <= int(match.group(1)) <= len(sent) and int(match.group(1)) - 1 not in taken:
        return int(match.group(1)) - 1
    echoed = item.get("record")
    if isinstance(echoed, Mapping):
        return _find_echoed(echoed, sent, taken)
    return None


def _find_echoed(
    echoed: Mapping[str, Any], sent: Sequence[Mapping[str, Any]], taken: set[int]
) -> int | None:
    """The first not yet matched sent record with the same type, identity and event name."""
    wanted = _fingerprint(echoed)
    return next(
        (i for i, record in enumerate(sent) if i not in taken and _fingerprint(record) == wanted),
        None,
    )


# What names a record's subject: an identity, or a subscribe record's address.
_SUBJECT_KEYS = (*IDENTITY_TYPES, "value")


def _fingerprint(record: Mapping[str, Any]) -> tuple[str, ...]:
    subject = next(
        (f"{key}={record[key]}" for key in _SUBJECT_KEYS if record.get(key) is not None), ""
    )
    token = record.get("tokenData")
    token_id = token.get("id") if isinstance(token, Mapping) else None
    return (str(record.get("type")), subject, str(record.get("evtName", "")), str(token_id))


def _unaccounted(
    status: str, processed: int | None, sent: int, taken: set[int]
) -> list[RecordFailure]:
    """Records CleverTap neither counted as processed nor listed as refused.

    Their fate is unknown; they are reported (never silently counted as delivered) so a person
    can check and replay them.
    """
    if status == "success" and (processed is None or processed == sent):
        return []
    missing = sent - len(taken) - (processed or 0)
    if missing <= 0:
        return []
    unknown = [i for i in range(sent) if i not in taken]
    error = (
        f"CleverTap answered '{status}' with processed={processed} for {sent} records but listed "
        f"only {len(taken)} as refused; this record's outcome is unknown."
    )
    return [RecordFailure(i, UNKNOWN_OUTCOME, error) for i in unknown]
