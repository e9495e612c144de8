"""SIGTERM and SIGINT: a flag that stops reading, never an exception landing mid-update.

Process tests send real signals to the real target; in-process tests send one to the test's own
process at the points where an asynchronous exception used to leave the run inconsistent.
"""

from __future__ import annotations

import concurrent.futures
import faulthandler
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from target_clevertap.checkpoint import Checkpoint
from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.process import (
    READ_IT_ALL,
    assert_no_passcode,
    start_feeding_users,
    start_target,
    start_with_buffered_users,
    wait_for_log,
    write_config,
)
from tests.sandbox.sandbox_helpers import wait_until
from tests.upload_api import UploadApi


def ended(process: subprocess.Popen[bytes], within: float) -> tuple[int, list[str], str]:
    """Wait for the process to exit by itself, stdin still open; its exit code, stdout, stderr."""
    started = time.monotonic()
    try:
        code = process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        tail = stderr.decode(errors="replace")[-3000:]
        raise AssertionError(f"still running {within}s after the signal; stderr:\n{tail}") from None
    assert time.monotonic() - started <= within
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = process.stdout.read().decode(), process.stderr.read().decode()
    assert_no_passcode(stdout, stderr)
    return code, stdout.splitlines(), stderr


def test_a_stop_while_the_tap_sends_nothing_delivers_and_exits_at_once(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    process = start_with_buffered_users(settings, tmp_path, count=10)

    process.send_signal(signal.SIGTERM)
    code, stdout, stderr = ended(process, within=10)

    assert code == 0, stderr
    assert stdout == ['{"n": 10}']
    assert len(sandbox.profiles()) == 10
    assert "Stopped on request after delivering everything read" in stderr


def test_sigint_is_a_stop_request_too(sandbox: Sandbox, settings: dict, tmp_path: Path) -> None:
    process = start_with_buffered_users(settings, tmp_path, count=4)

    process.send_signal(signal.SIGINT)
    code, stdout, stderr = ended(process, within=10)

    assert (code, stdout) == (0, ['{"n": 4}']), stderr
    assert "Traceback" not in stderr


GRACE = 2  # stop_grace_seconds of the tests that reach the deadline
RETRY_WAIT = re.compile(r"retrying in (\d+(?:\.\d+)?)s")


def wait_for_a_retry_wait_past(process: subprocess.Popen[bytes], seconds: float) -> None:
    """Read stderr until the target has read all its input and begun a retry wait longer than
    `seconds`: each wait is drawn at random (full jitter), so any one of them may be short, and
    the retry line may come before or after the line that says all input was read."""
    assert process.stderr is not None
    read_it_all = long_wait = False
    while not (read_it_all and long_wait):
        line = process.stderr.readline().decode(errors="replace")
        if not line:
            raise AssertionError(f"the target ended without a retry wait of over {seconds}s")
        read_it_all = read_it_all or READ_IT_ALL in line
        wait = RETRY_WAIT.search(line)
        long_wait = long_wait or (wait is not None and float(wait[1]) > seconds)


def test_a_stop_cuts_a_retry_wait_short_and_writes_no_state_past_the_batch(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(forever="503"))
    # Every retry wait is drawn from 0-60 s (the cap). A retry due before the stop's deadline is
    # still made, so the signal comes in a wait that ends well past it: that wait is cut short.
    config = {
        **settings,
        "batch_size_rows": 3,
        "retry_backoff_seconds": 600,
        "max_retries": 8,
        "stop_grace_seconds": GRACE,
    }
    process = start_feeding_users(config, tmp_path, count=3)  # a full batch: sent at once
    wait_for_a_retry_wait_past(process, GRACE + 5)

    process.send_signal(signal.SIGTERM)
    code, stdout, stderr = ended(process, within=10)

    assert code == 1
    assert stdout == []
    assert "not retried, as the run is stopping" in stderr
    assert stderr.splitlines()[-1].endswith(
        "Stopped on request with 3 records read but not delivered; no state covers them, so the "
        "next run sends them again. (Stream 'users': a batch of 3 records could not be delivered: "
        "HTTP 503: Service Unavailable; not retried, as the run is stopping No state was written "
        "past the last delivered record.)"
    )
    assert "Traceback" not in stderr


def test_a_second_signal_exits_at_once_without_a_broken_state_line(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(latency_ms=20_000))
    config = {**settings, "batch_size_rows": 2}
    process = start_with_buffered_users(config, tmp_path, count=7)
    process.send_signal(signal.SIGTERM)
    time.sleep(1)  # the drain has begun: its first request takes 20 s

    process.send_signal(signal.SIGTERM)
    code, stdout, stderr = ended(process, within=5)

    assert code == 128 + signal.SIGTERM, stderr
    assert "Received signal 15 again: stopping now." in stderr
    assert all(json.loads(line) for line in stdout), "every STATE line is whole"
    assert "Traceback" not in stderr


# --- the stop grace period: delivery ends by its deadline, during an outage too -------------


def delivered_then_stuck(
    sandbox: Sandbox, settings: dict, tmp_path: Path, outage: Faults
) -> subprocess.Popen[bytes]:
    """A target whose first batch (u0-u2, STATE n=3) was delivered, and whose second (u3-u5,
    STATE n=6) meets the outage; stdin left open."""
    config = {"batch_size_rows": 3, "stop_grace_seconds": GRACE, "max_retries": 100, **settings}
    # The per-request line it waits for is at DEBUG.
    process = start_target(
        ["--config", str(write_config(tmp_path, config))],
        env={"TARGET_CLEVERTAP_LOGLEVEL": "DEBUG"},
    )
    assert process.stdin is not None
    process.stdin.write(singer.users_then_state(3, {"n": 3}).encode())
    process.stdin.flush()
    wait_for_log(process, "Stream 'users': sent 3, accepted 3")
    sandbox.set_faults(outage)
    more = [*singer.profiles("users", 3, start=3), singer.state({"n": 6})]
    process.stdin.write(singer.lines(more).encode())
    process.stdin.flush()
    return process


def assert_stopped_with_the_second_batch_left(code: int, stdout: list[str], stderr: str) -> None:
    assert code == 1, stderr
    assert stdout == ['{"n": 3}'], "no state past the undelivered records"
    last = stderr.splitlines()[-1]
    assert (
        "Stopped on request with 3 records read but not delivered; no state covers them, so "
        in last
    )
    assert "the next run sends them again." in last
    assert "Traceback" not in stderr


def test_a_stop_during_an_outage_ends_within_the_grace_period(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    # Retries every ~0.2 s would go on for minutes (100 retries): the grace period cuts them.
    outage = Faults(forever="503")
    process = delivered_then_stuck(
        sandbox, {**settings, "retry_backoff_seconds": 0.2}, tmp_path, outage
    )
    wait_for_log(process, "retrying in")

    process.send_signal(signal.SIGTERM)
    code, stdout, stderr = ended(process, within=GRACE + 10)

    assert_stopped_with_the_second_batch_left(code, stdout, stderr)
    assert "not retried, as the run is stopping" in stderr
    assert sorted(p["identity"] for p in sandbox.profiles()) == ["u0", "u1", "u2"]


def test_retries_go_on_within_the_grace_period(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    outage = Faults(sequence=["503"] * 4)  # waits of at most 0.1 + 0.2 + 0.4 + 0.8 s
    config = {**settings, "retry_backoff_seconds": 0.1, "stop_grace_seconds": 30}
    process = delivered_then_stuck(sandbox, config, tmp_path, outage)
    wait_for_log(process, "retrying in")

    process.send_signal(signal.SIGTERM)
    code, stdout, stderr = ended(process, within=30 + 10)

    assert code == 0, stderr
    assert stdout == ['{"n": 3}', '{"n": 6}']
    assert len(sandbox.profiles()) == 6
    assert "the run is stopping, but this upload retry goes on: it fits in the stop's" in stderr
    assert "Stopped on request after delivering everything read" in stderr


def test_a_request_still_open_at_the_deadline_is_abandoned(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    outage = Faults(forever="slow:60")  # far longer than the grace period; request_timeout is 60
    process = delivered_then_stuck(sandbox, settings, tmp_path, outage)
    wait_until(lambda: sandbox.stats()["in_flight"] == 1, "the second batch in flight")

    process.send_signal(signal.SIGTERM)
    code, stdout, stderr = ended(process, within=GRACE + 10)

    assert_stopped_with_the_second_batch_left(code, stdout, stderr)
    assert (
        "The stop grace period of 2s ('stop_grace_seconds') ended before every batch was "
        "delivered; requests still open were abandoned." in stderr
    )


# --- a signal at the points where an exception raised by the handler used to land -----------


def signal_once_when(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    """Send SIGTERM to this process the first time `owner.name` is called, before it runs."""
    original: Callable[..., Any] = getattr(owner, name)
    sent = []

    def hooked(*args: Any, **kwargs: Any) -> Any:
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, hooked)


def users_and_their_events(rounds: int) -> str:
    """Per round 3 users, an event of each, and a STATE: batches of 3 fill and go."""
    messages: list[str] = []
    for n in range(rounds):
        messages += singer.profiles("users", 3, start=3 * n)
        messages += singer.events("clicks", 3, start=3 * n)
        messages.append(singer.state({"round": n}))
    return singer.users_and_clicks(messages)


@pytest.fixture
def info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


@pytest.fixture
def hang_guard() -> Iterator[None]:
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.usefixtures("hang_guard", "info_logs")
@pytest.mark.parametrize(
    "hook",
    [
        # Between counting a batch as unfinished and queueing it (a drain then waited forever).
        (concurrent.futures.ThreadPoolExecutor, "submit"),
        # Between opening a checkpoint span and buffering its first record (a span never closed).
        (Checkpoint, "open_span"),
        # While a STATE arrives.
        (Checkpoint, "add_state"),
    ],
)
def test_a_signal_anywhere_on_the_record_path_drains_and_writes_only_safe_state(
    upload_api: UploadApi,
    config: dict,
    run_target: Any,
    monkeypatch: pytest.MonkeyPatch,
    hook: tuple[Any, str],
) -> None:
    config["batch_size_rows"] = 3
    signal_once_when(monkeypatch, *hook)

    result = run_target(config, users_and_their_events(rounds=40))

    assert result.exit_code == 0, result.log
    sent = {(r["type"], r["identity"]) for body in upload_api.bodies for r in body}
    assert len(sent) < 240, "reading stopped at the signal"
    summaries = re.findall(
        r"Stream '(\w+)': received (\d+), sent (\d+), accepted (\d+)", result.log
    )
    assert summaries
    for stream, *counts in summaries:
        assert len(set(counts)) == 1, f"{stream}: every record read is delivered: {counts}"
    for state in result.states:  # each covers only delivered records
        for n in range(3 * (state["round"] + 1)):
            assert {("profile", f"u{n}"), ("event", f"u{n}")} <= sent


# --- the window's wait ------------------------------------------------------------------------


def test_a_span_closed_before_the_wait_starts_is_not_waited_for() -> None:
    checkpoint = Checkpoint(None)
    span = checkpoint.open_span(checkpoint.next_record())
    checkpoint.close_span(span)  # e.g. on a worker thread, just before the reader waits

    started = time.monotonic()
    checkpoint.wait_while_open(span, timeout=5)

    assert time.monotonic() - started < 1


def test_a_failed_span_or_a_stop_ends_the_wait_for_it() -> None:
    checkpoint = Checkpoint(None)
    failed = checkpoint.open_span(checkpoint.next_record())
    still_open = checkpoint.open_span(checkpoint.next_record())
    checkpoint.fail_span(failed)
    checkpoint.release_waiters()

    started = time.monotonic()
    checkpoint.wait_while_open(failed, timeout=5)
    checkpoint.wait_while_open(still_open, timeout=5)

    assert time.monotonic() - started < 1


def test_a_run_on_another_thread_leaves_signal_handling_to_its_host(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(run_target(config, singer.users_then_state(3, {"n": 3})))
    )

    worker.start()
    worker.join(timeout=60)

    assert results[0].exit_code == 0, results[0].log
    assert results[0].states == [{"n": 3}]
    assert len(upload_api.requests) == 1
