"""One stream's sink: validate each record, map it, hand the result to the pipeline.

The pipeline batches and sends; the sink holds no records. Its `current_size` and
`process_batch` let the SDK's drains (end of input, max record age, a new SCHEMA) send the
stream's partial batches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from singer_sdk import metrics
from singer_sdk.sinks import BatchSink

from target_clevertap.delivery import Route
from target_clevertap.event_keys import EventKeys
from target_clevertap.lanes import DELETES, DEVICE_TOKENS, SUBSCRIPTIONS, UPLOADS
from target_clevertap.mapping import (
    Notice,
    Payload,
    RecordMapper,
    Rejection,
    deletion,
    device_token,
    identity_of,
    subscription,
)
from target_clevertap.plan import DELETABLE_BY, StreamPlan, plan_stream
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
    """Maps a stream's records to CleverTap profiles or events."""

    def __init__(
        self,
        target: TargetClevertap,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        self.plan = plan_stream(target.config, stream_name, schema)
        self._map = _mapper(self.plan, self._hear)
        # Records linked by their CleverTap ID may not name the identity the ordering follows.
        self._linked = self.plan.object_id_field is not None
        super().__init__(target, stream_name, schema, key_properties)
        self._pipeline = target.pipeline
        self._route = _route(self.plan, self._pipeline.event_keys(self.plan))
        identity_type = self.plan.identity_type
        self._deletes = Route(
            stream_name, DELETES, "delete", identity_type, DELETABLE_BY.get(identity_type, "")
        )
        self._record_validator = (
            RecordValidator(schema, stream_name) if self.validate_schema else None
        )
        self._required_keys = frozenset(self.key_properties)

    def setup(self) -> None:
        """Say, once per stream, how its records are read, and warn of a missing event name."""
        self.logger.info(self.plan.describe())
        for note in self.plan.notes:
            self.logger.info(note)
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
    def current_size(self) -> int:
        """Records of this stream read and not yet handed to delivery."""
        return self._pipeline.buffered(self.stream_name)

    @property
    def is_full(self) -> bool:
        """Never: the pipeline sends each batch as soon as it is full."""
        return False

    def get_validator(self) -> None:
        """Validation runs in `process_record`, so an invalid record is rejected, not fatal."""

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        # The SDK raises (or logs a traceback) on an invalid record and parses date strings into
        # datetimes; `process_record` checks the record itself, and the mapping reads dates as
        # text.
        return record

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """The SDK's record path (mapped, filtered or flattened streams): check, map, hand on."""
        del context
        self._hand_on(record)

    def process_passed_through(self, record: dict[str, Any]) -> None:
        """The target's lean record path: the SDK's per-record steps that matter here, in one call.

        In the SDK's order: `_sdc_` keys removed, key properties required, the record tallied,
        checked, mapped and handed on, and counted. Skipped, as no-ops for this sink: the batch
        context, `preprocess_record` and `_after_process_record` (a debug line).
        """
        if not _SDC_KEYS.isdisjoint(record):
            self._remove_sdc_metadata_from_record(record)
        if not record.keys() >= self._required_keys:
            self._singer_validate_message(record)  # raises MissingKeyPropertiesError
        self.tally_record_read()
        self._hand_on(record)
        self.record_counter_metric.value += 1  # logged by the target's clock check

    def delete(self, record: Mapping[str, Any]) -> None:
        """A row marked deleted, on a stream whose `on_delete` is `delete`: only its identity
        matters, so it is not checked against the SCHEMA (deletion rows often hold only keys)."""
        self._pipeline.accept(self._deletes, record, deletion(record, self.plan))

    def _hand_on(self, record: dict[str, Any]) -> None:
        if self.plan.kind == "delete":
            self.delete(record)
            return
        validator = self._record_validator
        violation = None if validator is None else validator.violation(record)
        result = self._map(record) if violation is None else Rejection("schema_invalid", violation)
        if self._linked and not isinstance(result, Rejection):
            identity = identity_of(record, self.plan)
            self._pipeline.accept(self._route, record, result, identity=identity)
            return
        self._pipeline.accept(self._route, record, result)

    def _hear(self, notice: Notice) -> None:
        """What the mapper says about records it still sent: in the summary, or logged now."""
        if notice.summarised:
            self._pipeline.note(self.stream_name, notice.text)
        else:
            self.logger.warning("%s", notice.text)

    def process_batch(self, context: dict[str, Any]) -> None:
        """The SDK drains this stream: hand its partial batches to delivery."""
        del context
        self._pipeline.send_buffered(self.stream_name)

    def get_batch_processing_timer(self) -> metrics.Timer:
        """The SDK's timer of each drain, logged at DEBUG (see `DebugTimer`)."""
        return DebugTimer(
            metrics.Metric.BATCH_PROCESSING_TIME, tags={metrics.Tag.STREAM: self.stream_name}
        )


class DebugTimer(metrics.Timer):
    """A METRIC timer line at DEBUG: a drain only hands a partial batch to delivery, so its time
    says nothing about sending; the per-batch request lines are at DEBUG too."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        failed = exc_type is not None
        self.tags.setdefault(
            metrics.Tag.STATUS, metrics.Status.FAILED if failed else metrics.Status.SUCCEEDED
        )
        point = metrics.Point("timer", self.metric, self.elapsed(), self.tags)
        self.logger.debug("METRIC: %s", point)


# What the subscribe endpoint names instead of a profile: an email address or phone number.
SUBSCRIBED_ADDRESS = "address"


def _route(plan: StreamPlan, keys: EventKeys | None) -> Route:
    """Where a stream's mapped records go (a delete stream's go to `CleverTapSink.delete`);
    `keys`: an event stream's ledger keys, when there is a ledger."""
    if plan.kind == "token":
        return Route(plan.stream, DEVICE_TOKENS, "token", plan.identity_type, plan.identity_type)
    if plan.kind == "subscription":
        return Route(plan.stream, SUBSCRIPTIONS, "subscription", SUBSCRIBED_ADDRESS, "value")
    return Route(plan.stream, UPLOADS, plan.kind, plan.identity_type, plan.identity_type, keys=keys)


def _mapper(
    plan: StreamPlan, hear: Callable[[Notice], None]
) -> Callable[[Mapping[str, Any]], Payload | Rejection]:
    """The function mapping the stream's records (profiles and events learn keys as they go;
    `hear` takes what the mapper notes about records it still sends)."""
    if plan.kind == "token":
        return functools.partial(device_token, plan=plan)
    if plan.kind == "subscription":
        return functools.partial(subscription, plan=plan)
    return RecordMapper(plan, hear).map
