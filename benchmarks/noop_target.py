"""A singer-sdk target whose sink does nothing: the framework's own cost, as a floor.

Run with the SDK's default settings: `python benchmarks/noop_target.py < input.jsonl`. Every
record still goes through the SDK's reader, schema validation, date parsing, metrics and state
handling; only the sink's work is left out.

`python benchmarks/noop_target.py --floor < input.jsonl` is the lowest floor: the SDK's msgspec
reader and no record validation, so what is left is the SDK's own per-record path.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.sinks import BatchSink


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


if __name__ == "__main__":
    floor = sys.argv[1:2] == ["--floor"]
    if floor:
        del sys.argv[1]
    (FloorNoopTarget if floor else NoopTarget).cli()
