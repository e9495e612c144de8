"""A plain Singer pipeline through a shell pipe: tap-jsonl ... | target-clevertap --config ..."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_checks import assert_events, assert_profiles, assert_rejected
from e2e_harness import Harness
from e2e_meltano import last_state, plugin_executable, tap_states, target_states, write_json
from e2e_samples import SAMPLES_DIR, sample_events, sample_users, split_events, split_users

pytestmark = pytest.mark.e2e


def tap_config(tmp_path: Path, stream: str) -> Path:
    config = {"path": str(SAMPLES_DIR / f"{stream}.jsonl"), "stream_name": stream}
    return write_json(tmp_path / f"tap-{stream}.json", config)


def target_executable() -> str:
    return str(Path(sys.executable).with_name("target-clevertap"))


def test_tap_jsonl_piped_into_target_delivers_samples(harness: Harness, tmp_path: Path) -> None:
    tap = shlex.quote(str(plugin_executable("extractors", "tap-jsonl", "tap-jsonl")))
    users_config, events_config = tap_config(tmp_path, "users"), tap_config(tmp_path, "events")
    target_config = write_json(tmp_path / "target.json", harness.target_config())
    tap_out, target_out = tmp_path / "tap.out", tmp_path / "target.out"
    pipeline = (
        f"set -o pipefail; {{ {tap} --config {users_config}; {tap} --config {events_config}; }}"
        f" | tee {tap_out} | {shlex.quote(target_executable())} --config {target_config}"
        f" > {target_out}"
    )

    finished = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, check=False)

    assert finished.returncode == 0, finished.stderr[-4000:]
    users, events = split_users(sample_users()), split_events(sample_events())
    stored = harness.stored()
    assert_profiles(stored, users.good)
    assert_events(stored, events.good)
    assert_rejected(harness.rejected(), users.bad, events.bad)
    emitted = target_states(target_out.read_text())
    assert emitted, "the target wrote no state"
    assert all(state in tap_states(tap_out.read_text()) for state in emitted)
    assert emitted[-1] == last_state(tap_out.read_text())
