"""The Markdown printed at the end, ready for the README's performance section."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from goals import Goal
from scenarios import Outcome

PACKAGES = ("target-clevertap", "singer-sdk", "requests", "orjson", "fastjsonschema")
RESULT_COLUMNS = (
    "run",
    "records",
    "added latency",
    "wall s",
    "records/s",
    "CPU s (user+sys)",
    "CPU µs/record",
    "peak RSS MB",
    "STATE lines out",
    "sandbox CPU s",
    "sandbox max in flight",
    "HTTP answers",
    "other load (cores)",
    "checks",
)


def cpu_model() -> str:
    """The first `model name` of /proc/cpuinfo."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    names = (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    return next(names, "unknown CPU")


def _version(package: str) -> str:
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} (not installed)"


def source_revision() -> str:
    """The last commit that changed the target's code, and whether it has uncommitted changes."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    paths = ("--", "target_clevertap", "pyproject.toml")
    commit = git("log", "-1", "--format=%h %s", *paths) or "unknown commit"
    dirty = git("status", "--porcelain", *paths)
    return commit + (" (+ uncommitted changes to target_clevertap/)" if dirty else "")


def environment(peer: str, revision_at_start: str) -> list[str]:
    """Date, code, machine, Python and package versions, as Markdown bullet lines."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    revision = source_revision()
    if revision != revision_at_start:
        revision = f"{revision_at_start}, which changed during the runs to: {revision}"
    return [
        f"- Date: {now}",
        f"- Code: {revision}",
        f"- Machine: {os.cpu_count()} cores (nproc), {cpu_model()}, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {', '.join(map(_version, PACKAGES))}",
        f"- Peer: {peer}",
    ]


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    return [_row(header), _row("---" for _ in header), *map(_row, rows)]


def _latency(outcome: Outcome) -> str:
    latency = outcome.scenario.latency_ms
    return "no API" if latency is None else f"{latency} ms"


def _sandbox_cells(outcome: Outcome) -> list[str]:
    sandbox = outcome.sandbox
    if sandbox is None:
        return ["-", "-", "-"]
    limit = outcome.scenario.sandbox_limit
    return [
        f"{sandbox.usage.cpu_seconds:.2f}",
        f"{sandbox.max_in_flight} (limit {limit})",
        sandbox.statuses,
    ]


def result_row(outcome: Outcome) -> list[str]:
    usage = outcome.usage
    return [
        f"{outcome.scenario.title} [{outcome.scenario.key}]",
        f"{outcome.scenario.records:,}",
        _latency(outcome),
        f"{usage.wall_seconds:.2f}",
        f"{outcome.records_per_second:,.0f}",
        f"{usage.cpu_seconds:.2f}",
        f"{usage.cpu_seconds / outcome.scenario.records * 1e6:.0f}",
        f"{usage.peak_rss_mb:.1f}",
        str(outcome.state_lines),
        *_sandbox_cells(outcome),
        f"{outcome.other_load:.2f}",
        "ok" if outcome.ok else "; ".join(outcome.problems),
    ]


def render(header: Sequence[str], outcomes: Sequence[Outcome], goals: Sequence[Goal]) -> str:
    """The whole report: environment, one row per run, then the goals."""
    lines = [
        *header,
        "",
        *markdown_table(RESULT_COLUMNS, map(result_row, outcomes)),
        "",
        *markdown_table(
            ("goal (issue)", "measured", "met"),
            ((goal.wanted, goal.measured, goal.verdict) for goal in goals),
        ),
    ]
    return "\n".join(lines) + "\n"
