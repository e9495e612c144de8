"""The kinds of request the target sends, each a lane: its endpoint, batch limit, budget, answer.

Two budgets of requests in flight per account (API reference section 6): uploads (profiles,
events and device tokens share `max_concurrency`, at most 15), and CleverTap's other APIs
(deletes and subscriptions share `max_concurrency_other`, at most 3).

Lanes answered per record (uploads, tokens, subscriptions) list the records CleverTap refused;
a record the answer does not account for is `unknown_outcome`, never taken as delivered. A lane
answered per call (deletes) is done only when the answer clearly says success; anything else is
a failed call (retried, then the run fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Budget = Literal["upload", "other"]


class UnclearAnswer(Exception):
    """A per-call answer that does not clearly say the call succeeded."""


@dataclass(frozen=True, eq=False)  # the four below, compared (and hashed) by identity
class Lane:
    """One kind of request."""

    name: str
    path: str
    max_records: int
    budget: Budget
    answered_per_record: bool
    dry_run: bool  # CleverTap takes `?dryRun=1` (validate, store nothing) on this endpoint

    def body(self, payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The request body for a batch of this lane's payloads."""
        if self.answered_per_record:
            return {"d": payloads}
        return _values_by_key(payloads)

    def check_call_answer(self, answer: Mapping[str, Any]) -> None:
        """Raise UnclearAnswer unless a per-call answer says success in so many words."""
        if not self.answered_per_record and answer.get("status") != "success":
            raise UnclearAnswer(
                f"CleverTap's answer to a {self.name} request does not say success: "
                f"{dict(answer)!r:.200}"
            )


def _values_by_key(payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`[{"identity": "a"}, {"identity": "b"}]` -> `{"identity": ["a", "b"]}`: one key per call.

    CleverTap answers 400 to a delete naming both `identity` and `guid`, so a batch mixing keys
    is a bug upstream, refused here rather than sent.
    """
    keys = {key for payload in payloads for key in payload}
    if len(keys) != 1:
        raise ValueError(f"a per-call batch must use one key, not {sorted(keys)}")
    [key] = keys
    return {key: [payload[key] for payload in payloads]}


UPLOADS = Lane("upload", "/1/upload", 1000, "upload", answered_per_record=True, dry_run=True)
DEVICE_TOKENS = Lane(
    "device token upload", "/1/upload", 100, "upload", answered_per_record=True, dry_run=True
)
DELETES = Lane(
    "profile delete",
    "/1/delete/profiles.json",
    100,
    "other",
    answered_per_record=False,
    dry_run=False,
)
SUBSCRIPTIONS = Lane(
    "subscribe", "/1/subscribe", 1000, "other", answered_per_record=True, dry_run=False
)
LANES = (UPLOADS, DEVICE_TOKENS, DELETES, SUBSCRIPTIONS)
