"""How much CPU the sandbox spends per record, and how many requests a second it answers.

Starts `clevertap-sandbox serve --no-store --quiet` in its own process, POSTs `--requests` bodies
of 1,000 valid profiles (the benchmark's 10 fields, in the form target-clevertap sends them) over
`--threads` keep-alive connections, and prints the sandbox's own CPU seconds (user+sys, from
/proc/<pid>/stat, start-up excluded) per record and the requests/s it answered::

    .venv/bin/python benchmarks/sandbox_load.py                      # 200 requests, 4 threads
    .venv/bin/python benchmarks/sandbox_load.py --requests 400 --threads 8 --latency-ms 250
    .venv/bin/python benchmarks/sandbox_load.py --py-spy sandbox.svg # where its time goes

With `--latency-ms 0` and enough threads, requests/s is the most the sandbox can answer on this
machine while this script's client threads take their share of the CPU. `--py-spy` writes a
flame graph, or collapsed stacks to a `.txt` file.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from singer_input import record

ACCOUNT_ID = "load-account"
PASSCODE = "load-passcode"
RECORDS_PER_REQUEST = 1000
DISTINCT_BODIES = 20
VENV_BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_GENDERS = {"male": "M", "female": "F"}


def profile(number: int) -> dict[str, Any]:
    """Profile `number` of the benchmark's input, as target-clevertap uploads it."""
    row = record(number)
    ts = 1_704_067_200 + number
    return {
        "type": "profile",
        "identity": row["id"],
        "ts": ts,
        "profileData": {
            "Name": row["name"],
            "Email": row["email"],
            "Phone": row["phone"],
            "Gender": _GENDERS[row["gender"]],
            "updated_at": f"$D_{ts}",
            "score": row["score"],
            "is_vip": row["is_vip"],
            "plan": row["plan"],
            "visits": row["visits"],
        },
    }


def bodies() -> list[bytes]:
    """A few distinct 1,000-record bodies, reused in turn."""
    return [
        orjson.dumps({"d": [profile(start + i) for i in range(RECORDS_PER_REQUEST)]})
        for start in range(0, DISTINCT_BODIES * RECORDS_PER_REQUEST, RECORDS_PER_REQUEST)
    ]


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


@contextmanager
def sandbox(command: str, latency_ms: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with tempfile.TemporaryDirectory() as workdir:
        port_file = Path(workdir) / "port"
        argv = [
            command,
            "serve",
            "--port=0",
            f"--port-file={port_file}",
            "--no-store",
            "--quiet",
            f"--latency-ms={latency_ms}",
            "--max-concurrent=1000",
            f"--account-id={ACCOUNT_ID}",
            f"--passcode={PASSCODE}",
        ]
        process = subprocess.Popen(argv)
        try:
            while not port_file.exists():
                if process.poll() is not None:
                    raise RuntimeError("the sandbox exited at start")
                time.sleep(0.02)
            yield process, int(port_file.read_text())
        finally:
            process.terminate()
            process.wait(timeout=10)


def post_all(port: int, payloads: list[bytes], count: int, threads: int) -> None:
    """POST `count` bodies from `threads` keep-alive connections; every answer must be 200."""
    next_index = iter(range(count))
    lock = threading.Lock()
    headers = {
        "Content-Type": "application/json",
        "X-CleverTap-Account-Id": ACCOUNT_ID,
        "X-CleverTap-Passcode": PASSCODE,
    }

    def work() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            connection.request("POST", "/1/upload", payloads[index % len(payloads)], headers)
            answer = connection.getresponse()
            body = answer.read()
            if answer.status != 200 or b'"success"' not in body:
                raise RuntimeError(f"unexpected answer {answer.status}: {body[:200]!r}")
        connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


@contextmanager
def py_spy(pid: int, output: Path | None) -> Iterator[None]:
    if output is None:
        yield
        return
    argv = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--rate", "200", "--gil"]
    output_format = "raw" if output.suffix == ".txt" else "flamegraph"  # raw: collapsed stacks
    recorder = subprocess.Popen([*argv, "--format", output_format, "--output", str(output)])
    time.sleep(1)  # let it attach
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        recorder.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="bodies to POST")
    parser.add_argument("--threads", type=int, default=4, help="keep-alive connections")
    parser.add_argument("--latency-ms", type=int, default=0, help="the sandbox's added latency")
    parser.add_argument(
        "--command",
        default=str(VENV_BIN / "clevertap-sandbox"),
        help="the sandbox to measure, e.g. another checkout's (default: %(default)s)",
    )
    parser.add_argument("--py-spy", type=Path, help="record the sandbox with py-spy to this file")
    args = parser.parse_args()
    payloads = bodies()
    with sandbox(args.command, args.latency_ms) as (process, port):
        post_all(port, payloads, args.threads, args.threads)  # warm up: connections, imports
        with py_spy(process.pid, args.py_spy):
            cpu_before, started = cpu_seconds(process.pid), time.monotonic()
            post_all(port, payloads, args.requests, args.threads)
            wall, cpu = time.monotonic() - started, cpu_seconds(process.pid) - cpu_before
    records = args.requests * RECORDS_PER_REQUEST
    print(
        f"{args.requests} requests of {RECORDS_PER_REQUEST} records, {args.threads} threads, "
        f"latency {args.latency_ms} ms: {args.requests / wall:.1f} requests/s, "
        f"sandbox CPU {cpu:.2f} s = {cpu / records * 1e6:.1f} µs/record"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
