"""`meltano add` from the Hub definition kept in the repository gives a new project the loader
settings of the repository's meltano.yml: the same names, kinds, labels and sensitivity."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_meltano import clean_environment, meltano_executable
from e2e_samples import REPO_ROOT

pytestmark = pytest.mark.e2e

DEFINITION = REPO_ROOT / "plugin" / "loaders" / "target-clevertap.yml"
COMPARED = ("name", "kind", "label", "sensitive", "options")


def _loader_settings(meltano_yml: Path) -> list[dict[str, Any]]:
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8"))
    loader = next(p for p in project["plugins"]["loaders"] if p["name"] == "target-clevertap")
    return [{key: s.get(key) for key in COMPARED} for s in loader["settings"]]


def test_meltano_add_from_the_definition_gives_the_repository_s_settings(tmp_path: Path) -> None:
    (tmp_path / "meltano.yml").write_text("project_id: hub-definition-check\n", encoding="utf-8")
    added = subprocess.run(
        [
            str(meltano_executable()),
            *("add", "--plugin-type", "loader", "target-clevertap"),
            *("--from-ref", str(DEFINITION), "--no-install"),
        ],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert added.returncode == 0, added.stderr
    by_name = {s["name"]: s for s in _loader_settings(tmp_path / "meltano.yml")}
    for repository in _loader_settings(REPO_ROOT / "meltano.yml"):
        assert by_name.pop(repository["name"], None) == repository, (
            f"{repository['name']}: run `.venv/bin/python scripts/hub_definition.py --write`"
        )
    assert not by_name, f"settings meltano.yml does not declare: {sorted(by_name)}"
