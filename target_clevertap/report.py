"""Per-stream counts of what happened to every record, and the end-of-run summary."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StreamTally:
    """What happened to one stream's records."""

    received: int = 0
    sent: int = 0
    accepted: int = 0
    rejected_local: int = 0
    rejected_clevertap: int = 0
    skipped_deleted: int = 0
    deleted: int = 0
    not_erased: int = 0  # deletions rejected, here or by CleverTap
    held_in_dry_run: int = 0
    held_kind: str = "delete"  # the kind of the records a dry run held: delete or subscription
    already_delivered: int = 0  # events an earlier run delivered (the ledger): not sent again
    sent_without_key: int = 0  # events sent without deduplication: they have no ledger key
    possibly_duplicated: int = 0  # events CleverTap may have stored twice
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        """Records refused here or by CleverTap."""
        return self.rejected_local + self.rejected_clevertap


@dataclass(frozen=True)
class Progress:
    """One stream's counts so far, for the progress line."""

    read: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    in_flight: int = 0


class RunReport:
    """Thread-safe tallies for all streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: Counter[str] = Counter()
        self._skipped_deleted: Counter[str] = Counter()
        self._held_in_dry_run: Counter[tuple[str, str]] = Counter()
        self._handed_on: Counter[str] = Counter()
        self._answered: Counter[str] = Counter()
        self._notes: Counter[tuple[str, str]] = Counter()
        self.streams: dict[str, StreamTally] = {}

    def received(self, stream: str) -> None:
        """One record read for a stream (reading thread only, so no lock on the hot path)."""
        self._received[stream] += 1

    def skipped_deleted(self, stream: str) -> None:
        """One row marked deleted left out by `on_delete: skip` (reading thread only)."""
        self._skipped_deleted[stream] += 1

    def held_in_dry_run(self, stream: str, kind: str) -> None:
        """One record (a delete or subscription) a dry run does not send, as its endpoint has no
        dry run (reading thread)."""
        self._held_in_dry_run[stream, kind] += 1

    def handed_to_delivery(self, stream: str, records: int) -> None:
        """A batch of the stream queued for sending (reading thread only)."""
        self._handed_on[stream] += records

    def batch_answered(self, stream: str, records: int) -> None:
        """A batch queued for sending came back with an outcome for every record."""
        with self._lock:
            self._answered[stream] += records

    def progress(self) -> dict[str, Progress]:
        """Per stream that has read a record, its counts so far."""
        counts = {}
        with self._lock:
            for stream, read in list(self._received.items()):  # a copy: the reader adds streams
                in_flight = self._handed_on[stream] - self._answered[stream]
                counts[stream] = _progress(read, self.streams.get(stream), in_flight)
        return counts

    def note(self, stream: str, text: str) -> None:
        """One record sent that the summary warns of, with why (reading thread only)."""
        self._notes[stream, text] += 1

    @property
    def notes(self) -> dict[tuple[str, str], int]:
        """Per stream and warning, the records it concerns (read once the reading is over)."""
        return dict(sorted(self._notes.items()))

    def rejected_locally(self, stream: str, code: str, *, erasure: bool = False) -> None:
        """One record refused before sending (`erasure`: a profile to delete)."""
        with self._lock:
            tally = self._tally(stream)
            tally.rejected_local += 1
            tally.not_erased += erasure
            tally.reasons[code] += 1

    def delivered(
        self, stream: str, sent: int, refused_codes: list[str], *, erasures: bool = False
    ) -> None:
        """A batch's outcome: records sent, and the codes of those CleverTap refused
        (`erasures`: the batch deleted profiles)."""
        with self._lock:
            tally = self._tally(stream)
            tally.sent += sent
            tally.accepted += sent - len(refused_codes)
            tally.rejected_clevertap += len(refused_codes)
            tally.reasons.update(refused_codes)
            if erasures:
                tally.deleted += sent - len(refused_codes)
                tally.not_erased += len(refused_codes)

    def ledger_outcome(self, stream: str, already_delivered: int, without_key: int) -> None:
        """A batch's events left out as delivered before, and those sent without a key."""
        with self._lock:
            tally = self._tally(stream)
            tally.already_delivered += already_delivered
            tally.sent_without_key += without_key

    def possibly_duplicated(self, stream: str, count: int) -> None:
        """Events of a batch CleverTap may have stored twice."""
        with self._lock:
            self._tally(stream).possibly_duplicated += count

    @property
    def not_erased(self) -> dict[str, int]:
        """Per stream, the profiles to delete that were rejected instead."""
        with self._lock:
            return {name: t.not_erased for name, t in sorted(self.streams.items()) if t.not_erased}

    @property
    def total_rejected(self) -> int:
        """Records refused in this run, all streams."""
        with self._lock:
            return sum(t.rejected for t in self.streams.values())

    def summary_lines(self) -> list[str]:
        """One line per stream, with the most frequent rejection reasons."""
        with self._lock:
            for stream, count in self._received.items():
                self._tally(stream).received = count
            for stream, count in self._skipped_deleted.items():
                self._tally(stream).skipped_deleted = count
            for (stream, kind), count in self._held_in_dry_run.items():
                tally = self._tally(stream)
                tally.held_in_dry_run, tally.held_kind = count, kind
            return [_summary_line(name, t) for name, t in sorted(self.streams.items())]

    def _tally(self, stream: str) -> StreamTally:
        return self.streams.setdefault(stream, StreamTally())


_WOULD_HAVE = {
    "delete": (
        ", would have deleted {} profiles (a dry run sends no delete: CleverTap's delete has no "
        "dry run)"
    ),
    "subscription": (
        ", would have sent {} subscription changes (a dry run sends none: CleverTap's subscribe "
        "has no dry run)"
    ),
}


def _progress(read: int, tally: StreamTally | None, in_flight: int) -> Progress:
    if tally is None:
        return Progress(read=read, in_flight=in_flight)
    return Progress(read, tally.sent, tally.accepted, tally.rejected, in_flight)


def _summary_line(stream: str, tally: StreamTally) -> str:
    line = (
        f"Stream '{stream}': received {tally.received}, sent {tally.sent}, accepted "
        f"{tally.accepted}, rejected locally {tally.rejected_local}, rejected by CleverTap "
        f"{tally.rejected_clevertap}"
    )
    if tally.reasons:
        top = ", ".join(f"{code} x{n}" for code, n in tally.reasons.most_common(5))
        line += f" (most frequent reasons: {top})"
    if tally.already_delivered:
        line += f", already delivered {tally.already_delivered} (by an earlier run: not sent again)"
    if tally.sent_without_key:
        line += f", sent without a key {tally.sent_without_key} (not deduplicated)"
    if tally.possibly_duplicated:
        line += f", possibly duplicated {tally.possibly_duplicated} (see the warnings)"
    if tally.deleted:
        line += f", deleted {tally.deleted} profiles"
    if tally.held_in_dry_run:
        line += _WOULD_HAVE[tally.held_kind].format(tally.held_in_dry_run)
    if tally.skipped_deleted:
        line += (
            f", skipped {tally.skipped_deleted} rows marked deleted (_sdc_deleted_at): not sent, "
            "so CleverTap keeps what it had for them ('on_delete': 'delete' deletes their profiles)"
        )
    return line + "."
