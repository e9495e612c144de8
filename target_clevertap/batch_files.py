"""BATCH messages: the records of a tap's batch files, read line by line.

A tap with the SDK's `batch_config` writes records to JSON Lines files (plain or gzip) and sends
one BATCH message naming them (`manifest`, a list of `file://` URLs). The target reads each file
line by line and hands every record to its own record loop, exactly as if it had arrived in a
RECORD message: stream maps, `_sdc_` handling, validation, mapping, rejects, the reader's window
and the checkpoint all apply, in order. Anything this cannot read stops the run with a reason
naming the file (and its line): other formats (Parquet), other compressions, remote storage, a
missing file, a malformed line.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from target_clevertap.messages import InputError, parse_object
from target_clevertap.text import shown

COMPRESSIONS = ("none", "gzip")


def batch_records(message: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every record of every file of a BATCH message, in manifest and line order."""
    compression = _compression(message["encoding"])
    manifest = message["manifest"]
    if not isinstance(manifest, list) or not all(isinstance(url, str) for url in manifest):
        raise InputError(
            f"the BATCH message's manifest must be a list of file URLs, not {shown(manifest)}."
        )
    for url in manifest:
        yield from _records_in(url, compression)


def _compression(encoding: Any) -> str:
    if not isinstance(encoding, Mapping):
        raise InputError(f"the BATCH message's encoding must be an object, not {shown(encoding)}.")
    if encoding.get("format") != "jsonl":
        raise InputError(
            f"the BATCH message's files are {shown(encoding.get('format'))}; this target reads "
            "JSON Lines batch files only: set the tap's batch_config encoding format to jsonl."
        )
    compression = encoding.get("compression") or "none"
    if compression not in COMPRESSIONS:
        raise InputError(
            f"the BATCH message's files use compression {shown(compression)}; this target reads "
            "plain or gzip JSON Lines only."
        )
    return str(compression)


def _records_in(url: str, compression: str) -> Iterator[dict[str, Any]]:
    path = _local_path(url)
    number = 0
    try:
        with _open(path, compression) as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield _record(line, url, number)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        where = f" at line {number + 1}" if number else ""
        raise InputError(f"BATCH file {url}{where} cannot be read ({_reason(exc)}).") from None


def _record(line: str, url: str, number: int) -> dict[str, Any]:
    try:
        return parse_object(line, "a record")
    except InputError as exc:
        raise InputError(f"BATCH file {url} line {number}: {exc}") from None


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise InputError(
            f"BATCH file {shown(url)} is not a local file:// URL; this target reads batch files "
            "from this machine only (set the tap's batch_config storage root to a file:// path)."
        )
    return Path(unquote(parts.path))


def _open(path: Path, compression: str) -> IO[str]:
    if compression == "gzip":
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return path.open(encoding="utf-8", newline="\n")


def _reason(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(error) or type(error).__name__
