"""Meltano as a real process, in the repository's own project (meltano.yml at the repo root).

Each test gets its own system database (so its own state) through MELTANO_DATABASE_URI; the
plugin virtualenvs under .meltano/ are shared and installed once per session.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from e2e_samples import REPO_ROOT

MELTANO_VENV = REPO_ROOT / ".venv-meltano"
RUN_TIMEOUT_SECONDS = 300
# Variables of a developer's shell that would change what the tests drive.
FOREIGN_PREFIXES = ("MELTANO_", "TARGET_CLEVERTAP_", "TAP_POSTGRES_", "TAP_JSONL_", "TAP_SAMPLES_")


def meltano_executable() -> Path:
    configured = os.environ.get("MELTANO_BIN")
    binary = Path(configured) if configured else MELTANO_VENV / "bin" / "meltano"
    if not binary.exists():
        raise RuntimeError(
            f"Meltano not found at {binary}; run scripts/test.sh once (it creates "
            ".venv-meltano/), or point MELTANO_BIN at a meltano executable"
        )
    return binary


def clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env["MELTANO_CLI_DISABLE_VERSION_CHECK"] = "true"
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


@dataclass(frozen=True)
class Finished:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        tail = "\n".join(self.stderr.splitlines()[-60:])
        return f"`{' '.join(self.command)}` exited {self.returncode}; last stderr lines:\n{tail}"


@dataclass(frozen=True)
class Meltano:
    """Runs meltano commands with the project root = the repository."""

    binary: Path
    env: dict[str, str]

    @classmethod
    def for_repo(cls) -> Meltano:
        return cls(binary=meltano_executable(), env=clean_environment())

    def with_env(self, **extra: str) -> Meltano:
        return Meltano(self.binary, {**self.env, **extra})

    @property
    def process_env(self) -> dict[str, str]:
        return {**self.env, "MELTANO_PROJECT_ROOT": str(REPO_ROOT)}

    def call(self, *args: str, timeout: float = RUN_TIMEOUT_SECONDS) -> Finished:
        command = [str(self.binary), *args]
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=self.process_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return Finished(command, result.returncode, result.stdout, result.stderr)

    def check(self, *args: str, timeout: float = RUN_TIMEOUT_SECONDS) -> Finished:
        finished = self.call(*args, timeout=timeout)
        assert finished.returncode == 0, finished.explain()
        return finished

    def ensure_plugins(self) -> None:
        """`meltano install` unless every plugin is there already: reinstalling would recreate
        virtualenvs that another test session (or scripts/demo.sh) may be running from."""
        if not all(path.exists() for path in PLUGIN_EXECUTABLES):
            self.check("install")

    def run(self, *blocks: str, environment: str = "sandbox") -> Finished:
        return self.call(*run_arguments(blocks, environment))

    def start_run(
        self, *blocks: str, stdout: IO[str], stderr: IO[str], environment: str = "sandbox"
    ) -> subprocess.Popen[str]:
        """`meltano run` in the background, for tests that interrupt it; the caller waits."""
        return subprocess.Popen(
            [str(self.binary), *run_arguments(blocks, environment)],
            cwd=REPO_ROOT,
            env=self.process_env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def state(self, state_id: str) -> dict[str, Any]:
        """The state Meltano stored under `state_id`; {} when it has none."""
        finished = self.call("state", "get", state_id)
        if finished.returncode != 0 and "not found" in finished.stderr.lower():
            return {}
        assert finished.returncode == 0, finished.explain()
        text = finished.stdout.strip()
        return json.loads(text) if text else {}


def run_arguments(blocks: tuple[str, ...], environment: str) -> list[str]:
    return [f"--environment={environment}", "run", *blocks]


def state_id(extractor: str, loader: str = "target-clevertap", environment: str = "sandbox") -> str:
    """The state ID `meltano run` uses for one extractor-loader block."""
    return f"{environment}:{extractor}-to-{loader}"


def plugin_path(plugin_type: str, name: str, executable: str) -> Path:
    return REPO_ROOT / ".meltano" / plugin_type / name / "venv" / "bin" / executable


PLUGIN_EXECUTABLES = (
    plugin_path("extractors", "tap-jsonl", "tap-jsonl"),
    plugin_path("extractors", "tap-postgres", "tap-postgres"),
    plugin_path("loaders", "target-clevertap", "target-clevertap"),
)


def plugin_executable(plugin_type: str, name: str, executable: str) -> Path:
    """A plugin's executable inside the virtualenv `meltano install` made for it."""
    path = plugin_path(plugin_type, name, executable)
    if not path.exists():
        raise RuntimeError(f"{path} is missing; `meltano install` did not install {name}")
    return path


def singer_messages(text: str, message_type: str) -> list[dict[str, Any]]:
    """The Singer messages of one type in a tap's or target's stdout."""
    messages = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            message = json.loads(stripped)
            if message.get("type") == message_type:
                messages.append(message)
    return messages


def tap_states(text: str) -> list[dict[str, Any]]:
    """The values of the STATE messages a tap wrote."""
    return [dict(message["value"]) for message in singer_messages(text, "STATE")]


def last_state(text: str) -> dict[str, Any]:
    """The value of the last STATE message a tap wrote."""
    states = tap_states(text)
    assert states, "no STATE message in the output"
    return states[-1]


def target_states(text: str) -> list[dict[str, Any]]:
    """What a target wrote to stdout: one state value (a JSON object) per line, nothing else."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=2))
    return path
