"""``POST /1/subscribe``: unsubscribe or resubscribe an email address or phone number.

Written from the API contract (``clevertap-api.md`` §6, §9 and §11 row 21), independently of the
target. The body is ``{"d": [...]}`` with 1 to 1,000 records ``{"type": "email" | "phone",
"value": ..., "status": "Unsubscribe" | "Resubscribe"}``; a body that is not, or holds more, is
answered 400 in CleverTap's envelope. CleverTap applies a record to every profile sharing that
email or phone; the sandbox keeps one row per applied record in the store's ``subscriptions``
table, with the number of stored profiles holding that ``Email`` / ``Phone``.

The answer's shape beyond ``status`` is unverified (the reference marks it L), so the sandbox
answers like an upload: ``status`` ``success``, ``partial`` or ``fail`` (nothing applied),
``processed`` and an ``unprocessed`` item per refused record (``status``, ``code``, ``error``
ending in ``Skipped record number : N`` counted from 1, ``record`` echoed with sorted keys).
Every refused record is listed (``Faults(empty_unprocessed=True)`` leaves them out, to test a
client's handling of records an answer does not account for). The codes are the sandbox's own
choice, since CleverTap documents none for subscribe: 524 for a record that is not an object or
has another ``type`` or ``status``, 515 for an email and 516 for a phone number that is not valid
(the profile rules: ``+`` and 6-15 digits). Only those exact words are accepted (``email``,
``Unsubscribe``, ...), never other spellings.

CleverTap documents no dry run for subscribe: ``dryRun=1`` is ignored and the records are
applied, as for deletes, so a client that counts on it is caught. Credentials, the in-flight
limit (shared with deletes: the budget of the APIs other than upload), latency and faults are
checked as for every endpoint (:mod:`target_clevertap.sandbox.service`); a fault ``match`` sees
the records as sent (``type=email``, ``value=ana@example.com``, ``status=Unsubscribe``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from target_clevertap.sandbox.faults import Faults
from target_clevertap.sandbox.service import ApiRequest, OtherApiService, Reply, per_record_reply
from target_clevertap.sandbox.store import Subscription
from target_clevertap.sandbox.validation import (
    Record,
    RecordError,
    Rules,
    is_email,
    is_phone,
    parse_records_body,
    record_error,
    validate_batch,
)

SUBSCRIBE_PATH = "/1/subscribe"
MAX_SUBSCRIBE_RECORDS = 1000
STATUSES = ("Unsubscribe", "Resubscribe")
# The channel -> the stored profile property holding it and the code for a malformed value.
CHANNELS = {"email": ("Email", 515, is_email), "phone": ("Phone", 516, is_phone)}
SUBJECT = "Subscription"


def check_subscription(record: Any, rules: Rules) -> RecordError | None:
    """Why CleverTap would refuse one record of ``d``, or ``None``."""
    if not isinstance(record, dict) or record.get("type") not in CHANNELS:
        return record_error(524, SUBJECT, "type must be email or phone")
    if record.get("status") not in STATUSES:
        return record_error(524, SUBJECT, "status must be Unsubscribe or Resubscribe")
    channel = record["type"]
    _, code, is_valid = CHANNELS[channel]
    if is_valid(record.get("value")):
        return None
    return record_error(code, SUBJECT, f"value is not a valid {channel}")


class SubscribeService(OtherApiService[list[Any]]):
    def _parse(self, request: ApiRequest) -> list[Any]:
        return parse_records_body(request.body, self._rules, MAX_SUBSCRIBE_RECORDS)

    def _fault_subjects(self, parsed: list[Any]) -> Sequence[Any]:
        return parsed

    def _size(self, parsed: list[Any]) -> int:
        return len(parsed)

    def _process(self, parsed: list[Any], request: ApiRequest, faults: Faults) -> Reply:
        """Apply the valid records (``dryRun`` is ignored) and answer per record."""
        result = validate_batch(parsed, self._rules, check_subscription)
        if self._store is not None and result.accepted:
            self._store.save_subscriptions(
                [_applied(record) for record in result.accepted],
                received_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            )
        return per_record_reply(result, len(parsed), faults, stored=len(result.accepted))


def _applied(record: Record) -> Subscription:
    channel = record["type"]
    return Subscription(channel, record["value"], record["status"], CHANNELS[channel][0])
