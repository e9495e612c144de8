"""The Meltano Hub definition kept in the repository (plugin/loaders/target-clevertap.yml) says
what `--about` says, and gives `meltano add` users the settings the repository's meltano.yml
declares: the same names, kinds, labels and sensitivity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.process import run_target

REPOSITORY = Path(__file__).resolve().parents[1]
DEFINITION = REPOSITORY / "plugin" / "loaders" / "target-clevertap.yml"
REGENERATE = "run `.venv/bin/python scripts/hub_definition.py --write` and commit the file"


@pytest.fixture(scope="module")
def hub() -> dict[str, Any]:
    plugin: dict[str, Any] = yaml.safe_load(DEFINITION.read_text(encoding="utf-8"))
    return plugin


@pytest.fixture(scope="module")
def hub_settings(hub: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {setting["name"]: setting for setting in hub["settings"]}


@pytest.fixture(scope="module")
def about() -> dict[str, Any]:
    done = run_target(["--about", "--format=json"])
    assert done.exit_code == 0, done.stderr
    about: dict[str, Any] = json.loads(done.stdout)
    return about


@pytest.fixture(scope="module")
def loader() -> dict[str, Any]:
    """The loader's entry in the repository's meltano.yml."""
    project = yaml.safe_load((REPOSITORY / "meltano.yml").read_text(encoding="utf-8"))
    entry: dict[str, Any] = next(
        p for p in project["plugins"]["loaders"] if p["name"] == "target-clevertap"
    )
    return entry


@pytest.fixture(scope="module")
def meltano_settings(loader: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {setting["name"]: setting for setting in loader["settings"]}


def test_the_definition_file_is_what_the_script_makes_of_about_and_meltano_yml() -> None:
    done = subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "hub_definition.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr


def test_the_definition_says_what_about_says(
    hub: dict[str, Any], hub_settings: dict[str, dict[str, Any]], about: dict[str, Any]
) -> None:
    properties = about["settings"]["properties"]

    assert list(hub_settings) == list(properties), REGENERATE
    for name, prop in properties.items():
        setting = hub_settings[name]
        assert setting["description"] == prop["description"], f"{name}: {REGENERATE}"
        assert setting.get("value") == prop.get("default"), f"{name}: {REGENERATE}"
        assert setting.get("sensitive", False) == prop.get("secret", False), name
    assert hub_settings["batch_size_rows"]["value"] == 1000
    assert set(about["capabilities"]) <= set(hub["capabilities"]), REGENERATE
    assert (hub["name"], hub["namespace"], hub["executable"]) == (
        "target-clevertap",
        "target_clevertap",
        "target-clevertap",
    )
    assert hub["pip_url"]


def test_meltano_add_from_it_gives_the_settings_of_meltano_yml(
    hub: dict[str, Any],
    hub_settings: dict[str, dict[str, Any]],
    loader: dict[str, Any],
    meltano_settings: dict[str, dict[str, Any]],
) -> None:
    missing = set(hub_settings) - set(meltano_settings)
    assert not missing, (
        f"meltano.yml's target-clevertap loader does not declare {sorted(missing)}: add them "
        f"(kind, label, description), then {REGENERATE}"
    )
    assert not set(meltano_settings) - set(hub_settings), REGENERATE
    for name, declared in meltano_settings.items():
        setting = hub_settings[name]
        for key in ("kind", "label", "options"):
            assert setting.get(key) == declared.get(key), f"{name}.{key}: {REGENERATE}"
        assert setting.get("sensitive", False) == declared.get("sensitive", False), name
    assert hub_settings["passcode"]["sensitive"] is True
    assert hub["settings_group_validation"] == loader["settings_group_validation"], REGENERATE
