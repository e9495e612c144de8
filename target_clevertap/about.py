"""What `--about` says about the settings: each one's description, default and whether it is
required; the settings singer-sdk adds that do nothing in this target are left out, and a run
that sets one of them warns that it does nothing.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from typing import Any

from singer_sdk.about import AboutInfo, TextFormatter

# The SDK's built-in target settings that this target does not use, and why.
UNUSED_SDK_SETTINGS: dict[str, str] = {
    "load_method": ("CleverTap merges profiles and appends events, whatever the load method says"),
    "batch_config": (
        "the target reads the files a BATCH message names from their own file:// URLs; "
        "batch_config is the tap's setting"
    ),
    "faker_config": (
        "the Faker package, which stream map expressions would need for `fake`, is not "
        "installed with target-clevertap"
    ),
}


def without_unused_settings(schema: dict[str, Any]) -> None:
    """Remove the SDK's settings that do nothing here from a settings schema."""
    for name in UNUSED_SDK_SETTINGS:
        schema["properties"].pop(name, None)


def unused_setting_warnings(config: Mapping[str, Any]) -> list[str]:
    """A sentence for each setting given that does nothing in this target."""
    given = [name for name in UNUSED_SDK_SETTINGS if config.get(name) is not None]
    if "faker_config" in given and importlib.util.find_spec("faker") is not None:
        given.remove("faker_config")
    return [
        f"Setting '{name}' does nothing in target-clevertap: {UNUSED_SDK_SETTINGS[name]}; "
        "remove it."
        for name in given
    ]


def about_text(info: AboutInfo) -> str:
    """The plain `--about`: the SDK's text, with each setting's description, default and whether
    it is required."""
    head, _, _ = TextFormatter().format_about(info).partition("\nSettings:\n")
    schema = info.settings
    required = set(schema.get("required", []))
    lines = [head, "Settings:"]
    for name, setting in schema.get("properties", {}).items():
        lines += [
            f"  - Name: {name}",
            f"    Required: {'yes' if name in required else 'no'}",
            f"    Default: {_default(setting)}",
            f"    Type: {setting.get('type')}",
            f"    Environment Variable: {info.env_var_prefix}{name.upper()}",
            f"    Description: {setting.get('description', '')}",
        ]
    return "\n".join(lines) + "\n"


def _default(setting: Mapping[str, Any]) -> str:
    return json.dumps(setting["default"]) if "default" in setting else "none"
