"""`target-clevertap --about`, as a person or Meltano reads it: each setting with its description,
default and whether it is required; none of the SDK's settings that do nothing here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests import singer
from tests.process import run_target, write_config

UNUSED = ("load_method", "batch_config", "faker_config")


def _about(*args: str) -> str:
    done = run_target(["--about", *args])
    assert done.exit_code == 0, done.stderr
    return done.stdout


def test_plain_about_gives_each_setting_its_description_default_and_whether_required() -> None:
    text = _about()
    settings = dict(re.findall(r"  - Name: (\S+)\n((?:    .*\n)+)", text))

    assert set(settings) >= {"account_id", "passcode", "batch_size_rows", "stream_maps"}
    for name, lines in settings.items():
        assert re.search(r"    Required: (yes|no)\n", lines), name
        assert re.search(r"    Default: \S", lines), name
        assert re.search(r"    Description: \S.{10,}", lines), name
    assert "Required: yes" in settings["account_id"]
    assert "Required: yes" in settings["passcode"]
    assert "Required: no" in settings["region"]
    assert "Default: 1000\n" in settings["batch_size_rows"]
    assert "Default: 30.0\n" in settings["progress_interval_seconds"]
    assert not set(UNUSED) & set(settings)


def test_markdown_about_has_a_default_and_description_per_row() -> None:
    rows = [line for line in _about("--format=markdown").splitlines() if line.startswith("| ")]
    cells = {row.split("|")[1].strip(): row.split("|")[2:5] for row in rows[1:]}

    assert cells["batch_size_rows"][1].strip() == "1000"
    assert cells["account_id"][0].strip() == "True"
    assert all(description.strip() for _, _, description in cells.values())
    assert not {name.split(".")[0] for name in cells} & set(UNUSED)


def test_json_about_declares_defaults_descriptions_and_the_required_settings() -> None:
    schema: dict[str, Any] = json.loads(_about("--format=json"))["settings"]
    properties = schema["properties"]

    assert schema["required"] == ["account_id", "passcode"]
    assert properties["batch_size_rows"]["default"] == 1000
    assert properties["validate_records"]["default"] is True
    assert all(setting.get("description") for setting in properties.values())
    assert not set(UNUSED) & set(properties)


def test_a_setting_that_does_nothing_here_is_named_in_a_warning(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    config = write_config(tmp_path, {**settings, "load_method": "overwrite"})
    done = run_target(["--config", str(config)], singer.users_then_state(2, {"n": 2}))

    assert done.exit_code == 0, done.stderr
    assert (
        "Setting 'load_method' does nothing in target-clevertap: CleverTap merges profiles and "
        "appends events, whatever the load method says; remove it." in done.stderr
    )
