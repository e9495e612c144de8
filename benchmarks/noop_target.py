"""A singer-sdk target whose sink does nothing: the framework's own cost, as a floor.

Run with the SDK's default settings: `python benchmarks/noop_target.py < input.jsonl`. Every
record still goes through the SDK's reader, schema validation, date parsing, metrics and state
handling; only the sink's work is left out.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
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


if __name__ == "__main__":
    NoopTarget.cli()
