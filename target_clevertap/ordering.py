"""The one ordering rule between requests, stated here and nowhere else.

A record changes what CleverTap holds for one identity (an identity, objectId, FBID or GPID
value). For the pairs of kinds in `MUST_FOLLOW`, a record read later reaches CleverTap only after
the one read earlier for the same identity is acknowledged:
- a profile upsert after an earlier one (from another batch or stream), so the last value wins;
- a profile upsert, an event or a device token after a delete of that profile, and a delete
  after any of them, so a delete is never undone or overtaken by what came before it;
- a subscription change after an earlier one of the same email address or phone number, so an
  Unsubscribe then Resubscribe (or the reverse) ends as read. As CleverTap's reference does not
  say that the records of one subscribe request are applied in order, an address repeated
  while its stream's batch fills sends that batch first (`ONE_PER_REQUEST`).
Every pair is ordered both ways, so two steps keep it. While batches fill (`Pipeline`), a record
whose identity is in another route's filling batch of a kind it must follow sends that batch
first: no two filling batches of such kinds share an identity, and every batch is handed to
delivery after those holding the records read before its own. Then this barrier holds each
request until the earlier-handed requests it must follow that touch one of its identities are
acknowledged (or have failed for good).

Not ordered: events among themselves (each carries its own time), and events after profile
upserts. CleverTap advises loading profiles first so events attach to known users; an unknown
identity creates the profile (API reference section 3), so an event that overtakes its user's
upsert (both in flight together) ends attached to the full profile once the upsert lands. Holding
each event batch until its users' upserts were acknowledged cost 15% of the throughput of a
mixed profile and event feed (benchmarks/README.md), over the 5% this was allowed.
Device tokens are not ordered against profile upserts or among themselves: CleverTap takes a
token only for a user already known through its SDK (a profile upsert does not create what the
token needs), and adding a token twice, or two tokens of a user, leaves both stored in any order.
Subscription changes are not ordered against profile upserts: they name an address, not a
profile (a different identity space), and apply to every profile sharing it; a profile stream
giving an address that a subscription stream of the same run changes should be loaded first, in
an earlier run (README, "Subscriptions").
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Set
from dataclasses import dataclass

Kind = str  # "profile", "event", "delete", "token" or "subscription"

# (earlier kind, later kind): the later record goes only once the earlier one is acknowledged.
MUST_FOLLOW: frozenset[tuple[Kind, Kind]] = frozenset(
    {
        ("profile", "profile"),
        ("profile", "delete"),
        ("event", "delete"),
        ("delete", "profile"),
        ("delete", "event"),
        ("delete", "delete"),
        ("token", "delete"),
        ("delete", "token"),
        ("subscription", "subscription"),
    }
)
# Kinds whose request names an identity at most once (see above).
ONE_PER_REQUEST: frozenset[Kind] = frozenset({"subscription"})


def must_follow(earlier: Kind, later: Kind) -> bool:
    """Whether a `later` record for an identity must reach CleverTap after an `earlier` one."""
    return (earlier, later) in MUST_FOLLOW


@dataclass(frozen=True)
class Touches:
    """What one batch changes: its kind, the payload key naming identities, and their values."""

    kind: Kind
    identity_key: str
    identities: Set[str]

    def must_follow(self, earlier: Touches) -> bool:
        """Whether this batch must wait for an earlier one."""
        return (
            must_follow(earlier.kind, self.kind)
            and earlier.identity_key == self.identity_key
            and not self.identities.isdisjoint(earlier.identities)
        )


class OrderingBarrier:
    """Holds a request until the earlier ones it must follow are acknowledged."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._numbers = itertools.count()
        self._unacknowledged: dict[int, Touches] = {}

    def enter(self, touches: Touches) -> tuple[int, frozenset[int]]:
        """Register a batch as it is handed to delivery (reading thread, in reading order).

        Returns its number and the numbers of the earlier batches it must wait for.
        """
        with self._changed:
            number = next(self._numbers)
            before = frozenset(
                earlier
                for earlier, other in self._unacknowledged.items()
                if touches.must_follow(other)
            )
            self._unacknowledged[number] = touches
        return number, before

    def wait_for(self, before: frozenset[int]) -> None:
        """Block until none of these batches is unacknowledged (a worker thread, before sending)."""
        if not before:
            return
        with self._changed:
            self._changed.wait_for(lambda: before.isdisjoint(self._unacknowledged))

    def leave(self, number: int) -> None:
        """The batch is acknowledged, or failed for good (then the run stops sending anyway)."""
        with self._changed:
            del self._unacknowledged[number]
            self._changed.notify_all()
