"""Run the real `target-clevertap` process, as a tap's pipe or Meltano would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import singer
from tests.upload_api import PASSCODE

TARGET = shutil.which("target-clevertap") or str(Path(sys.executable).with_name("target-clevertap"))


@dataclass
class Finished:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    @property
    def last_log_line(self) -> str:
        return self.stderr.strip().splitlines()[-1]


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def run_target(
    args: list[str],
    singer_input: str | bytes = b"",
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> Finished:
    data = singer_input.encode() if isinstance(singer_input, str) else singer_input
    done = subprocess.run(
        [TARGET, *args],
        input=data,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
        cwd=cwd,
    )
    finished = Finished(done.returncode, done.stdout.decode(), done.stderr.decode(errors="replace"))
    assert_no_passcode(finished.stdout, finished.stderr)
    return finished


def assert_no_passcode(*outputs: str) -> None:
    """Every process run of the suite is checked: the test passcode appears in no output."""
    for output in outputs:
        assert PASSCODE not in output, "the passcode leaked into the target's output"


def start_target(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start the target with a pipe for stdin, to feed it while it runs."""
    return subprocess.Popen(
        [TARGET, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def wait_for_log(process: subprocess.Popen[bytes], text: str, timeout: float = 30) -> None:
    """Read the process's stderr until a line contains `text` (the rest stays readable)."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline().decode(errors="replace")
        if text in line:
            return
        if not line:
            break
    raise AssertionError(f"the target never logged {text!r}")


# The SCHEMA of a second stream is logged only after everything before it was read.
READ_IT_ALL = "Stream 'marker'"


def start_with_buffered_users(config: dict, tmp_path: Path, count: int) -> subprocess.Popen[bytes]:
    """A running target holding `count` buffered users and a STATE, its stdin left open (a
    tap that sends nothing more)."""
    process = start_feeding_users(config, tmp_path, count)
    wait_for_log(process, READ_IT_ALL)
    return process


def start_feeding_users(config: dict, tmp_path: Path, count: int) -> subprocess.Popen[bytes]:
    """A target given `count` users, a STATE and a marker stream whose line (`READ_IT_ALL`)
    says it read them all, its stdin left open; returns without waiting for that line."""
    process = start_target(["--config", str(write_config(tmp_path, config))])
    assert process.stdin is not None
    marker = singer.schema("marker", singer.PROFILE_SCHEMA)
    process.stdin.write((singer.users_then_state(count, {"n": count}) + marker + "\n").encode())
    process.stdin.flush()
    return process
