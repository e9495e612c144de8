"""The issue's targets, checked against the measured runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scenarios import Outcome
from startup import StartupTimes

CEILING_SHARE = 0.6  # (a) records/s at least this share of 15 x 1000 / latency
BUDGET_SHARE = 0.9  # with 5 requests allowed: at least this share of 5 x 1000 / latency
LATENCY_HIDDEN = 0.95  # (a) records/s at the set latency: at least this share of (a) at 0 ms
CPU_OVER_READER = 1.5  # (a) CPU µs a record: at most this many times that of (c'')
STARTUP_MARGIN_SECONDS = 0.3  # start-up: at most `import singer_sdk` plus this
MAX_RSS_MB = 150.0
RSS_GROWTH = 0.10
LEDGER_SHARE = 0.9  # events with the ledger: at least this share of the throughput without


@dataclass(frozen=True)
class Goal:
    """One line of the goals table: what was wanted, what was measured, whether it was met."""

    wanted: str
    measured: str
    met: bool | None  # None: not run, or nothing to judge (a ratio shown for information)

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "**no**", None: "-"}[self.met]


Runs = Mapping[str, Outcome]


def evaluate(runs: Runs, startup: StartupTimes | None = None) -> list[Goal]:
    """Every goal whose runs exist; a goal whose runs were skipped says so."""
    checks: list[Callable[[Runs], Goal]] = [
        _latency_hidden,
        _cpu_over_reader,
        _ceiling_share,
        _ratio_goal("a", ("c",), "(a) wall / (c) wall, with latency"),
        _ratio_goal("a", ("cf",), "(a) wall / (c') wall: the SDK's floor with everything off"),
        _ratio_goal("a", ("d",), "(a) wall / (d) wall, with latency"),
        _ratio_goal("a0", ("c0", "c"), "(a) wall <= (c) wall at zero latency", limit=1.0),
        _memory_flat,
        _ledger_cost,
        _ledger_memory_flat,
        _budget("a5"),
        _budget("a5slow"),
    ]
    return [check(runs) for check in checks] + _startup_goals(startup)


def _missing(wanted: str, runs: Runs, *keys: str) -> Goal | None:
    absent = [key for key in keys if key not in runs]
    return Goal(wanted, f"not run ({', '.join(absent)})", None) if absent else None


def _latency_hidden(runs: Runs) -> Goal:
    """(a) at the set latency against (a) at 0 ms, on 1M records if both ran, else on N."""
    slow, fast = ("a1m", "a01m") if {"a1m", "a01m"} <= runs.keys() else ("a", "a0")
    wanted = f"Latency hidden: (a) records/s / (a) at 0 ms >= {LATENCY_HIDDEN} (1M records)"
    skipped = _missing(wanted, runs, slow, fast)
    if skipped:
        return skipped
    share = runs[slow].records_per_second / runs[fast].records_per_second
    measured = (
        f"{runs[slow].records_per_second:,.0f} / {runs[fast].records_per_second:,.0f} "
        f"records/s = {share:.2f} ({runs[slow].scenario.records:,} records, "
        f"{runs[slow].scenario.latency_ms} ms)"
    )
    return Goal(wanted, measured, runs[slow].ok and runs[fast].ok and share >= LATENCY_HIDDEN)


def _cpu_per_record(run: Outcome) -> float:
    return run.usage.cpu_seconds * 1e6 / run.scenario.records


def _cpu_over_reader(runs: Runs) -> Goal:
    """(a)'s CPU a record against the no-op target with the same reader and validation."""
    wanted = f"CPU: (a) µs a record <= {CPU_OVER_READER} x (c'') (same reader and validation)"
    skipped = _missing(wanted, runs, "a", "ct")
    if skipped:
        return skipped
    ours, floor = _cpu_per_record(runs["a"]), _cpu_per_record(runs["ct"])
    measured = f"{ours:.1f} / {floor:.1f} µs a record = {ours / floor:.2f}"
    met = runs["a"].ok and runs["ct"].ok and ours <= CPU_OVER_READER * floor
    return Goal(wanted, measured, met)


def _startup_goals(startup: StartupTimes | None) -> list[Goal]:
    """First request, --about and a config error, each against `import singer_sdk`."""
    starts = {
        "time to the first request": "first_request",
        "`--about`": "about",
        "a config error (exit 1)": "config_error",
    }
    goals = []
    for what, name in starts.items():
        wanted = f"Start-up: {what} <= `import singer_sdk` + {STARTUP_MARGIN_SECONDS} s"
        if startup is None:
            goals.append(Goal(wanted, "not run (start)", None))
            continue
        seconds, base = getattr(startup, name), startup.import_sdk
        measured = (
            f"{seconds:.2f} s against {base:.2f} s + {STARTUP_MARGIN_SECONDS} s "
            f"(medians of {startup.rounds})"
        )
        goals.append(Goal(wanted, measured, seconds <= base + STARTUP_MARGIN_SECONDS))
    return goals


def _ceiling_share(runs: Runs) -> Goal:
    wanted = f"(a) >= {CEILING_SHARE:.0%} of the API ceiling 15 x 1000 / latency"
    skipped = _missing(wanted, runs, "a")
    if skipped:
        return skipped
    run = runs["a"]
    ceiling = run.scenario.api_ceiling() or 0.0
    share = run.records_per_second / ceiling
    measured = (
        f"{run.records_per_second:,.0f} / {ceiling:,.0f} records/s = {share:.2f} "
        f"(goal >= {CEILING_SHARE * ceiling:,.0f} records/s)"
    )
    return Goal(wanted, measured, run.ok and share >= CEILING_SHARE)


def _ratio_goal(
    first: str, seconds: tuple[str, ...], wanted: str, limit: float | None = None
) -> Callable[[Runs], Goal]:
    """first's wall / the wall of the first of `seconds` that ran (c0, else c: same target)."""

    def check(runs: Runs) -> Goal:
        second = next((key for key in seconds if key in runs), seconds[0])
        skipped = _missing(wanted, runs, first, second)
        if skipped:
            return skipped
        a, b = runs[first].usage.wall_seconds, runs[second].usage.wall_seconds
        cpu_a, cpu_b = runs[first].usage.cpu_seconds, runs[second].usage.cpu_seconds
        measured = (
            f"wall {a:.2f} s / {b:.2f} s = {a / b:.2f}; "
            f"CPU {cpu_a:.2f} s / {cpu_b:.2f} s = {cpu_a / cpu_b:.2f}"
        )
        both_ok = runs[first].ok and runs[second].ok
        return Goal(wanted, measured, None if limit is None else both_ok and a / b <= limit)

    return check


def _memory_flat(runs: Runs) -> Goal:
    wanted = f"(a) peak RSS at 1M records <= {MAX_RSS_MB:.0f} MB and within 10% of the N run"
    skipped = _missing(wanted, runs, "a", "a1m")
    if skipped:
        return skipped
    small, large = runs["a"].usage.peak_rss_mb, runs["a1m"].usage.peak_rss_mb
    growth = large / small - 1
    measured = f"{large:.1f} MB at 1M vs {small:.1f} MB ({growth:+.1%})"
    met = runs["a1m"].ok and large <= MAX_RSS_MB and abs(growth) <= RSS_GROWTH
    return Goal(wanted, measured, met)


def _ledger_cost(runs: Runs) -> Goal:
    """Throughput with the ledger against without, on 1M events if run, else on N."""
    wanted = f"Events with the event ledger: >= {LEDGER_SHARE:.0%} of the records/s without"
    off, on = ("e1m", "el1m") if "el1m" in runs else ("e", "el")
    skipped = _missing(wanted, runs, off, on)
    if skipped:
        return skipped
    share = runs[on].records_per_second / runs[off].records_per_second
    cpu = [runs[key].usage.cpu_seconds * 1e6 / runs[key].scenario.records for key in (on, off)]
    measured = (
        f"{runs[on].records_per_second:,.0f} / {runs[off].records_per_second:,.0f} records/s = "
        f"{share:.2f} ({runs[on].scenario.records:,} events; CPU {cpu[0]:.0f} vs {cpu[1]:.0f} "
        "µs a record)"
    )
    return Goal(wanted, measured, runs[on].ok and runs[off].ok and share >= LEDGER_SHARE)


def _ledger_memory_flat(runs: Runs) -> Goal:
    wanted = "Event ledger: peak RSS at 1M events within 10% of the N run (the keys are on disk)"
    skipped = _missing(wanted, runs, "el", "el1m")
    if skipped:
        return skipped
    small, large = runs["el"].usage.peak_rss_mb, runs["el1m"].usage.peak_rss_mb
    growth = large / small - 1
    without = runs["e1m"].usage.peak_rss_mb if "e1m" in runs else None
    measured = f"{large:.1f} MB at 1M vs {small:.1f} MB ({growth:+.1%})" + (
        f"; {without:.1f} MB at 1M without the ledger" if without is not None else ""
    )
    return Goal(wanted, measured, runs["el1m"].ok and abs(growth) <= RSS_GROWTH)


def _budget(key: str) -> Callable[[Runs], Goal]:
    def check(runs: Runs) -> Goal:
        latency = f"{runs[key].scenario.latency_ms} ms" if key in runs else "latency"
        wanted = (
            f"5 requests allowed ({latency}): exit 0, zero failed records, "
            f">= {BUDGET_SHARE:.0%} of 5 x 1000 / latency"
        )
        return _missing(wanted, runs, key) or _budget_goal(wanted, runs[key])

    return check


def _budget_goal(wanted: str, run: Outcome) -> Goal:
    ceiling = run.scenario.api_ceiling() or 0.0
    share = run.records_per_second / ceiling
    throttled = run.sandbox.stats["requests_by_status"].get("429", 0) if run.sandbox else 0
    measured = (
        f"exit {run.usage.exit_code}, {run.failed_records} failed, {throttled} x 429, "
        f"{run.records_per_second:,.0f} / {ceiling:,.0f} records/s = {share:.2f}"
    )
    return Goal(wanted, measured, run.ok and run.failed_records == 0 and share >= BUDGET_SHARE)
