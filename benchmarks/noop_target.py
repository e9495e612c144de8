"""A singer-sdk target whose sink does nothing: the framework's own cost, as a floor.

Run with the SDK's default settings: `python benchmarks/noop_target.py < input.jsonl`. Every
record still goes through the SDK's reader, schema validation, date parsing, metrics and state
handling; only the sink's work is left out.

`python benchmarks/noop_target.py --floor < input.jsonl` is the lowest floor: the SDK's msgspec
reader and no record validation, so what is left is the SDK's own per-record path.

`python benchmarks/noop_target.py --like-target < input.jsonl` (c''): the same no-op sink behind
target-clevertap's own reader (`LineCountingReader`) and its own record validation
(`RecordValidator`), so (a) against it is the cost of mapping, batching, HTTP and state.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.sinks import BatchSink

from target_clevertap.messages import LineCountingReader
from target_clevertap.record_validation import RecordValidator


class NoopSink(BatchSink):
    """Accepts every record and every batch, and keeps nothing."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Drop the record."""

    def process_batch(self, context: dict[str, Any]) -> None:
        """Nothing to write."""


class NoopTarget(Target):
    """The SDK's target machinery around a sink that does nothing."""

    name = "target-noop"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = NoopSink


class UnvalidatedNoopSink(NoopSink):
    """Skips record validation, as `validate_records: false` would."""

    @property
    def validate_schema(self) -> bool:
        return False


class FloorNoopTarget(NoopTarget):
    """The no-op target with the SDK's fastest reader and no validation."""

    default_sink_class = UnvalidatedNoopSink
    message_reader_class = MsgSpecReader


class TargetCheckedNoopSink(NoopSink):
    """Checks each record as target-clevertap does (invalid ones are counted, not fatal), then
    drops it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._record_validator = RecordValidator(self.schema, self.stream_name)
        self.invalid_records = 0

    def get_validator(self) -> None:
        """Validation runs in `process_record`, as in target-clevertap's sink."""

    def _validate_and_parse(self, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Check the record against the SCHEMA; drop it."""
        if self._record_validator.violation(record) is not None:
            self.invalid_records += 1


class TargetReaderNoopTarget(NoopTarget):
    """The no-op target with target-clevertap's reader and record validation."""

    default_sink_class = TargetCheckedNoopSink
    message_reader_class = LineCountingReader


TARGETS: dict[str, type[NoopTarget]] = {
    "--floor": FloorNoopTarget,
    "--like-target": TargetReaderNoopTarget,
}

if __name__ == "__main__":
    target: type[NoopTarget] = NoopTarget
    if sys.argv[1:2] and sys.argv[1] in TARGETS:
        target = TARGETS[sys.argv.pop(1)]
    target.cli()
