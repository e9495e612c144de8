"""One stream's sink: validate, map, buffer up to a batch, hand the batch to delivery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_clevertap.config import batch_rows, plan_stream
from target_clevertap.delivery import Batch
from target_clevertap.mapping import Rejection, mapper_for
from target_clevertap.record_validation import RecordValidator

if TYPE_CHECKING:
    from target_clevertap.target import TargetClevertap

# The keys `Sink._remove_sdc_metadata_from_record` pops: checked first, as records seldom hold any.
_SDC_KEYS = frozenset(
    {
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_deleted_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    }
)


class CleverTapSink(BatchSink):
    """Maps a stream's records to CleverTap profiles or events and batches them."""

    def __init__(
        self,
        target: TargetClevertap,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self.plan = plan_stream(target.config, stream_name, schema)
        self._mapper = mapper_for(self.plan)
        super().__init__(target, stream_name, schema, key_properties)
        self._pipeline = target.pipeline
        self._record_validator = (
            RecordValidator(schema, stream_name) if self.validate_schema else None
        )
        self._required_keys = frozenset(self.key_properties)
        self._invalid_reason: str | None = None
        self._payloads: list[dict[str, Any]] = []
        self._records: list[Mapping[str, Any]] = []
        self._span: int | None = None
        self._max_size = batch_rows(target.config)

    @property
    def open_span(self) -> int | None:
        """The checkpoint span of the buffered records, if any are buffered."""
        return self._span

    def setup(self) -> None:
        """Say, once per stream, how its records are read, and warn of a missing event name."""
        self.logger.info(self.plan.describe())
        if self.plan.kind == "event" and not self.plan.event_name:
            field = self.plan.event_name_field
            if field not in self.schema.get("properties", {}):
                self.logger.warning(
                    "Stream '%s' is an event stream, but its SCHEMA has no '%s' property: "
                    "records without it will be rejected; set 'event_name' or "
                    "'event_name_field' in its 'streams' entry.",
                    self.stream_name,
                    field,
                )

    @property
    def max_size(self) -> int:
        """Records per request: `batch_size_rows` clamped to CleverTap's 1..1000."""
        return self._max_size

    @property
    def current_size(self) -> int:
        """Records buffered for the next request."""
        return len(self._payloads)

    @property
    def is_full(self) -> bool:
        """The SDK's test, without its two property look-ups per record."""
        return len(self._payloads) >= self._max_size

    def get_validator(self) -> None:
        """Validation runs in `_schema_violation` so an invalid record is rejected, not fatal."""

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # The SDK raises (or logs a traceback) on an invalid record and parses date strings into
        # datetimes; we note the reason so process_record rejects just that record, and leave
        # dates as text for the mapping, which reads both.
        self._invalid_reason = self._schema_violation(record)
        return record

    def _schema_violation(self, record: dict[str, Any]) -> str | None:
        return None if self._record_validator is None else self._record_validator.violation(record)

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """The SDK's record path: `_validate_and_parse` has just checked this record."""
        del context
        self._buffer(record, self._invalid_reason)

    def take(self, record: dict[str, Any]) -> None:
        """The target's lean record path: the SDK's per-record steps that matter here, in one call.

        In the SDK's order: `_sdc_` keys removed, the record validated, key properties required,
        the record tallied, then rejected or buffered, and counted. Skipped, as no-ops for this
        sink: the batch context, `preprocess_record` and `_after_process_record` (a debug line).
        """
        if not _SDC_KEYS.isdisjoint(record):
            self._remove_sdc_metadata_from_record(record)
        reason = self._schema_violation(record)
        if not record.keys() >= self._required_keys:
            self._singer_validate_message(record)  # raises MissingKeyPropertiesError
        self.tally_record_read()
        self._buffer(record, reason)
        self.record_counter_metric.value += 1  # logged by the target's clock check

    def _buffer(self, record: dict[str, Any], invalid_reason: str | None) -> None:
        """Map one record: reject it with its reason, or buffer it for the next batch."""
        position = self._pipeline.checkpoint.next_record()
        self._pipeline.hold_window(position)
        self._pipeline.report.received(self.stream_name)
        if invalid_reason is not None:
            result: dict[str, Any] | Rejection = Rejection("schema_invalid", invalid_reason)
        else:
            result = self._mapper.map(record)
        if isinstance(result, Rejection):
            self._pipeline.reject_locally(self.stream_name, record, result)
            return
        if self._span is None:
            self._span = self._pipeline.checkpoint.open_span(position)
        self._payloads.append(result)
        self._records.append(record)

    def process_batch(self, context: dict[str, Any]) -> None:
        """Hand the buffered records to delivery; returns as soon as they are queued."""
        del context
        if self._span is None:
            return
        batch = Batch(self.stream_name, self._payloads, self._records, self._span)
        self._payloads, self._records, self._span = [], [], None
        self._pipeline.send(batch)
