"""``POST /1/delete/profiles.json``: delete profiles, with their events, by identity or by guid.

Written from the API contract (``clevertap-api.md`` §9 and §11 row 21), independently of the
target. The body is a JSON object with exactly one of ``identity`` (custom identities) or ``guid``
(CleverTap IDs, which uploads send as ``objectId``), each a non-empty string or an array of 1 to
100 of them. Anything else is answered 400 in CleverTap's envelope. A valid request deletes the
matching profiles and their events (for guids also their device tokens), keeps a row in the
store's ``deletions`` table and is answered ``{"status": "success"}``, also when nothing matched.

Credentials, the in-flight limit, latency and faults are checked as for every endpoint (see
:mod:`target_clevertap.sandbox.service`); deletes count against the budget of CleverTap's APIs
other than upload (3 per account), not against the 15 of ``/1/upload``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from target_clevertap.sandbox.faults import Faults
from target_clevertap.sandbox.service import (
    ApiRequest,
    OtherApiService,
    Reply,
    encode_json,
)
from target_clevertap.sandbox.validation import (
    MALFORMED,
    MalformedRequestError,
    Rules,
    decode_json,
)

DELETE_PATH = "/1/delete/profiles.json"
MAX_DELETE_VALUES = 100
# The request's key -> the identity key the profiles it names are stored under.
STORED_AS = {"identity": "identity", "guid": "objectId"}
DELETE_TYPE = "delete"  # the ``type`` a fault ``match`` sees for a delete, as in type=delete


@dataclass(frozen=True)
class DeleteAsk:
    """A delete request's body, checked: ``key`` is ``identity`` or ``guid``."""

    key: str
    values: tuple[str, ...]


def parse_delete_body(raw: bytes, rules: Rules) -> DeleteAsk:
    """Return what the body asks to delete or raise :class:`MalformedRequestError`."""
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise MalformedRequestError()
    keys = [key for key in STORED_AS if key in body]
    if len(keys) > 1:
        raise MalformedRequestError(f"{MALFORMED}: send identity or guid, not both")
    if not keys:
        raise MalformedRequestError(f"{MALFORMED}: send identity or guid")
    unknown_keys = sorted(set(body) - set(STORED_AS))
    if rules.strict_keys and unknown_keys:
        raise MalformedRequestError(f"{MALFORMED}: unknown top-level keys {unknown_keys}")
    (key,) = keys
    return DeleteAsk(key, _values(key, body[key]))


def _values(key: str, value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise MalformedRequestError(f"{MALFORMED}: {key} holds no value")
    if len(values) > MAX_DELETE_VALUES:
        raise MalformedRequestError(
            f"{MALFORMED}: at most {MAX_DELETE_VALUES} values are allowed per request, "
            f"got {len(values)}"
        )
    if not all(isinstance(item, str) and item.strip() for item in values):
        raise MalformedRequestError(
            f"{MALFORMED}: {key} must be a non-empty string or an array of them"
        )
    return tuple(values)


def fault_subjects(ask: DeleteAsk) -> list[dict[str, str]]:
    """One record-like object per value, for fault ``match`` filters: ``identity=u-1``,
    ``guid=__g1`` (also ``objectId=__g1``, the name uploads use) or ``type=delete``."""
    return [
        {"type": DELETE_TYPE, ask.key: value, STORED_AS[ask.key]: value} for value in ask.values
    ]


class DeleteService(OtherApiService[DeleteAsk]):
    def _parse(self, request: ApiRequest) -> DeleteAsk:
        return parse_delete_body(request.body, self._rules)

    def _fault_subjects(self, parsed: DeleteAsk) -> Sequence[Any]:
        return fault_subjects(parsed)

    def _size(self, parsed: DeleteAsk) -> int:
        return len(parsed.values)

    def _process(self, parsed: DeleteAsk, request: ApiRequest, faults: Faults) -> Reply:
        """Delete (there is no dry run for deletes: ``dryRun`` is ignored) and answer success;
        ``processed`` is the number of profiles removed."""
        removed = 0
        if self._store is not None:
            deletion = self._store.delete_profiles(
                parsed.key,
                parsed.values,
                identity_key=STORED_AS[parsed.key],
                deleted_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            )
            removed = deletion.profiles_deleted
        return Reply(
            200,
            encode_json({"status": "success"}, spaced=faults.spaced_json),
            records=len(parsed.values),
            processed=removed,
            stored=len(parsed.values),
        )
