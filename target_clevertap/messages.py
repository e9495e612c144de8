"""Reading Singer messages, with line numbers for every complaint about the input.

Lines are parsed with msgspec (numbers with a fraction become Decimal, as in the SDK's reader),
about ten times faster than the standard library. msgspec keeps the last of duplicate keys
silently, so a line is parsed again strictly when it could hold one: every key is followed by
`":` (with optional spaces), so a line with no more of those than keys parsed has no duplicate.
The parsed keys are counted cheaply first (the message's and those of the objects directly in it:
all of a flat RECORD's), and all of them only when that is fewer than the line writes.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

import msgspec
from singer_sdk.io_base import SingerReader

from target_clevertap.text import json_mistake, shown


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
        return parse_object(line, "a Singer message")

    @staticmethod
    def assert_line_requires(line_dict: dict[str, Any], requires: set[str]) -> None:
        """Refuse a message that lacks keys the Singer spec requires, naming them."""
        if line_dict.keys() >= requires:
            return
        missing = sorted(requires - set(line_dict))
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


def parse_object(line: str, what: str) -> dict[str, Any]:
    """One line of JSON holding an object (`what` names it in the complaint if it is not)."""
    if not line.isascii():
        _require_utf8(line)
    try:
        parsed = _DECODER.decode(line)
        if _may_repeat_a_key(line, parsed):
            parsed = _strict_parse(line)
    except msgspec.DecodeError:
        parsed = _strict_parse(line)
    except RecursionError:
        raise InputError("JSON nested too deeply to read.") from None
    if not isinstance(parsed, dict):
        raise InputError(f"{what} must be a JSON object, not {shown(parsed)}.")
    return parsed


_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_KEY_END = re.compile(r'"\s*:')


def _strict_parse(line: str) -> Any:
    """The standard library's parser: exact error positions, and duplicate keys refused."""
    try:
        return json.loads(
            line, parse_float=decimal.Decimal, object_pairs_hook=_refuse_duplicate_keys
        )
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({json_mistake(exc)}).") from None
    except RecursionError:
        raise InputError("JSON nested too deeply to read.") from None


def _may_repeat_a_key(line: str, message: Any) -> bool:
    """Whether the line writes more keys than `message`, parsed from it, holds."""
    written = _keys_written(line)
    return written > _keys_in_two_levels(message) and written > _key_count(message)


def _keys_written(line: str) -> int:
    """How many `"<spaces>:` the line holds: at least one per key written, never fewer."""
    # A tab or CR anywhere (rare; one memchr each, far faster than searching `"\t`) sends the line
    # to the regex, as a quote followed by one would.
    if '" ' in line or "\t" in line or "\r" in line:
        return len(_KEY_END.findall(line))
    return line.count('":')  # no quote is followed by a space: every key ends in `":`


def _keys_in_two_levels(message: Any) -> int:
    """Keys of the message and of the objects directly in it: `_key_count` or fewer."""
    if type(message) is not dict:
        return 0
    count = len(message)
    for value in message.values():
        if type(value) is dict:
            count += len(value)
    return count


def _key_count(value: Any) -> int:
    """Keys in all the objects of a parsed value."""
    count = 0
    if type(value) is dict:
        count = len(value)
        value = value.values()
    elif type(value) is not list:
        return 0
    for item in value:
        if type(item) is dict or type(item) is list:
            count += _key_count(item)
    return count


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
