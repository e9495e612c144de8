"""``POST /1/upload``: validation and storage of profiles, events and tokens.

The checks before validation (credentials, in-flight limit, latency, body, faults) are those of
every endpoint, in :class:`~target_clevertap.sandbox.service.Service`; then each record is
validated and the batch answered with HTTP 200 and CleverTap's batch envelope.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from target_clevertap.sandbox.faults import Faults
from target_clevertap.sandbox.service import (
    ApiRequest,
    Reply,
    Service,
    per_record_reply,
)
from target_clevertap.sandbox.store import RequestLog
from target_clevertap.sandbox.validation import (
    BatchResult,
    accept,
    parse_upload_body,
    validate_batch,
)


class UploadService(Service[list[Any]]):
    def _limit(self, faults: Faults) -> int:
        return faults.max_concurrent or self._max_concurrent

    def _parse(self, request: ApiRequest) -> list[Any]:
        return parse_upload_body(request.body, self._rules)

    def _fault_subjects(self, parsed: list[Any]) -> Sequence[Any]:
        return parsed

    def _size(self, parsed: list[Any]) -> int:
        return len(parsed)

    def _process(self, parsed: list[Any], request: ApiRequest, faults: Faults) -> Reply:
        result = validate_batch(parsed, self._rules)
        stored = self._save(result, dry_run=request.dry_run)
        return per_record_reply(result, len(parsed), faults, stored=stored)

    def _save(self, result: BatchResult, *, dry_run: bool) -> int:
        if dry_run:
            return 0
        if self._store is not None:
            accepted = [accept(record, self._rules) for record in result.accepted]
            self._store.save(accepted, now=int(time.time()))
        return len(result.accepted)

    def _log(self, request: ApiRequest, reply: Reply, status: int, received_at: str) -> None:
        if self._store is None:
            return
        self._store.log_request(
            RequestLog(
                received_at,
                status,
                reply.records,
                reply.processed,
                request.dry_run,
                request.host,
            )
        )
