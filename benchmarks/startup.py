"""Start-up: how long target-clevertap takes to send its first request, against importing the SDK.

Each round, in turn: `python -c "import singer_sdk"`; target-clevertap on 2,000 profile records
against a fresh sandbox, timed from process start until the sandbox sees its first request;
`target-clevertap --about`; and target-clevertap with a config lacking its required settings
(exit 1). Medians of the rounds are reported, so all are measured in the same minutes.

The target's modules are compiled to bytecode first, as `pip install` does (the SDK's already
are): an editable checkout run with PYTHONDONTWRITEBYTECODE would compile them at every start.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from processes import SandboxProcess
from scenarios import Tools, target_argv
from singer_input import write_input

RECORDS = 2_000  # two batches: the first request goes out once 1,000 records are mapped
LATENCY_MS = 250  # the first request stays in flight long enough to be seen
POLL_SECONDS = 0.005
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class StartupTimes:
    """Median seconds of each start-up measurement over `rounds` rounds."""

    import_sdk: float
    first_request: float
    about: float
    config_error: float
    rounds: int


COMPILE_TARGET = (
    "import compileall, os, target_clevertap; "
    "compileall.compile_dir(os.path.dirname(target_clevertap.__file__), quiet=1)"
)


def measure_startup(tools: Tools, out: Path, rounds: int) -> StartupTimes:
    """Measure every kind of start `rounds` times, alternating, and keep the medians."""
    _wall([sys.executable, "-P", "-c", COMPILE_TARGET])  # -P: the package the children import
    workdir = out / "startup"
    workdir.mkdir(parents=True, exist_ok=True)
    input_path = write_input(workdir / "input.jsonl", RECORDS)
    bad_config = workdir / "config-error.json"
    bad_config.write_text(json.dumps({}), encoding="utf-8")
    samples: dict[str, list[float]] = {}
    try:
        for attempt in range(rounds):
            rundir = workdir / f"{attempt + 1}"
            rundir.mkdir(exist_ok=True)
            times = {
                "import_sdk": _wall([sys.executable, "-c", "import singer_sdk"]),
                "first_request": _first_request(tools, input_path, rundir),
                "about": _wall([str(tools.target), "--about"]),
                "config_error": _wall([str(tools.target), "--config", str(bad_config)], code=1),
            }
            for name, seconds in times.items():
                samples.setdefault(name, []).append(seconds)
            print(
                "  start-up: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()),
                file=sys.stderr,
                flush=True,
            )
    finally:
        input_path.unlink(missing_ok=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return StartupTimes(**medians, rounds=rounds)


def _wall(argv: list[str], code: int = 0) -> float:
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    seconds = time.monotonic() - started
    if done.returncode != code:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-2000:]!r}")
    return seconds


def _first_request(tools: Tools, input_path: Path, workdir: Path) -> float:
    """Seconds from starting the target until the sandbox has a request in flight."""
    with SandboxProcess(tools.sandbox, workdir, latency_ms=LATENCY_MS, max_concurrent=15) as api:
        argv = target_argv(tools, workdir, api.url)
        with (
            input_path.open("rb") as fin,
            (workdir / "stdout.jsonl").open("wb") as fout,
            (workdir / "stderr.log").open("wb") as ferr,
        ):
            started = time.monotonic()
            proc = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr)
            try:
                seen = _wait_for_first_request(api, proc, started)
            finally:
                code = proc.wait(TIMEOUT_SECONDS)
    if code != 0:
        raise RuntimeError(f"the target exited {code}; see {workdir / 'stderr.log'}")
    return seen - started


def _wait_for_first_request(
    api: SandboxProcess, proc: subprocess.Popen[bytes], started: float
) -> float:
    while time.monotonic() - started < TIMEOUT_SECONDS:
        if api.stats()["max_in_flight_seen"] > 0:
            return time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError("the target exited before the sandbox saw a request")
        time.sleep(POLL_SECONDS)
    raise RuntimeError("no request within the time limit")
