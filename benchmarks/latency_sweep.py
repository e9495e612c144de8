"""(a) at several added latencies, drawn against the API's ceiling 15 x 1000 / latency.

    .venv/bin/python benchmarks/latency_sweep.py [--records 200000]
        [--latencies 0,100,250,500,1000,2000] [--repeat K] [--png docs/throughput-vs-latency.png]

Each latency is run.py's scenario (a): target-clevertap with `max_concurrency: 15` against a
fresh sandbox allowing 15 requests in flight, on one generated profile input. The PNG plots the
measured records/s and the ceiling (what the account allows, however fast the target); the
Markdown (every run's row, then the sweep's table) goes to stdout and
benchmarks/out/<time>-sweep/results.md. Drawing needs matplotlib, kept to the benchmark's
optional extra (`pip install -e '.[bench]'`). The exit code is 1 when a run fails its checks,
and then no PNG is drawn.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from processes import terminate_on_sigterm
from run import FIXED, run_all
from scenarios import API_CONCURRENCY, BATCH_ROWS, BENCHMARKS, Outcome, Scenario, Tools
from singer_input import STATE_EVERY
from tables import RESULT_COLUMNS, environment, markdown_table, result_row, source_revision

# At 2,000 ms the start-up and the first request (sent alone) are then ~1/8 of the run.
RECORDS = 200_000
LATENCIES_MS = (0, 100, 250, 500, 1_000, 2_000)
PNG = BENCHMARKS.parent / "docs" / "throughput-vs-latency.png"
INSTALL_HINT = "The plot needs matplotlib: install it with `.venv/bin/pip install -e '.[bench]'`."
SWEEP_COLUMNS = (
    "added latency",
    f"(a) records/s, max_concurrency {API_CONCURRENCY}",
    f"API ceiling {API_CONCURRENCY} x {BATCH_ROWS:,} / latency",
    "(a) / ceiling",
    "CPU µs/record",
    "records per CPU second",
    "other load (cores)",
    "checks",
)


@dataclass(frozen=True)
class SweepPoint:
    """One latency of the sweep: what (a) made there and what the API allowed."""

    latency_ms: int
    records_per_second: float
    ceiling: float | None  # None at 0 ms: the API sets no limit
    cpu_us_per_record: float
    other_load: float
    problems: tuple[str, ...]

    @property
    def share_of_ceiling(self) -> float | None:
        return None if self.ceiling is None else self.records_per_second / self.ceiling

    @property
    def records_per_cpu_second(self) -> float:
        """The target's own pace: what it would make with a core to itself, if CPU-bound."""
        return 1e6 / self.cpu_us_per_record


def sweep_points(outcomes: Iterable[Outcome]) -> list[SweepPoint]:
    """The sweep's runs as points, by added latency."""
    points = [
        SweepPoint(
            latency_ms=outcome.scenario.latency_ms or 0,
            records_per_second=outcome.records_per_second,
            ceiling=outcome.scenario.api_ceiling(),
            cpu_us_per_record=outcome.usage.cpu_seconds * 1e6 / outcome.scenario.records,
            other_load=outcome.other_load,
            problems=outcome.problems,
        )
        for outcome in outcomes
    ]
    return sorted(points, key=lambda point: point.latency_ms)


def sweep_table(points: Sequence[SweepPoint]) -> list[str]:
    """The sweep as a Markdown table, one row per latency."""
    rows = (
        [
            f"{point.latency_ms:,} ms",
            f"{point.records_per_second:,.0f}",
            "-" if point.ceiling is None else f"{point.ceiling:,.0f}",
            "-" if point.share_of_ceiling is None else f"{point.share_of_ceiling:.2f}",
            f"{point.cpu_us_per_record:.0f}",
            f"{point.records_per_cpu_second:,.0f}",
            f"{point.other_load:.2f}",
            "; ".join(point.problems) or "ok",
        ]
        for point in points
    )
    return markdown_table(SWEEP_COLUMNS, rows)


def plan(records: int, latencies: Sequence[int]) -> list[Scenario]:
    """Scenario (a) at each latency."""
    return [
        Scenario(f"s{latency}", f"(a) at {latency} ms", "clevertap", records, latency, FIXED)
        for latency in latencies
    ]


def draw(points: Sequence[SweepPoint], title: str, png: Path) -> None:
    """records/s of (a) and the API's ceiling against the added latency, log scale."""
    import matplotlib  # noqa: PLC0415  (an optional extra: checked for before the runs)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import NullLocator, StrMethodFormatter  # noqa: PLC0415

    latencies = [point.latency_ms for point in points]
    measured = [point.records_per_second for point in points]
    curve = _ceiling_latencies(latencies)
    ceiling = [API_CONCURRENCY * BATCH_ROWS * 1000 / latency for latency in curve]

    figure, axes = plt.subplots(figsize=(9, 5.5))
    axes.plot(
        curve,
        ceiling,
        "--",
        color="tab:red",
        label=f"API ceiling {API_CONCURRENCY} x {BATCH_ROWS:,} / latency",
    )
    axes.plot(
        latencies,
        measured,
        "o-",
        color="tab:blue",
        label=f"(a) target-clevertap, max_concurrency {API_CONCURRENCY}: records/s (wall)",
    )
    axes.plot(
        latencies,
        [point.records_per_cpu_second for point in points],
        "s:",
        color="tab:gray",
        label="(a) records per CPU second (its pace on a core of its own)",
    )
    for latency, rate in zip(latencies, measured, strict=True):
        axes.annotate(
            f"{rate:,.0f}",
            (latency, rate),
            textcoords="offset points",
            xytext=(0, -10),  # below: the CPU pace runs above
            ha="center",
            va="top",
        )
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_xscale("symlog", linthresh=100, linscale=0.6)  # log above 100 ms: the ceiling a line
    axes.set_xlim(-10, max(latencies) * 1.2)
    axes.set_xticks(latencies)
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_ylim(min(measured) / 2, max([*ceiling, *measured]) * 1.2)
    axes.set_xlabel("latency added by the sandbox to each request (ms; log scale above 100)")
    axes.set_ylabel("records/s (log scale)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper right")
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    plt.close(figure)


def _ceiling_latencies(latencies: Sequence[int]) -> list[float]:
    """Where to draw the ceiling: from half the lowest non-zero latency (at 0 ms it is
    unbounded) to the highest, in 200 even steps on a log scale."""
    lowest = min((latency for latency in latencies if latency > 0), default=0) / 2
    if not lowest:
        return []
    ratio = max(latencies) / lowest
    return [lowest * ratio ** (step / 200) for step in range(201)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=RECORDS, help="records per run")
    parser.add_argument(
        "--latencies",
        default=",".join(map(str, LATENCIES_MS)),
        help="comma-separated milliseconds added per request",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per latency; median kept")
    parser.add_argument("--png", type=Path, default=PNG, help="where the plot is written")
    parser.add_argument("--out", type=Path, help="directory for logs (default benchmarks/out/)")
    args = parser.parse_args(argv)
    try:
        args.latencies = [int(latency) for latency in args.latencies.split(",")]
    except ValueError:
        parser.error("--latencies must be whole milliseconds separated by commas, e.g. 0,250")
    if args.records < 1 or args.repeat < 1 or min(args.latencies) < 0:
        parser.error("--records and --repeat must be at least 1, --latencies at least 0")
    return args


def _title(records: int, revision: str, points: Sequence[SweepPoint]) -> str:
    commit = revision.split(" ", 1)[0] + (" (+ uncommitted)" if "uncommitted" in revision else "")
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loads = [point.other_load for point in points]
    return (
        f"target-clevertap: records/s against the API's latency ({records:,} profiles a run)\n"
        f"{now}, code {commit}, {os.cpu_count()} cores, other processes busy "
        f"{min(loads):.2f}-{max(loads):.2f} cores"
    )


def _header(records: int, revision: str) -> list[str]:
    command = " ".join([".venv/bin/python", "benchmarks/latency_sweep.py", *sys.argv[1:]])
    return [
        f"### target-clevertap (a) against added latency ({records:,} records a run)",
        "",
        *environment("not used", revision),
        f"- Input: {records:,} profile records of 10 fields, a STATE every {STATE_EVERY:,}.",
        f"- API: clevertap-sandbox in its own process (storage off, each answer the latency after "
        "the request, its validation included), a fresh one per run, "
        f"{API_CONCURRENCY} requests in flight allowed.",
        f"- Command: `{command}`",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("matplotlib") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    out = (args.out or BENCHMARKS / "out") / dt.datetime.now().strftime("%Y%m%d-%H%M%S-sweep")
    out.mkdir(parents=True)
    revision = source_revision()
    with terminate_on_sigterm():
        outcomes = run_all(plan(args.records, args.latencies), Tools(), out, args.repeat)
    points = sweep_points(outcomes)
    report = "\n".join(
        [
            *_header(args.records, revision),
            "",
            *markdown_table(RESULT_COLUMNS, map(result_row, outcomes)),
            "",
            *sweep_table(points),
        ]
    )
    (out / "results.md").write_text(report + "\n", encoding="utf-8")
    print(report)
    print(f"Logs and results.md: {out}", file=sys.stderr)
    if not all(outcome.ok for outcome in outcomes):
        print("A run failed its checks (see its row), so no plot was drawn.", file=sys.stderr)
        return 1
    draw(points, _title(args.records, revision, points), args.png)
    print(f"Plot: {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
