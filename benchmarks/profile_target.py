"""Profile target-clevertap's per-record path on a generated input at zero added latency.

    .venv/bin/python benchmarks/profile_target.py [--records 200000] [--profiler cprofile]

`cprofile` and `pyinstrument` run `TargetClevertap.cli` in this process and see the reading
thread only (where every record is parsed, validated and mapped); `py-spy` samples the real
`target-clevertap` process, upload threads included (`pip install py-spy pyinstrument` into the
dev venv first). The sandbox runs in its own process, storing nothing. Output files go to
benchmarks/out/profile-<time>/.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import pstats
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from processes import ACCOUNT_ID, PASSCODE, SandboxProcess
from scenarios import API_CONCURRENCY, BENCHMARKS, VENV_BIN
from singer_input import STREAM_SETTINGS, write_input


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument(
        "--profiler", choices=("cprofile", "pyinstrument", "py-spy"), default="cprofile"
    )
    parser.add_argument("--top", type=int, default=25, help="functions to print")
    return parser.parse_args()


@contextlib.contextmanager
def redirected(workdir: Path) -> Iterator[None]:
    """The target's STATE lines and log go to files, not to this terminal."""
    with (
        (workdir / "stdout.jsonl").open("w", encoding="utf-8") as out,
        (workdir / "stderr.log").open("w", encoding="utf-8") as err,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        yield


def run_cli(argv: list[str]) -> int:
    """`target-clevertap ARGV` in this process; returns its exit code."""
    from target_clevertap.target import TargetClevertap  # noqa: PLC0415 (after the redirect)

    try:
        TargetClevertap.cli(args=argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def with_cprofile(argv: list[str], workdir: Path, top: int) -> int:
    profile = cProfile.Profile()
    with redirected(workdir):
        code = profile.runcall(run_cli, argv)
    profile.dump_stats(workdir / "target.prof")
    stats = pstats.Stats(profile)
    print_cprofile(stats, "cumulative", top)
    print_cprofile(stats, "tottime", top)
    return code


def print_cprofile(stats: pstats.Stats, key: str, top: int) -> None:
    """The top functions by `key`, with cumulative and own time as % of the whole run."""
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max((entry[3] for entry in entries.values()), default=1e-9)
    index = 3 if key == "cumulative" else 2
    rows = sorted(entries.items(), key=lambda item: item[1][index], reverse=True)[:top]
    print(f"\n## cProfile, reading thread, by {key} (total {total:.2f} s)\n")
    print("| cum % | own % | calls | function |\n| ---: | ---: | ---: | --- |")
    for (path, line, name), (_, calls, own, cumulative, _) in rows:
        where = f"{_short(path)}:{line} {name}"
        print(f"| {cumulative / total:.1%} | {own / total:.1%} | {calls:,} | `{where}` |")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def with_pyinstrument(argv: list[str], workdir: Path, top: int) -> int:
    from pyinstrument import Profiler  # noqa: PLC0415 (optional, installed by hand)

    profiler = Profiler(interval=0.0005)
    with redirected(workdir):
        profiler.start()
        code = run_cli(argv)
        profiler.stop()
    (workdir / "target.html").write_text(profiler.output_html(), encoding="utf-8")
    print(profiler.output_text(unicode=True, color=False, show_all=False)[: top * 400])
    return code


def with_py_spy(argv: list[str], workdir: Path, top: int) -> int:
    raw = workdir / "py-spy.txt"
    command = [str(VENV_BIN / "py-spy"), "record", "--gil", "--rate", "250", "--format", "raw"]
    command += ["--output", str(raw), "--", str(VENV_BIN / "target-clevertap"), *argv]
    with (workdir / "stdout.jsonl").open("wb") as out, (workdir / "stderr.log").open("wb") as err:
        code = subprocess.run(command, stdout=out, stderr=err, check=False, timeout=1800)
    print_collapsed(raw, top)
    return code.returncode


def print_collapsed(raw: Path, top: int) -> None:
    """Inclusive and own share of samples per function, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [frame.split(" (", 1)[0] + _where(frame) for frame in stack.split(";")]
        total += int(count)
        inclusive.update(dict.fromkeys(frames, int(count)))
        own[frames[-1]] += int(count)
    print(f"\n## py-spy, all threads, {total:,} samples holding the GIL\n")
    print("| incl % | own % | function |\n| ---: | ---: | --- |")
    for frame, samples in inclusive.most_common(top):
        print(f"| {samples / total:.1%} | {own[frame] / total:.1%} | `{frame}` |")


def _where(frame: str) -> str:
    location = frame.rpartition(" (")[2].rstrip(")")
    return f" ({_short(location.rsplit(':', 1)[0])})" if location else ""


PROFILERS: dict[str, Callable[[list[str], Path, int], int]] = {
    "cprofile": with_cprofile,
    "pyinstrument": with_pyinstrument,
    "py-spy": with_py_spy,
}


def main() -> int:
    args = parse_args()
    workdir = BENCHMARKS / "out" / dt.datetime.now().strftime("profile-%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True)
    input_path = write_input(workdir / "input.jsonl", args.records)
    try:
        with SandboxProcess(
            VENV_BIN / "clevertap-sandbox", workdir, latency_ms=0, max_concurrent=API_CONCURRENCY
        ) as sandbox:
            config = {
                "account_id": ACCOUNT_ID,
                "passcode": PASSCODE,
                "api_url": sandbox.url,
                "streams": STREAM_SETTINGS,
                "max_concurrency": API_CONCURRENCY,
            }
            (workdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
            argv = ["--config", str(workdir / "config.json"), "--input", str(input_path)]
            code = PROFILERS[args.profiler](argv, workdir, args.top)
    finally:
        input_path.unlink(missing_ok=True)
    received = sandbox.report.records_received if sandbox.report else 0
    print(f"\nexit {code}; sandbox received {received:,} records; files in {workdir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
