"""Fault injection: the real target process against the sandbox's fault switches.

Every case checks, from the sandbox's store, the rejected-records file and the state lines, that
each input record was delivered or rejected as the state contract says, and what the exit code
and the last log line report.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.process import Finished, run_target, start_target, wait_for_log, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT

USERS = 30


def settings(url: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": SANDBOX_ACCOUNT,
        "passcode": PASSCODE,
        "api_url": url,
        "batch_size_rows": 10,
        "max_concurrency": 3,
        "retry_backoff_seconds": 0.05,
        "rejected_records_path": str(tmp_path / "rejected.jsonl"),
        **extra,
    }


def users_input() -> str:
    return singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        [
            line
            for n in range(3)
            for line in (
                *singer.profiles("users", 10, start=10 * n),
                singer.state({"users": 10 * n + 10}),
            )
        ],
    )


def run(
    config: dict[str, Any], tmp_path: Path, singer_input: str, env: dict[str, str] | None = None
) -> Finished:
    return run_target(["--config", str(write_config(tmp_path, config))], singer_input, env=env)


def assert_everything_delivered(done: Finished, sandbox: Sandbox, tmp_path: Path) -> None:
    assert done.exit_code == 0, done.stderr
    assert sorted(p["identity"] for p in sandbox.profiles()) == sorted(
        f"u{i}" for i in range(USERS)
    )
    assert not (tmp_path / "rejected.jsonl").exists()
    assert done.states[-1] == {"users": USERS}
    assert "Stream 'users': received 30, sent 30, accepted 30" in done.last_log_line


def small_account(tmp_path: Path, max_concurrent: int) -> Sandbox:
    """A sandbox whose account allows only `max_concurrent` requests in flight, 100 ms each."""
    return Sandbox(
        account_id=SANDBOX_ACCOUNT,
        passcode=PASSCODE,
        db_path=str(tmp_path / "sb.db"),
        max_concurrent=max_concurrent,
        latency_ms=100,
    )


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(["429"] * 6, id="429-burst"),
        pytest.param(["500", "502html", "503", "504html"], id="5xx-json-and-html"),
        pytest.param(["reset", "reset"], id="connection-reset"),
        pytest.param(["400"], id="whole-batch-400-split-and-resent"),
    ],
)
def test_transient_faults_end_with_everything_delivered(
    sandbox: Sandbox, tmp_path: Path, faults: list[str]
) -> None:
    sandbox.set_faults(Faults(sequence=faults))

    done = run(settings(sandbox.url, tmp_path), tmp_path, users_input())

    assert_everything_delivered(done, sandbox, tmp_path)


def test_a_smaller_concurrency_budget_is_learnt_and_refused_requests_wait_for_a_slot(
    tmp_path: Path,
) -> None:
    with small_account(tmp_path, max_concurrent=2) as small:
        config = settings(small.url, tmp_path, max_concurrency=6, batch_size_rows=5)
        # The per-request lines, with the in-flight limit, are at DEBUG.
        done = run(config, tmp_path, users_input(), env={"TARGET_CLEVERTAP_LOGLEVEL": "DEBUG"})

        assert_everything_delivered(done, small, tmp_path)
        assert small.stats()["max_in_flight_seen"] > 2  # the target did go over the budget...
    refused = done.stderr.count("HTTP 429: Too many concurrent requests")
    assert refused >= 1
    # ...and a request refused while ours were in flight went again when one finished, not
    # after a timed wait that would leave a slot of the budget idle.
    assert "retrying as soon as one of our requests in flight finishes" in done.stderr
    assert "2 in flight allowed" in done.stderr


def test_refusals_while_our_requests_are_in_flight_do_not_use_up_retries(
    tmp_path: Path,
) -> None:
    with small_account(tmp_path, max_concurrent=1) as small:
        # No retries at all: every 429 here answers a request sent while another of ours held
        # the account's one place, so each goes again when that one is answered.
        config = settings(small.url, tmp_path, max_concurrency=6, batch_size_rows=5, max_retries=0)
        done = run(config, tmp_path, users_input())

        assert_everything_delivered(done, small, tmp_path)
        assert small.stats()["requests_by_status"].get(429, 0) > 0


def test_a_request_refused_with_none_of_ours_in_flight_gets_four_tries_a_retry(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # One request at a time, so every 429 finds none of ours in flight: other clients fill the
    # account. Six refusals in a row are 1.5 of max_retries 1 at a quarter each.
    sandbox.set_faults(Faults(sequence=["429"] * 6))
    config = settings(sandbox.url, tmp_path, max_concurrency=1, max_retries=1)

    done = run(config, tmp_path, users_input())

    assert_everything_delivered(done, sandbox, tmp_path)
    assert sandbox.stats()["requests_by_status"].get(429, 0) == 6


def test_a_full_account_that_never_frees_a_place_fails_the_run_after_four_tries_a_retry(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(forever="429"))
    config = settings(sandbox.url, tmp_path, max_concurrency=1, max_retries=1)

    done = run(config, tmp_path, users_input())

    assert done.exit_code == 1
    assert "HTTP 429: Too many concurrent requests (gave up after 8 attempts)" in done.stderr
    assert sandbox.stats()["requests_by_status"] == {429: 8}
    assert done.states == []


def test_answers_slower_than_the_timeout_are_retried(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.set_faults(Faults(sequence=["slow:2"]))

    done = run(settings(sandbox.url, tmp_path, request_timeout=0.5), tmp_path, users_input())

    assert_everything_delivered(done, sandbox, tmp_path)
    assert "no answer within 0.5s" in done.stderr


def test_a_listener_that_is_down_for_a_while_then_back(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = settings(f"http://127.0.0.1:{port}", tmp_path, retry_backoff_seconds=0.3)
    process = start_target(["--config", str(write_config(tmp_path, config))])
    assert process.stdin is not None
    process.stdin.write(users_input().encode())
    process.stdin.flush()
    wait_for_log(process, "connection failed")

    with Sandbox(
        account_id=SANDBOX_ACCOUNT, passcode=PASSCODE, db_path=str(tmp_path / "sb.db"), port=port
    ) as back:
        stdout, stderr = process.communicate(timeout=60)
        done = Finished(process.returncode, stdout.decode(), stderr.decode())
        assert_everything_delivered(done, back, tmp_path)


def test_a_fault_that_never_clears_fails_the_run_and_state_covers_only_delivered_records(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(forever="503", match="type=event"))
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 10),
        singer.state({"users": 10}),
        singer.schema("clicks", singer.EVENT_SCHEMA),
        singer.events("clicks", 10),
        singer.state({"users": 10, "clicks": 10}),
    )

    done = run(settings(sandbox.url, tmp_path, max_retries=2), tmp_path, singer_input)

    assert done.exit_code == 1
    assert done.states == [{"users": 10}]
    assert len(sandbox.profiles()) == 10
    assert sandbox.events() == []
    assert (
        "Stream 'clicks': a batch of 10 records could not be delivered: HTTP 503"
        in done.last_log_line
    )
    assert "gave up after 3 attempts" in done.last_log_line
    assert done.stderr.count("Stream 'clicks': received 10, sent 0") == 1  # one summary


def test_wrong_passcode_fails_within_one_round_of_requests_and_leaks_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = settings(sandbox.url, tmp_path, passcode="wrong-" + PASSCODE[::-1])

    done = run(config, tmp_path, users_input())

    assert done.exit_code == 1
    stats = sandbox.stats()
    # The cap starts open, so the requests sent before the first 401 came back went too (at
    # most `max_concurrency`), each refused alike; none is retried.
    assert 1 <= stats["requests_total"] <= config["max_concurrency"]
    assert stats["requests_by_status"] == {401: stats["requests_total"]}
    assert sandbox.profiles() == []
    assert "CleverTap refused the credentials (HTTP 401: Account ID is not valid)" in done.stderr
    assert f"account '{SANDBOX_ACCOUNT}'" in done.stderr
    assert config["passcode"] not in done.stderr + done.stdout
    assert done.states == []
