"""Child processes with their own resource usage: the measured targets and the sandbox server.

Each child is reaped with `os.wait4`, which returns that child's CPU time (user + sys) and peak
RSS (`ru_maxrss`) alone, so neither this script nor the sandbox is charged to a target.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SANDBOX_START_SECONDS = 30.0
SANDBOX_STOP_SECONDS = 15.0
ACCOUNT_ID = "bench-account"
PASSCODE = "bench-passcode"


@dataclass(frozen=True)
class Usage:
    """What one child process took: wall time from start to exit, CPU, peak memory."""

    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    timed_out: bool = False


def _reap(proc: subprocess.Popen[bytes], started: float, timeout: float) -> Usage:
    """Wait for the child (killing it after `timeout`) and read its own rusage."""
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        proc.kill()

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:  # interrupted: leave no child behind
        proc.kill()
        proc.wait()
        raise
    finally:
        watchdog.cancel()
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it, not Popen
    return Usage(
        exit_code=proc.returncode,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        timed_out=expired.is_set(),
    )


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat), to see who else was running."""
    fields = Path("/proc/stat").read_text(encoding="utf-8").split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_measured(
    argv: Sequence[str], *, stdin: Path, stdout: Path, stderr: Path, timeout: float
) -> Usage:
    """Run `argv < stdin > stdout 2> stderr` to completion (bounded by `timeout`)."""
    with stdin.open("rb") as fin, stdout.open("wb") as fout, stderr.open("wb") as ferr:
        started = time.monotonic()
        proc = subprocess.Popen(list(argv), stdin=fin, stdout=fout, stderr=ferr)
        return _reap(proc, started, timeout)


@dataclass(frozen=True)
class SandboxReport:
    """The sandbox's counters for one target run and what the sandbox process itself used."""

    stats: dict[str, Any]
    usage: Usage

    @property
    def records_received(self) -> int:
        return int(self.stats["records_received"])

    @property
    def records_accepted(self) -> int:
        return int(self.stats["records_accepted"])

    @property
    def max_in_flight(self) -> int:
        return int(self.stats["max_in_flight_seen"])

    @property
    def statuses(self) -> str:
        """`200x200 429x12`: requests by HTTP status."""
        by_status = self.stats["requests_by_status"]
        return " ".join(f"{code}x{count}" for code, count in by_status.items()) or "none"


class SandboxProcess:
    """`clevertap-sandbox serve` in its own process, on a free loopback port, storing nothing.

    Its latency includes its own work, as an API's round trip would: with the latency added on
    top, its ~13 ms of validating 1,000 records (on the target's two cores) made each request
    ~5% longer than the latency the goals' ceilings (`limit x 1000 / latency`) are figured from.

    Use as a context manager; `report` is set once the block has left and the server stopped.
    """

    def __init__(
        self, executable: Path, workdir: Path, *, latency_ms: int, max_concurrent: int
    ) -> None:
        self._port_file = workdir / "sandbox.port"
        self._log = workdir / "sandbox.log"
        self._argv = [
            str(executable),
            "serve",
            "--host=127.0.0.1",
            "--port=0",
            f"--port-file={self._port_file}",
            "--no-store",
            "--quiet",
            f"--latency-ms={latency_ms}",
            "--latency-includes-work",
            f"--max-concurrent={max_concurrent}",
            f"--account-id={ACCOUNT_ID}",
            f"--passcode={PASSCODE}",
        ]
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self.url = ""
        self.report: SandboxReport | None = None

    def __enter__(self) -> SandboxProcess:
        self._port_file.unlink(missing_ok=True)
        self._started = time.monotonic()
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            self.url = f"http://127.0.0.1:{self._wait_for_port()}"
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        stats: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            stats = self._get("/_sandbox/stats")
        usage = self._stop()
        self.report = SandboxReport(stats, usage)

    def _wait_for_port(self) -> int:
        deadline = time.monotonic() + SANDBOX_START_SECONDS
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the sandbox exited at start; see {self._log}")
            if self._port_file.exists():
                return int(self._port_file.read_text(encoding="utf-8"))
            time.sleep(0.02)
        raise RuntimeError(f"the sandbox did not listen within {SANDBOX_START_SECONDS:.0f}s")

    def stats(self) -> dict[str, Any]:
        """The sandbox's upload counters now (while it runs)."""
        return self._get("/_sandbox/stats")

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return dict(json.load(answer))

    def _stop(self) -> Usage:
        assert self._proc is not None
        if self._proc.returncode is not None:  # already reaped (it died at start)
            return Usage(self._proc.returncode, 0.0, 0.0, 0.0)
        self._proc.send_signal(signal.SIGTERM)
        return _reap(self._proc, self._started, SANDBOX_STOP_SECONDS)


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so `with` blocks stop the children they started."""

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
