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
import sys
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from singer_sdk.exceptions import ConfigValidationError

from target_clevertap.config_sources import ENV_MARKER, UnusableConfig, read_config_files
from target_clevertap.jsonl import dumps_exact
from target_clevertap.ledger import LedgerError
from target_clevertap.rejects import RejectsUnwritable
from target_clevertap.target import TargetClevertap
from target_clevertap.text import json_mistake, why_unreadable

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


class UnusableRejectedFile(Exception):
    """The file to replay cannot be read as a rejected-records file; the message says why."""


def read_rejected(path: Path) -> list[dict[str, Any]]:
    """The lines of a rejected-records file, numbers read exactly; raises UnusableRejectedFile."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableRejectedFile(
            f"The file to replay, '{path}', cannot be read ({why_unreadable(exc)})."
        ) from None
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            lines.append(_rejected_line(path, number, line))
    return lines


def _rejected_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        parsed = json.loads(line, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        why = f"is not JSON ({json_mistake(exc)})"
    else:
        if (
            isinstance(parsed, dict)
            and isinstance(parsed.get("record"), dict)
            and "stream" in parsed
        ):
            return parsed
        why = "has no 'stream' and 'record'"
    raise UnusableRejectedFile(
        f"Line {number} of '{path}' {why}: replay takes a rejected-records file the target "
        "wrote (one JSON object a line, with its 'stream' and 'record')."
    )


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
    try:
        rejected = read_rejected(args.rejected_file)
        target, retry_path = _target(args)
    except (UnusableRejectedFile, RejectsUnwritable, LedgerError) as exc:
        return _refuse([str(exc)])
    except (UnusableConfig, ConfigValidationError) as exc:
        return _refuse(exc.errors)
    target.logger.info(
        "Replaying %d records from %s; records that fail again go to %s.",
        len(rejected),
        args.rejected_file,
        retry_path,
    )
    return target.run(io.StringIO("".join(f"{m}\n" for m in singer_input(rejected))))


def _target(args: argparse.Namespace) -> tuple[TargetClevertap, Path]:
    """The target with the replay's settings, and where records that fail again go."""
    retry_path = args.rejected_records_path or default_retry_path(args.rejected_file)
    config = {**read_config_files(args.config), "rejected_records_path": str(retry_path)}
    target = TargetClevertap(config=config, parse_env_config=ENV_MARKER in args.config)
    return target, retry_path


def _refuse(errors: list[str]) -> int:
    """The replay cannot start: each reason, one line each, and the exit code."""
    for error in errors:
        print(f"target-clevertap-replay: {error}", file=sys.stderr)
    return 1
