"""Throughput, CPU and memory of target-clevertap against the SDK's floor and a peer target.

    .venv/bin/python benchmarks/run.py [--records N] [--latency-ms 250] [--quick] [--repeat K]

Runs, on one generated input (N profile records, a STATE every 10,000):
  (a) target-clevertap with max_concurrency 15, (b) target-clevertap with its defaults,
  (c) a no-op singer-sdk target (benchmarks/noop_target.py), (d) target-jsonl from PyPI;
then (a) on a mixed input (N records: blocks of profiles, each followed by events of those
users), (a) and (c) again at zero added latency, (a) on 1,000,000 records (not with --quick),
(a) on N events with the event ledger off and on, the same on 1,000,000 events (not with
--quick), and (a) against a sandbox that allows only 5 requests in flight. Each
target-clevertap run gets its own sandbox process (storage off), whose CPU time and in-flight
peak are shown. Logs and the Markdown report go to benchmarks/out/<time>/; the generated inputs
are deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from goals import evaluate
from multiprocess import run_shared_counts
from peers import ensure_peer, peer_versions
from processes import terminate_on_sigterm
from scenarios import (
    API_CONCURRENCY,
    BATCH_ROWS,
    BENCHMARKS,
    Outcome,
    Scenario,
    Tools,
    run_scenario,
)
from singer_input import (
    EVENT_BLOCK,
    EVENT_STREAM,
    PROFILE_BLOCK,
    STATE_EVERY,
    STREAM,
    Feed,
    write_input,
)
from startup import StartupTimes, measure_startup
from tables import environment, render, source_revision

LARGE_RECORDS = 1_000_000
BUDGET_CONCURRENCY = 5
# At this latency 5 requests in flight carry less than the target can map, so the budget binds
# (429s, adaptive halving) even on a slow machine; at 250 ms it may never be reached.
BINDING_LATENCY_MS = 2_000
BINDING_RECORDS = 50_000  # at most; a quarter of --records, at least 10 batches
STARTUP_ROUNDS = 5
QUICK_RECORDS = 20_000
QUICK_LATENCY_MS = 50
FIXED = {"max_concurrency": API_CONCURRENCY}
MIXED_INPUT = (
    f"- Mixed input (am): the same number of records, {PROFILE_BLOCK} `{STREAM}` profiles then "
    f"{EVENT_BLOCK} `{EVENT_STREAM}` events (evtName, ts, 4 properties) by those users, again "
    "and again."
)
EVENTS_INPUT = (
    f"- Events input (e, el, e1m, el1m): `{EVENT_STREAM}` events (evtName, ts, 4 properties), "
    "every one different, so with the event ledger each is looked up and recorded (a fresh "
    "SQLite file)."
)

Inputs = dict[tuple[Feed, int], Path]  # generated input files by feed and record count


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, help="records per run (default 200,000)")
    parser.add_argument("--latency-ms", type=int, help="added per request (default 250)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_RECORDS:,} records, {QUICK_LATENCY_MS} ms, no 1M run (under a minute)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every run (interleaved); each run's median kept",
    )
    parser.add_argument("--out", type=Path, help="directory for logs (default benchmarks/out/)")
    parser.add_argument(
        "--only",
        help=(
            "comma-separated run keys to make, e.g. a0,c0 "
            "(a am b c cf ct d a0 c0 a1m a01m e el e1m el1m a5 a5slow mp2 mp4; start: start-up)"
        ),
    )
    parser.add_argument(
        "--startup-rounds",
        type=int,
        help="rounds of the start-up measurement, medians kept (default 5; 1 with --quick)",
    )
    args = parser.parse_args(argv)
    args.records = args.records or (QUICK_RECORDS if args.quick else 200_000)
    if args.latency_ms is None:
        args.latency_ms = QUICK_LATENCY_MS if args.quick else 250
    if args.startup_rounds is None:
        args.startup_rounds = 1 if args.quick else STARTUP_ROUNDS
    if args.records < 1 or args.latency_ms < 1 or args.repeat < 1 or args.startup_rounds < 1:
        parser.error("--records, --latency-ms, --repeat and --startup-rounds must be at least 1")
    return args


def _clevertap(
    key: str,
    title: str,
    records: int,
    latency_ms: int,
    limit: int = API_CONCURRENCY,
    *,
    feed: Feed = "profiles",
    event_ledger: bool = False,
) -> Scenario:
    """target-clevertap with max_concurrency 15 (scenario a and its variants)."""
    return Scenario(
        key,
        title,
        "clevertap",
        records,
        latency_ms,
        FIXED,
        sandbox_limit=limit,
        feed=feed,
        event_ledger=event_ledger,
    )


def scenarios(records: int, latency_ms: int, *, quick: bool) -> list[Scenario]:
    """The runs, in the order they are made; --quick leaves out the 1M run and the second (c)."""
    plan = [
        _clevertap("a", "(a) target-clevertap, max_concurrency 15", records, latency_ms),
        _clevertap("am", "(a) on a mixed profile + event feed", records, latency_ms, feed="mixed"),
        Scenario("b", "(b) target-clevertap, defaults", "clevertap", records, latency_ms),
        Scenario("c", "(c) no-op SDK target", "noop", records),
        Scenario("cf", "(c') no-op SDK target, msgspec, no validation", "noop-floor", records),
        Scenario(
            "ct",
            "(c'') no-op SDK target, the target's reader and validation",
            "noop-like-target",
            records,
        ),
        Scenario("d", "(d) target-jsonl (PyPI)", "jsonl", records),
        _clevertap("a0", "(a) at zero latency", records, 0),
    ]
    if not quick:
        plan.append(Scenario("c0", "(c) again, for the zero-latency pair", "noop", records))
        plan.append(_clevertap("a1m", "(a) on 1M records", LARGE_RECORDS, latency_ms))
        plan.append(_clevertap("a01m", "(a) on 1M records at zero latency", LARGE_RECORDS, 0))
    for suffix, events in [("", records)] + ([] if quick else [("1m", LARGE_RECORDS)]):
        for key, ledger in (("e", "no event ledger"), ("el", "with the event ledger (SQLite)")):
            title = f"(a) on {events:,} events, {ledger}"
            plan.append(
                _clevertap(
                    key + suffix, title, events, latency_ms, feed="events", event_ledger=key == "el"
                )
            )
    title = f"(a), sandbox allows {BUDGET_CONCURRENCY} in flight"
    plan.append(_clevertap("a5", title, records, latency_ms, BUDGET_CONCURRENCY))
    few = min(records, max(records // 4, 10 * BATCH_ROWS), BINDING_RECORDS)
    plan.append(_clevertap("a5slow", title, few, BINDING_LATENCY_MS, BUDGET_CONCURRENCY))
    return plan


def median_run(outcomes: Sequence[Outcome]) -> Outcome:
    """Of one scenario's runs, the one with the median wall time."""
    return sorted(outcomes, key=lambda o: o.usage.wall_seconds)[len(outcomes) // 2]


def _progress(outcome: Outcome) -> str:
    status = "ok" if outcome.ok else "; ".join(outcome.problems)
    return (
        f"  {outcome.scenario.title}: {outcome.usage.wall_seconds:.2f} s, "
        f"{outcome.records_per_second:,.0f} records/s, {status}"
    )


def _input_for(scenario: Scenario, out: Path, inputs: Inputs) -> Path:
    """The scenario's input file, written the first time a run needs it."""
    key = (scenario.feed, scenario.records)
    if key not in inputs:
        print(
            f"Writing {scenario.records:,} records ({scenario.feed}) ...",
            file=sys.stderr,
            flush=True,
        )
        path = out / f"input-{scenario.feed}-{scenario.records}.jsonl"
        inputs[key] = write_input(path, scenario.records, scenario.feed)
    return inputs[key]


def run_all(plan: Sequence[Scenario], tools: Tools, out: Path, repeat: int) -> list[Outcome]:
    """Every scenario whose target is available, `repeat` rounds of the whole plan, the median
    run of each kept. Rounds, not each scenario's runs in a row: this machine's speed drifts over
    minutes, and a ratio of two runs made minutes apart would measure the drift. The generated
    inputs are removed after."""
    plan = [s for s in plan if s.target != "jsonl" or tools.peer is not None]
    inputs: Inputs = {}
    runs: dict[str, list[Outcome]] = {scenario.key: [] for scenario in plan}
    try:
        for attempt in range(repeat):
            for scenario in plan:
                name = scenario.key if repeat == 1 else f"{scenario.key}-{attempt + 1}"
                input_path = _input_for(scenario, out, inputs)
                outcome = run_scenario(scenario, tools, input_path, out / name)
                print(_progress(outcome), file=sys.stderr, flush=True)
                runs[scenario.key].append(outcome)
    finally:
        for path in inputs.values():
            path.unlink(missing_ok=True)
    return [median_run(runs[scenario.key]) for scenario in plan]


def _header(args: argparse.Namespace, revision: str, plan: Sequence[Scenario]) -> list[str]:
    mixed = any(scenario.feed == "mixed" for scenario in plan)
    events = any(scenario.feed == "events" for scenario in plan)
    return [
        f"### target-clevertap throughput ({args.records:,} records, "
        f"{args.latency_ms} ms added per request)",
        "",
        *environment(peer_versions(), revision),
        f"- Input: {args.records:,} profile records of 10 fields, a STATE every "
        f"{STATE_EVERY:,}; stdin from a file, stdout to a file.",
        *([MIXED_INPUT] if mixed else []),
        *([EVENTS_INPUT] if events else []),
        "- API: clevertap-sandbox in its own process (storage off, each answer the latency after "
        "the request, its validation included), a fresh one per run, "
        f"{API_CONCURRENCY} requests in flight allowed unless said; CPU s and peak RSS are the "
        "target process's own (wait4), the sandbox's CPU is shown apart.",
        f"- Command: `.venv/bin/python benchmarks/run.py {' '.join(sys.argv[1:])}`".rstrip(),
        *_other_code(),
    ]


def _other_code() -> list[str]:
    """Under an A/B, the children import the target from PYTHONPATH, not from the commit above."""
    path = os.environ.get("PYTHONPATH")
    if not path:
        return []
    return [f"- PYTHONPATH={path}: the runs import target_clevertap from there (an A/B run)."]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = (args.out or BENCHMARKS / "out") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    revision = source_revision()
    tools = Tools(peer=ensure_peer())
    plan = scenarios(args.records, args.latency_ms, quick=args.quick)
    keys = set(args.only.split(",")) if args.only else None
    if keys is not None:
        plan = [scenario for scenario in plan if scenario.key in keys]
    startup: StartupTimes | None = None
    with terminate_on_sigterm():
        if keys is None or "start" in keys:
            startup = measure_startup(tools, out, args.startup_rounds)
        outcomes = run_all(plan, tools, out, args.repeat)
        shared, shared_ok = run_shared_counts(keys, tools, out, quick=args.quick)
    goals = evaluate({o.scenario.key: o for o in outcomes}, startup)
    report = render(_header(args, revision, plan), outcomes, goals) + shared
    (out / "results.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"Logs and results.md: {out}", file=sys.stderr)
    return 0 if shared_ok and all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    if shutil.which("target-clevertap", path=str(Path(sys.executable).parent)) is None:
        sys.exit("Run with the project's venv: .venv/bin/python benchmarks/run.py")
    sys.exit(main())
