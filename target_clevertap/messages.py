"""Reading Singer messages, with line numbers for every complaint about the input."""

from __future__ import annotations

import decimal
import json
from typing import Any

from singer_sdk.io_base import SingerReader

from target_clevertap.values import shown


class InputError(Exception):
    """A line of input that is not a Singer message this target can use."""


class LineCountingReader(SingerReader):
    """The SDK's reader, counting lines so errors can say where the input went wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict[str, Any]:
        """Parse one line; refuse non-JSON, non-objects and duplicate keys with a clear reason."""
        self.line_number += 1
        if not line.isascii():
            _require_utf8(line)
        try:
            message = json.loads(
                line, parse_float=decimal.Decimal, object_pairs_hook=_refuse_duplicate_keys
            )
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno}).") from None
        except RecursionError:
            raise InputError("JSON nested too deeply to read.") from None
        if not isinstance(message, dict):
            raise InputError(f"a Singer message must be a JSON object, not {shown(message)}.")
        return message

    @staticmethod
    def assert_line_requires(line_dict: dict[str, Any], requires: set[str]) -> None:
        """Refuse a message that lacks keys the Singer spec requires, naming them."""
        missing = sorted(requires - set(line_dict))
        if missing:
            kind = line_dict.get("type", "message")
            raise InputError(
                f"the {shown(kind)} message lacks {', '.join(repr(k) for k in missing)}, which "
                "the Singer spec requires; check the tap."
            )

    def _process_unknown_message(self, message_dict: dict[str, Any]) -> None:
        raise InputError(
            f"unknown Singer message type {shown(message_dict.get('type'))}; expected SCHEMA, "
            "RECORD, STATE, ACTIVATE_VERSION or BATCH."
        )


def _require_utf8(line: str) -> None:
    # Undecodable bytes reach us as lone surrogates (Python's surrogateescape on stdin).
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("the line is not UTF-8 text; Singer messages are UTF-8 JSON.") from None


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    message = dict(pairs)
    if len(message) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise InputError(
            f"key {shown(duplicate)} appears twice in one object; which value is meant is unclear."
        )
    return message
