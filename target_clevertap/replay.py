"""Resend the records of a rejected-records file, after the cause was fixed.

`target-clevertap-replay rejected.jsonl --config config.json` turns the file back into Singer
messages (one SCHEMA per stream, inferred from the records, then the original input records) and
runs the target on them with the same mapping and reporting. Records that fail again go to a new
rejected-records file, never to the one being replayed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from singer_sdk.plugin_base import _ConfigInput

from target_clevertap.jsonl import dumps_exact
from target_clevertap.target import TargetClevertap

_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def singer_input(rejected: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Singer messages for the rejected records: a SCHEMA per stream, then its RECORDs in order."""
    by_stream: dict[str, list[Mapping[str, Any]]] = {}
    for line in rejected:
        by_stream.setdefault(str(line["stream"]), []).append(line["record"])
    for stream, records in by_stream.items():
        yield dumps_exact({"type": "SCHEMA", "stream": stream, "schema": inferred_schema(records)})
        for record in records:
            yield dumps_exact({"type": "RECORD", "stream": stream, "record": record})


def inferred_schema(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A permissive schema that marks a property as a date when all its values are ISO dates.

    The original SCHEMA is not in the rejected file; the date marks keep `$D_` conversions.
    """
    keys = dict.fromkeys(key for record in records for key in record)
    properties: dict[str, Any] = {}
    for key in keys:
        present = [r[key] for r in records if r.get(key) is not None]
        is_date = bool(present) and all(isinstance(v, str) and _ISO_DATE.match(v) for v in present)
        properties[key] = {"type": ["string", "null"], "format": "date-time"} if is_date else {}
    return {"type": "object", "properties": properties}


def read_rejected(path: Path) -> list[dict[str, Any]]:
    """The lines of a rejected-records file, numbers read exactly."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


def default_retry_path(path: Path) -> Path:
    """Where records that fail again go unless told otherwise."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return path.with_name(f"{path.stem}.replay-{stamp}.jsonl")


def main(argv: list[str] | None = None) -> int:
    """Console entry: replay a rejected-records file through the target."""
    parser = argparse.ArgumentParser(
        prog="target-clevertap-replay",
        description="Resend the records of a rejected-records file with the current settings.",
    )
    parser.add_argument("rejected_file", type=Path)
    parser.add_argument("--config", action="append", default=[], help="config file, or ENV")
    parser.add_argument(
        "--rejected-records-path",
        type=Path,
        help="where records that fail again go (default: <file>.replay-<time>.jsonl)",
    )
    args = parser.parse_args(argv)
    rejected = read_rejected(args.rejected_file)
    settings = _ConfigInput.from_cli_args(*args.config)
    retry_path = args.rejected_records_path or default_retry_path(args.rejected_file)
    config = {**settings.config, "rejected_records_path": str(retry_path)}
    target = TargetClevertap(config=config, parse_env_config=settings.parse_env)
    target.logger.info(
        "Replaying %d records from %s; records that fail again go to %s.",
        len(rejected),
        args.rejected_file,
        retry_path,
    )
    return target.run(io.StringIO("".join(f"{m}\n" for m in singer_input(rejected))))
