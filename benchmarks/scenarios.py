"""What each benchmark run is, how its target is started, and how its result is checked."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from processes import (
    ACCOUNT_ID,
    PASSCODE,
    SandboxProcess,
    SandboxReport,
    Usage,
    machine_busy_seconds,
    run_measured,
)
from singer_input import STREAM, STREAM_SETTINGS, Feed, state

BENCHMARKS = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's own bin/
BATCH_ROWS = 1_000  # CleverTap's most records per request
API_CONCURRENCY = 15  # CleverTap's most requests in flight

TargetKind = Literal["clevertap", "noop", "noop-floor", "noop-like-target", "jsonl"]
_SUMMARY = re.compile(
    r"received (\d+), sent (\d+), accepted (\d+), rejected locally (\d+), "
    r"rejected by CleverTap (\d+)"
)


@dataclass(frozen=True)
class Scenario:
    """One measured run: which target, on how many records of which feed, against which API."""

    key: str
    title: str
    target: TargetKind
    records: int
    latency_ms: int | None = None  # None: the target makes no requests
    settings: Mapping[str, Any] = field(default_factory=dict)
    sandbox_limit: int = API_CONCURRENCY
    feed: Feed = "profiles"  # the generated input (singer_input.py)
    event_ledger: bool = False  # a fresh SQLite event ledger in the run's directory

    def api_ceiling(self, requests_in_flight: int | None = None) -> float | None:
        """Records/s if every allowed request carried a full batch: limit x 1000 / latency."""
        if not self.latency_ms:
            return None
        allowed = requests_in_flight or self.sandbox_limit
        return allowed * BATCH_ROWS / (self.latency_ms / 1000)


@dataclass(frozen=True)
class Outcome:
    """A finished run: the target's usage, what it wrote, what the sandbox saw, what was wrong."""

    scenario: Scenario
    usage: Usage
    state_lines: int
    sandbox: SandboxReport | None
    problems: tuple[str, ...]
    failed_records: int | None = None  # rejected locally or by CleverTap (target-clevertap)
    other_load: float = 0.0  # cores busy with other processes meanwhile, on average

    @property
    def records_per_second(self) -> float:
        return self.scenario.records / self.usage.wall_seconds

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Tools:
    """Executables the runs use; `peer` is None when target-jsonl could not be installed."""

    target: Path = VENV_BIN / "target-clevertap"
    sandbox: Path = VENV_BIN / "clevertap-sandbox"
    peer: Path | None = None


def scenario_sandbox(scenario: Scenario, tools: Tools, workdir: Path) -> SandboxProcess:
    """The sandbox a scenario runs against: its latency and its in-flight limit."""
    return SandboxProcess(
        tools.sandbox,
        workdir,
        latency_ms=scenario.latency_ms or 0,
        max_concurrent=scenario.sandbox_limit,
    )


def run_scenario(scenario: Scenario, tools: Tools, input_path: Path, workdir: Path) -> Outcome:
    """Run one scenario in its own directory and check what it did."""
    workdir.mkdir(parents=True, exist_ok=True)
    window = Window.start()
    if scenario.target != "clevertap":
        usage = _run_target(_argv(scenario, tools, workdir, ""), input_path, workdir, scenario)
        outcome = _outcome(scenario, usage, None, workdir, window.others(usage))
        shutil.rmtree(workdir / "jsonl", ignore_errors=True)  # target-jsonl's copy of the input
        return outcome
    with scenario_sandbox(scenario, tools, workdir) as sandbox:
        usage = _run_target(
            _argv(scenario, tools, workdir, sandbox.url), input_path, workdir, scenario
        )
    report = sandbox.report
    others = window.others(usage, *([report.usage] if report else []))
    return _outcome(scenario, usage, report, workdir, others)


@dataclass(frozen=True)
class Window:
    """The time around one run, to tell how busy the rest of the machine was meanwhile."""

    started: float
    busy: float

    @classmethod
    def start(cls) -> Window:
        return cls(time.monotonic(), machine_busy_seconds())

    def others(self, *ours: Usage) -> float:
        """Cores kept busy on average by processes other than ours during the window."""
        busy = machine_busy_seconds() - self.busy - sum(usage.cpu_seconds for usage in ours)
        return max(busy, 0.0) / (time.monotonic() - self.started)


def _run_target(argv: list[str], input_path: Path, workdir: Path, scenario: Scenario) -> Usage:
    return run_measured(
        argv,
        stdin=input_path,
        stdout=workdir / "stdout.jsonl",
        stderr=workdir / "stderr.log",
        timeout=120 + scenario.records / 1_000,
    )


def _argv(scenario: Scenario, tools: Tools, workdir: Path, api_url: str) -> list[str]:
    if scenario.target == "noop":
        return [sys.executable, str(BENCHMARKS / "noop_target.py")]
    if scenario.target == "noop-floor":
        return [sys.executable, str(BENCHMARKS / "noop_target.py"), "--floor"]
    if scenario.target == "noop-like-target":
        return [sys.executable, str(BENCHMARKS / "noop_target.py"), "--like-target"]
    if scenario.target == "jsonl":
        if tools.peer is None:
            raise RuntimeError("target-jsonl is not installed")
        config = {"destination_path": str(workdir / "jsonl"), "do_timestamp_file": False}
        return [str(tools.peer), "--config", _write_config(workdir, config)]
    extra = dict(scenario.settings)
    if scenario.event_ledger:
        extra["event_ledger_path"] = str(workdir / "event_ledger.db")
    return target_argv(tools, workdir, api_url, extra)


def target_argv(
    tools: Tools, workdir: Path, api_url: str, settings: Mapping[str, Any] | None = None
) -> list[str]:
    """target-clevertap's command line, its config (the benchmark's streams, plus `settings`)
    written into `workdir`."""
    config = {
        "account_id": ACCOUNT_ID,
        "passcode": PASSCODE,
        "api_url": api_url,
        "streams": STREAM_SETTINGS,
        "rejected_records_path": str(workdir / "rejected-records.jsonl"),
        **(settings or {}),
    }
    return [str(tools.target), "--config", _write_config(workdir, config)]


def _write_config(workdir: Path, config: Mapping[str, Any]) -> str:
    path = workdir / "config.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return str(path)


def _outcome(
    scenario: Scenario,
    usage: Usage,
    sandbox: SandboxReport | None,
    workdir: Path,
    other_load: float,
) -> Outcome:
    states = _state_lines(workdir / "stdout.jsonl")
    summary = _summary(workdir / "stderr.log") if scenario.target == "clevertap" else None
    problems = [
        *_process_problems(usage, workdir),
        *_state_problems(states, state(scenario.records, scenario.feed)),
        *_delivery_problems(scenario, sandbox, summary, workdir),
    ]
    failed = summary.failed if summary else None
    return Outcome(scenario, usage, len(states), sandbox, tuple(problems), failed, other_load)


def _state_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _process_problems(usage: Usage, workdir: Path) -> list[str]:
    if usage.timed_out:
        return [f"killed after the time limit (see {workdir / 'stderr.log'})"]
    if usage.exit_code != 0:
        return [f"exit code {usage.exit_code} (see {workdir / 'stderr.log'})"]
    return []


def _state_problems(states: list[str], final: dict[str, Any]) -> list[str]:
    """The last STATE written must be the input's last (all records settled)."""
    if not states:
        return ["no STATE written"]
    if json.loads(states[-1]) != final:
        return [f"last STATE is {states[-1][:80]}, not the input's last"]
    return []


def _delivery_problems(
    scenario: Scenario,
    sandbox: SandboxReport | None,
    summary: Summary | None,
    workdir: Path,
) -> list[str]:
    if scenario.target == "jsonl":
        return _jsonl_problems(scenario.records, workdir / "jsonl" / f"{STREAM}.jsonl")
    if scenario.target != "clevertap":
        return []
    problems = _summary_problems(scenario.records, summary)
    if sandbox is None or not sandbox.stats:
        return [*problems, "no sandbox stats"]
    if sandbox.records_received != scenario.records:
        problems.append(f"sandbox received {sandbox.records_received} records")
    if sandbox.records_accepted != scenario.records:
        problems.append(f"sandbox accepted {sandbox.records_accepted} records")
    return problems


@dataclass(frozen=True)
class Summary:
    """The target's end-of-run lines, all streams added up."""

    text: str
    received: int
    accepted: int
    failed: int  # rejected locally or by CleverTap


def _summary(log: Path) -> Summary | None:
    matches = list(_SUMMARY.finditer(log.read_text(encoding="utf-8", errors="replace")))
    if not matches:
        return None
    received, _sent, accepted, local, remote = (
        sum(int(match[group]) for match in matches) for group in range(1, 6)
    )
    text = "; ".join(match[0] for match in matches)
    return Summary(text, received, accepted, local + remote)


def _summary_problems(records: int, summary: Summary | None) -> list[str]:
    if summary is None:
        return ["no end-of-run summary in the log"]
    if summary.received != records or summary.accepted != records or summary.failed:
        return [f"target summary: {summary.text}"]
    return []


def _jsonl_problems(records: int, output: Path) -> list[str]:
    if not output.exists():
        return [f"{output} not written"]
    with output.open("rb") as lines:
        written = sum(1 for _ in lines)
    return [] if written == records else [f"{written} records written, not {records}"]


def target_command(scenario: Scenario, tools: Tools, workdir: Path, api_url: str) -> list[str]:
    """The scenario's target command line, its config written in `workdir`."""
    return _argv(scenario, tools, workdir, api_url)


def own_checks(scenario: Scenario, usage: Usage, workdir: Path) -> tuple[list[str], int | None]:
    """A target-clevertap run's checks that need no sandbox (exit, last STATE, summary), and its
    failed records (None without a summary)."""
    summary = _summary(workdir / "stderr.log")
    problems = [
        *_process_problems(usage, workdir),
        *_state_problems(_state_lines(workdir / "stdout.jsonl"), state(scenario.records)),
        *_summary_problems(scenario.records, summary),
    ]
    return problems, summary.failed if summary else None
