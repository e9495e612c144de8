"""Microseconds per record of each step of target-clevertap's reading thread, without a profiler.

    .venv/bin/python benchmarks/stages.py [--records 20000]

Each step runs alone over the same generated records (best of 3), so the numbers add up to
roughly the target's CPU per record minus the SDK's own per-record work and startup. Alternatives
(a reused decoder, orjson, msgspec when installed, the SDK's default validator) are timed beside
the current code to size the suggestions in the profile report.
"""

from __future__ import annotations

import argparse
import copy
import decimal
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import orjson
from singer_input import SCHEMA, STREAM, STREAM_SETTINGS, messages
from singer_sdk.sinks.core import JSONSchemaValidator

from target_clevertap import preflight, values
from target_clevertap.mapping import RecordMapper
from target_clevertap.messages import LineCountingReader
from target_clevertap.plan import plan_stream
from target_clevertap.record_validation import RecordValidator
from target_clevertap.report import RunReport

ROUNDS = 3
BATCH_ROWS = 1_000


@dataclass(frozen=True)
class Inputs:
    """The same records as input lines, parsed dicts and mapped payloads."""

    lines: list[str]
    records: list[dict[str, Any]]
    payloads: list[dict[str, Any]]


def prepare(count: int) -> Inputs:
    lines = [
        orjson.dumps(message).decode()
        for message in messages(count, state_every=count + 1)
        if message["type"] == "RECORD"
    ]
    reader = LineCountingReader()
    records = [reader.deserialize_json(line)["record"] for line in lines]
    plan = plan_stream({"streams": STREAM_SETTINGS}, STREAM, SCHEMA)
    mapper = RecordMapper(plan)
    payloads = [mapper.map(record) for record in records]
    return Inputs(lines, records, payloads)  # type: ignore[arg-type]


Step = Callable[[Inputs], object]


def _each(function: Callable[[Any], object], field: str) -> Step:
    def step(inputs: Inputs) -> None:
        for item in getattr(inputs, field):
            function(item)

    return step


def _phone(record: dict[str, Any]) -> str:
    return values.phone_e164(record["phone"], "phone", None)


def _national_phone(record: dict[str, Any]) -> str:
    return values.phone_e164("(415) 555-2671", "phone", "US")


def _timestamp(record: dict[str, Any]) -> int:
    return values.epoch_seconds(record["updated_at"], "updated_at")


def _encode_batches(inputs: Inputs) -> None:
    payloads = inputs.payloads
    for start in range(0, len(payloads), BATCH_ROWS):
        orjson.dumps({"d": payloads[start : start + BATCH_ROWS]})


def _msgspec_decode() -> Callable[[str], object] | None:
    try:
        import msgspec  # noqa: PLC0415 (optional: only if installed)
    except ImportError:
        return None
    return msgspec.json.Decoder(float_hook=decimal.Decimal).decode


def steps() -> list[tuple[str, Step]]:
    """(name, step) pairs; the indented names are parts or alternatives of the one above."""
    plan = plan_stream({"streams": STREAM_SETTINGS}, STREAM, SCHEMA)
    check = fastjsonschema.compile(SCHEMA, use_default=False, use_formats=False)
    report = RunReport()
    decoder = json.JSONDecoder(parse_float=decimal.Decimal)
    found = [
        (
            "read: LineCountingReader.deserialize_json",
            _each(LineCountingReader().deserialize_json, "lines"),
        ),
        (
            "  alt: one reused JSONDecoder(parse_float=Decimal), no duplicate-key hook",
            _each(decoder.decode, "lines"),
        ),
        ("  alt: orjson.loads (floats, not Decimals)", _each(orjson.loads, "lines")),
        (
            "validate: RecordValidator.violation (CleverTapSink)",
            _each(RecordValidator(SCHEMA, STREAM).violation, "records"),
        ),
        ("  part: fastjsonschema, every record checked in full", _each(check, "records")),
        (
            "  alt: SDK default validator (jsonschema; the no-op target)",
            _each(JSONSchemaValidator(SCHEMA).validate, "records"),
        ),
        ("SDK: copy.copy(record) (one of its per-record steps)", _each(copy.copy, "records")),
        ("map: RecordMapper.map, whole", _each(RecordMapper(plan).map, "records")),
        ("  part: phone_e164, E.164 input like the generated records", _each(_phone, "records")),
        (
            "  part: phone_e164, national input and default region US",
            _each(_national_phone, "records"),
        ),
        ("  part: epoch_seconds(updated_at) (ISO-8601 text)", _each(_timestamp, "records")),
        (
            "  part: preflight.data_surely_fits (the quick look)",
            _each(lambda p: preflight.data_surely_fits(p["profileData"], 256), "payloads"),
        ),
        (
            "  alt: preflight.first_problem (the full check, when the quick look fails)",
            _each(preflight.first_problem, "payloads"),
        ),
        (
            "report: RunReport.received",
            _each(lambda r: report.received(STREAM), "records"),
        ),
        ("send: orjson.dumps of 1000-record bodies (upload threads)", _encode_batches),
    ]
    decode = _msgspec_decode()
    if decode is not None:
        found.insert(3, ("  alt: msgspec Decoder(float_hook=Decimal)", _each(decode, "lines")))
    return found


def time_step(step: Step, inputs: Inputs) -> float:
    """Best of ROUNDS, in microseconds per record."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        step(inputs)
        best = min(best, time.perf_counter() - started)
    return best / len(inputs.records) * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args(argv)
    inputs = prepare(args.records)
    print(f"| step ({args.records:,} records, best of {ROUNDS}) | µs/record |\n| --- | ---: |")
    for name, step in steps():
        label = name.replace("  ", "&nbsp;&nbsp;", 1) if name.startswith("  ") else name
        print(f"| {label} | {time_step(step, inputs):.1f} |")


if __name__ == "__main__":
    main()
