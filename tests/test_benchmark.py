"""The benchmark script still works end to end, on a small input (its numbers are not judged),
and the latency sweep turns given runs into its points and table."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SMALL = ("--quick", "--records", "2000", "--latency-ms", "20")
RUNS = ("a", "b", "c", "cf", "ct", "a0", "e", "el", "a5", "a5slow")


def test_the_benchmark_runs_every_scenario_and_each_run_passes_its_checks(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", *SMALL, "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    (results,) = tmp_path.glob("*/results.md")
    table = results.read_text(encoding="utf-8")
    rows = {key: line for line in table.splitlines() for key in RUNS if f" [{key}] |" in line}
    assert set(rows) == set(RUNS)  # (d) needs target-jsonl from PyPI, so it is not required
    for row in rows.values():
        assert row.endswith("| ok |"), row


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/latency_sweep.py, imported as its siblings import each other (no matplotlib)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    return importlib.import_module("latency_sweep")


def _outcome(scenario: Any, wall: float, cpu: float, problems: tuple[str, ...] = ()) -> Any:
    from processes import Usage
    from scenarios import Outcome

    usage = Usage(exit_code=0, wall_seconds=wall, cpu_seconds=cpu, peak_rss_mb=70.0)
    return Outcome(scenario, usage, 20, None, problems, failed_records=0, other_load=0.25)


def test_the_latency_sweep_turns_its_runs_into_points_and_a_table_by_latency(
    sweep: ModuleType,
) -> None:
    slow, fast, failed = sweep.plan(200_000, [250, 0, 2_000])
    outcomes = [
        _outcome(slow, wall=10.0, cpu=9.0),
        _outcome(fast, wall=8.0, cpu=8.4),
        _outcome(failed, wall=30.0, cpu=3.0, problems=("exit code 1 (see stderr.log)",)),
    ]

    points = sweep.sweep_points(outcomes)
    table = sweep.sweep_table(points)

    assert [point.latency_ms for point in points] == [0, 250, 2_000]
    assert points[0].ceiling is None
    assert points[1].ceiling == 60_000
    assert points[1].share_of_ceiling == pytest.approx(20_000 / 60_000)
    assert table[2:] == [
        "| 0 ms | 25,000 | - | - | 42 | 23,810 | 0.25 | ok |",
        "| 250 ms | 20,000 | 60,000 | 0.33 | 45 | 22,222 | 0.25 | ok |",
        "| 2,000 ms | 6,667 | 7,500 | 0.89 | 15 | 66,667 | 0.25 | exit code 1 (see stderr.log) |",
    ]


def test_each_latency_of_the_sweep_is_scenario_a(sweep: ModuleType) -> None:
    scenarios = sweep.plan(100_000, [0, 500])

    assert [(s.latency_ms, s.records, s.target) for s in scenarios] == [
        (0, 100_000, "clevertap"),
        (500, 100_000, "clevertap"),
    ]
    assert all(s.settings == {"max_concurrency": 15} and s.sandbox_limit == 15 for s in scenarios)


def test_repeated_runs_go_in_rounds_and_each_keeps_its_median(
    sweep: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = importlib.import_module("run")
    plan = sweep.plan(1_000, [0, 250])
    walls = iter([5.0, 9.0, 3.0, 7.0, 4.0, 8.0])  # rounds: (0 ms, 250 ms) three times
    made: list[tuple[int, str]] = []

    def fake_run(scenario: Any, tools: Any, input_path: Path, workdir: Path) -> Any:
        made.append((scenario.latency_ms, workdir.name))
        return _outcome(scenario, wall=next(walls), cpu=1.0)

    monkeypatch.setattr(run, "run_scenario", fake_run)
    monkeypatch.setattr(run, "write_input", lambda path, records, feed: path)

    kept = run.run_all(plan, run.Tools(), tmp_path, repeat=3)

    assert [latency for latency, _ in made] == [0, 250, 0, 250, 0, 250]
    assert [name for _, name in made][:2] == [f"{plan[0].key}-1", f"{plan[1].key}-1"]
    assert [outcome.usage.wall_seconds for outcome in kept] == [4.0, 8.0]
