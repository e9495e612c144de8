"""Several target-clevertap processes sharing one account's budget of requests in flight.

    .venv/bin/python benchmarks/multiprocess.py [--processes 2,4] [--records 150000]
        [--latency-ms 1000] [--limit 15] [--max-concurrency 15]

N processes (each `max_concurrency: 15` unless --max-concurrency says less, the same profile
input) start together against ONE sandbox that allows `--limit` uploads in flight (429 beyond),
so the account, not the CPU, is the limit: `limit x 1000 / latency` records/s in all. While they
run, the sandbox's counters and each process's STATE lines are sampled every POLL_SECONDS; from
them:

- combined records/s from the first request to the last answer, against the ceiling;
- each process's records/s while all run (its records settled, as its STATE lines say, from the
  first request until the first process exits), against its fair share (ceiling / N);
- the share of all requests answered 429.

`run.py --only mp2,mp4` makes the same runs (and a full `run.py` without --quick does too).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from processes import SandboxReport, Usage, run_measured, terminate_on_sigterm
from scenarios import (
    API_CONCURRENCY,
    BENCHMARKS,
    Scenario,
    Tools,
    Window,
    own_checks,
    scenario_sandbox,
    target_command,
)
from singer_input import STREAM, write_input

RECORDS = 150_000
LATENCY_MS = 1_000
POLL_SECONDS = 0.1
COMBINED_SHARE = 0.85  # combined records/s at least this share of the account's ceiling
FAIR_SHARE = 0.5  # no process below this share of ceiling / N while all run
MAX_THROTTLED = 0.05  # 429 answers below this share of all requests
PROCESS_COUNTS = {"mp2": 2, "mp4": 4}  # run.py's keys for these runs


@dataclass(frozen=True)
class Progress:
    """When each process's STATE lines said how many records were settled, and the sandbox's
    first request and last answer, all in seconds since the processes were started."""

    settled: list[list[tuple[float, int]]]
    first_request: float | None
    last_answer: float | None
    in_flight: list[int]  # the sandbox's uploads in flight at each sample between the two

    @property
    def mean_in_flight(self) -> float | None:
        return sum(self.in_flight) / len(self.in_flight) if self.in_flight else None

    def settled_at(self, process: int, moment: float) -> float:
        """Records the process had settled at `moment`, interpolated between its STATE lines."""
        before = (0.0, 0)
        for when, count in self.settled[process]:
            if when >= moment:
                span = when - before[0]
                share = (moment - before[0]) / span if span > 0 else 1.0
                return before[1] + share * (count - before[1])
            before = (when, count)
        return float(before[1])


@dataclass(frozen=True)
class ProcessResult:
    usage: Usage
    failed: int | None
    problems: list[str]


@dataclass(frozen=True)
class SharedRun:
    """N processes against one sandbox: what each did, what the sandbox saw, and when."""

    scenario: Scenario
    processes: list[ProcessResult]
    sandbox: SandboxReport | None
    progress: Progress
    other_load: float
    load_average: tuple[float, float]  # 1-minute load average before and after

    @property
    def total_records(self) -> int:
        return self.scenario.records * len(self.processes)

    @property
    def ceiling(self) -> float:
        return self.scenario.api_ceiling() or 0.0

    @property
    def combined(self) -> float | None:
        first, last = self.progress.first_request, self.progress.last_answer
        if first is None or last is None or last <= first:
            return None
        return self.total_records / (last - first)

    @property
    def all_running(self) -> tuple[float, float] | None:
        """From the first request until the first process exits."""
        first = self.progress.first_request
        end = min(result.usage.wall_seconds for result in self.processes)
        return None if first is None or end <= first else (first, end)

    def rate_while_all_run(self, process: int) -> float | None:
        window = self.all_running
        if window is None:
            return None
        start, end = window
        done = self.progress.settled_at(process, end) - self.progress.settled_at(process, start)
        return done / (end - start)

    @property
    def throttled_share(self) -> float | None:
        if self.sandbox is None or not self.sandbox.stats:
            return None
        total = int(self.sandbox.stats["requests_total"])
        refused = int(self.sandbox.stats["requests_by_status"].get("429", 0))
        return refused / total if total else None

    @property
    def problems(self) -> list[str]:
        found = [
            f"process {index + 1}: {problem}"
            for index, result in enumerate(self.processes)
            for problem in result.problems
        ]
        accepted = self.sandbox.records_accepted if self.sandbox and self.sandbox.stats else None
        if accepted != self.total_records:
            found.append(f"sandbox accepted {accepted} records, not {self.total_records}")
        return found


def shared_scenario(
    processes: int, records: int, latency_ms: int, limit: int, concurrency: int = API_CONCURRENCY
) -> Scenario:
    return Scenario(
        f"mp{processes}",
        f"{processes} processes with max_concurrency {concurrency}, one account allowing "
        f"{limit} in flight",
        "clevertap",
        records,
        latency_ms,
        {"max_concurrency": concurrency},
        sandbox_limit=limit,
    )


class _Sampler:
    """Polls the sandbox's counters and the processes' STATE lines until stopped."""

    def __init__(self, url: str, stdouts: Sequence[Path], total: int, started: float) -> None:
        self._url = url + "/_sandbox/stats"
        self._stdouts = stdouts
        self._total = total
        self._started = started
        self._stop = threading.Event()
        self._settled: list[list[tuple[float, int]]] = [[] for _ in stdouts]
        self._first_request: float | None = None
        self._last_answer: float | None = None
        self._in_flight: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # the last STATE lines and answers

    @property
    def progress(self) -> Progress:
        return Progress(self._settled, self._first_request, self._last_answer, self._in_flight)

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._sample()

    def _sample(self) -> None:
        now = time.monotonic() - self._started
        try:
            with urllib.request.urlopen(self._url, timeout=5) as answer:
                stats = json.load(answer)
        except (OSError, ValueError):
            stats = None
        if stats is not None:
            if self._first_request is None and stats["requests_total"] > 0:
                self._first_request = now
            if self._last_answer is None and stats["records_accepted"] >= self._total:
                self._last_answer = now
            if self._first_request is not None and self._last_answer is None:
                self._in_flight.append(int(stats["in_flight"]))
        for index, path in enumerate(self._stdouts):
            count = _last_settled(path)
            history = self._settled[index]
            if count is not None and (not history or history[-1][1] != count):
                history.append((now, count))


def _last_settled(stdout: Path) -> int | None:
    """The records the process's last complete STATE line covers."""
    try:
        text = stdout.read_text(encoding="utf-8")
    except OSError:
        return None
    lines = [line for line in text.split("\n")[:-1] if line.strip()]  # complete lines only
    if not lines:
        return None
    return int(json.loads(lines[-1])["bookmarks"][STREAM]["records_read"])


def run_shared(
    scenario: Scenario, processes: int, tools: Tools, input_path: Path, workdir: Path
) -> SharedRun:
    """Start `processes` targets together against one sandbox and sample them until all exit."""
    workdirs = [workdir / f"process-{index + 1}" for index in range(processes)]
    for directory in workdirs:
        directory.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    window = Window.start()
    with scenario_sandbox(scenario, tools, workdir) as sandbox:
        commands = [target_command(scenario, tools, d, sandbox.url) for d in workdirs]
        started = time.monotonic()
        total = scenario.records * processes
        stdouts = [directory / "stdout.jsonl" for directory in workdirs]
        with (
            _Sampler(sandbox.url, stdouts, total, started) as sampler,
            ThreadPoolExecutor(processes) as pool,
        ):
            usages = list(pool.map(_runner(scenario, input_path), commands, workdirs))
    report = sandbox.report
    others = window.others(*usages, *([report.usage] if report else []))
    results = []
    for usage, directory in zip(usages, workdirs, strict=True):
        problems, failed = own_checks(scenario, usage, directory)
        results.append(ProcessResult(usage, failed, problems))
    return SharedRun(
        scenario,
        results,
        report,
        sampler.progress,
        others,
        (load_before, os.getloadavg()[0]),
    )


def _runner(scenario: Scenario, input_path: Path) -> Callable[[list[str], Path], Usage]:
    def run(command: list[str], directory: Path) -> Usage:
        return run_measured(
            command,
            stdin=input_path,
            stdout=directory / "stdout.jsonl",
            stderr=directory / "stderr.log",
            timeout=120 + 2 * scenario.records / 1_000,
        )

    return run


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def _share(value: float | None, whole: float) -> str:
    return "-" if value is None or not whole else f"{value / whole:.2f}"


def _verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def render_shared(run: SharedRun) -> list[str]:
    """One run as Markdown: a row per process, then the goals with met / not met."""
    count = len(run.processes)
    fair = run.ceiling / count
    window = run.all_running
    stats = run.sandbox.stats if run.sandbox else {}
    lines = [
        f"#### {run.scenario.title} [{run.scenario.key}]: {count} x {run.scenario.records:,} "
        f"records, {run.scenario.latency_ms} ms per request, ceiling {run.ceiling:,.0f} records/s",
        "",
        f"- 1-minute load average {run.load_average[0]:.2f} before, {run.load_average[1]:.2f} "
        f"after; other load {run.other_load:.2f} cores; sandbox CPU "
        f"{run.sandbox.usage.cpu_seconds if run.sandbox else 0:.1f} s, max in flight "
        f"{stats.get('max_in_flight_seen', '-')}, answers {_statuses(stats)}",
        f"- First request at {_fmt(run.progress.first_request, '.1f')} s, last answer at "
        f"{_fmt(run.progress.last_answer, '.1f')} s; all processes ran until "
        f"{_fmt(window[1] if window else None, '.1f')} s; uploads in flight at the sandbox "
        f"{_fmt(run.progress.mean_in_flight, '.1f')} on average in between",
        "",
        "| process | exit | failed | wall s | CPU s | records/s while all run | of fair share |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for index, result in enumerate(run.processes):
        rate = run.rate_while_all_run(index)
        lines.append(
            f"| {index + 1} | {result.usage.exit_code} | {_fmt(result.failed, 'd')} | "
            f"{result.usage.wall_seconds:.1f} | {result.usage.cpu_seconds:.1f} | "
            f"{_fmt(rate, ',.0f')} | {_share(rate, fair)} |"
        )
    return [*lines, "", *_goal_lines(run, fair)]


def _statuses(stats: dict[str, Any]) -> str:
    by_status = stats.get("requests_by_status", {})
    return " ".join(f"{code}x{n}" for code, n in by_status.items()) or "none"


def _goal_lines(run: SharedRun, fair: float) -> list[str]:
    combined = run.combined
    rates = [run.rate_while_all_run(index) for index in range(len(run.processes))]
    lowest = min((rate for rate in rates if rate is not None), default=None)
    throttled = run.throttled_share
    problems = run.problems
    goals = [
        (
            f"combined >= {COMBINED_SHARE} of {run.ceiling:,.0f} records/s",
            f"{_fmt(combined, ',.0f')} = {_share(combined, run.ceiling)}",
            combined is not None and combined >= COMBINED_SHARE * run.ceiling,
        ),
        (
            f"every process >= {FAIR_SHARE} of its fair share {fair:,.0f} records/s",
            f"lowest {_fmt(lowest, ',.0f')} = {_share(lowest, fair)}",
            lowest is not None and lowest >= FAIR_SHARE * fair,
        ),
        (
            f"429 answers < {MAX_THROTTLED:.0%} of requests",
            _fmt(throttled * 100 if throttled is not None else None, ".1f") + "%",
            throttled is not None and throttled < MAX_THROTTLED,
        ),
        (
            "every process exits 0 with 0 failed, all records accepted",
            "; ".join(problems) or "yes",
            not problems,
        ),
    ]
    return [
        "| goal (issue 15, section 2) | measured | met |",
        "| --- | --- | --- |",
        *(f"| {wanted} | {measured} | {_verdict(met)} |" for wanted, measured, met in goals),
    ]


def run_counts(
    counts: Sequence[int],
    tools: Tools,
    out: Path,
    *,
    records: int,
    latency_ms: int,
    limit: int,
    concurrency: int = API_CONCURRENCY,
) -> tuple[list[str], bool]:
    """Each count of processes in turn; the Markdown of all, and whether every run passed."""
    lines: list[str] = []
    ok = True
    input_path = write_input(out / f"input-shared-{records}.jsonl", records)
    try:
        for count in counts:
            scenario = shared_scenario(count, records, latency_ms, limit, concurrency)
            print(f"  {scenario.title} ...", file=sys.stderr, flush=True)
            run = run_shared(scenario, count, tools, input_path, out / scenario.key)
            ok = ok and not run.problems
            lines += [*render_shared(run), ""]
    finally:
        input_path.unlink(missing_ok=True)
    return lines, ok


def run_shared_counts(
    keys: set[str] | None, tools: Tools, out: Path, *, quick: bool
) -> tuple[str, bool]:
    """run.py's mp2 / mp4 runs: those --only names, else both unless --quick; Markdown, passed."""
    wanted = [key for key in PROCESS_COUNTS if (key in keys if keys else not quick)]
    if not wanted:
        return "", True
    counts = [PROCESS_COUNTS[key] for key in wanted]
    lines, ok = run_counts(
        counts, tools, out, records=RECORDS, latency_ms=LATENCY_MS, limit=API_CONCURRENCY
    )
    return "\n" + "\n".join(lines), ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="2,4", help="comma-separated process counts")
    parser.add_argument("--records", type=int, default=RECORDS, help="records per process")
    parser.add_argument("--latency-ms", type=int, default=LATENCY_MS)
    parser.add_argument("--limit", type=int, default=API_CONCURRENCY, help="sandbox in flight")
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=API_CONCURRENCY,
        help="each process's max_concurrency, e.g. the account's 15 split between them",
    )
    parser.add_argument("--out", type=Path, default=BENCHMARKS / "out")
    args = parser.parse_args(argv)
    out = args.out / time.strftime("%Y%m%d-%H%M%S-shared")
    out.mkdir(parents=True)
    counts = [int(count) for count in args.processes.split(",")]
    with terminate_on_sigterm():
        lines, ok = run_counts(
            counts,
            Tools(),
            out,
            records=args.records,
            latency_ms=args.latency_ms,
            limit=args.limit,
            concurrency=args.max_concurrency,
        )
    print("\n".join(lines))
    print(f"Logs: {out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
