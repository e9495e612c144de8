"""The benchmark script still works end to end, on a small input (its numbers are not judged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
