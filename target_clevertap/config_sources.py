"""Where the settings come from: `--config` files and `TARGET_CLEVERTAP_*` variables.

A file that is missing or not JSON, or a variable that does not hold its setting's type, is a
person's mistake: it gets one sentence naming the file (with the line and column) or the
variable, never a traceback. Variables are parsed by the SDK (its `.env` lookup included), one
setting at a time so a failure names its variable; this module adds the checks the SDK skips
(`number` settings, which the SDK leaves as text, and booleans, which it reads as false
whatever the text).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from singer_sdk.configuration._dict_config import parse_environment_config

from target_clevertap.text import json_mistake, shown, why_unreadable

ENV_MARKER = "ENV"  # `--config ENV` reads the settings from the environment
TRUE_WORDS = ("true", "1", "yes", "on")  # the SDK's
FALSE_WORDS = ("false", "0", "no", "off", "")


class UnusableConfig(Exception):
    """Settings that cannot be read; `errors` holds one sentence per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(" ".join(errors))
        self.errors = errors


def read_config_files(paths: Iterable[str]) -> dict[str, Any]:
    """The settings of the `--config` files, later files overriding earlier ones (as the SDK)."""
    config: dict[str, Any] = {}
    for path in paths:
        if path != ENV_MARKER:
            config |= _read_config_file(path)
    return config


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnusableConfig(
            [
                f"Config file '{path}' does not exist: give the path of a JSON settings file, "
                f"or --config {ENV_MARKER} to read TARGET_CLEVERTAP_* variables."
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableConfig(
            [f"Config file '{path}' cannot be read ({why_unreadable(exc)})."]
        ) from None
    try:
        config = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise UnusableConfig(
            [f"Config file '{path}' is not valid JSON ({json_mistake(exc, with_line=True)})."]
        ) from None
    if not isinstance(config, dict):
        raise UnusableConfig(
            [
                f"Config file '{path}' holds {shown(config, 40)}, not the JSON object of "
                'settings it must hold (e.g. {"account_id": "...", "passcode": "..."}).'
            ]
        )
    return config


def environment_config(schema: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The settings given as environment variables `<prefix><SETTING>`, each of its type."""
    config: dict[str, Any] = {}
    errors: list[str] = []
    for setting, setting_schema in schema.get("properties", {}).items():
        variable = prefix + setting.upper().replace("-", "_")
        try:
            parsed = parse_environment_config({"properties": {setting: setting_schema}}, prefix)
            if setting in parsed:
                config[setting] = _checked(parsed[setting], setting_schema, os.environ[variable])
        except ValueError:
            errors.append(_wrong_type(variable, setting, setting_schema))
    if errors:
        raise UnusableConfig(errors)
    return config


def _checked(parsed: Any, schema: Mapping[str, Any], text: str) -> Any:
    """The SDK's value, or the number the text holds; ValueError where the SDK guessed."""
    types = _types(schema)
    if "boolean" in types and text.strip().lower() not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(text)
    if "number" in types:
        number = json.loads(text, parse_float=Decimal)  # a config file's types: int or Decimal
        if isinstance(number, bool) or not isinstance(number, (int, Decimal)):
            raise ValueError(text)
        return number
    return parsed


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _wrong_type(variable: str, setting: str, schema: Mapping[str, Any]) -> str:
    text = os.environ.get(variable, "")
    types = _types(schema)
    if "integer" in types:
        expected = "a whole number"
    elif "number" in types:
        expected = "a number"
    elif "boolean" in types:
        pairs = zip(TRUE_WORDS[1:], FALSE_WORDS[1:4], strict=True)
        expected = f"true or false (or {', '.join(f'{yes}/{no}' for yes, no in pairs)})"
    else:  # JSON text (an object or a list): its mistake, not its content, which may be private
        return (
            f"Environment variable {variable} is not valid JSON{_json_mistake_in(text)}; "
            f"setting '{setting}' takes JSON text."
        )
    return (
        f"Environment variable {variable} is {shown(text, 40)}; setting '{setting}' takes "
        f"{expected}."
    )


def _json_mistake_in(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        multiline = "\n" in text
        return f" ({json_mistake(exc, with_line=multiline)})"
    return ""
