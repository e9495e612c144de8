"""The state contract: a STATE is written only once every record before it is settled."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from target_clevertap.checkpoint import Checkpoint
from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.upload_api import UploadApi


def test_state_follows_each_delivered_batch(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    # One request at a time makes completion order, and so the states written, deterministic.
    config.update(batch_size_rows=2, max_concurrency=1)
    result = run_target(config, singer.users_with_states(2, 2, 1))

    assert result.exit_code == 0
    assert result.states == [{"users": 2}, {"users": 4}, {"users": 5}]


def test_concurrent_completion_writes_states_in_order_and_ends_with_the_last(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config.update(batch_size_rows=2, max_concurrency=15)
    result = run_target(config, singer.users_with_states(*[2] * 50))

    written = [s["users"] for s in result.states]
    assert written == sorted(set(written)), "states must never go backwards or repeat"
    assert written[-1] == 100


def test_interleaved_streams_hold_state_until_both_are_delivered(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config["batch_size_rows"] = 3
    singer_input = singer.users_and_clicks(
        singer.profiles("users", 1),
        singer.events("clicks", 3, start=5),  # other users: no event waits for the profile
        singer.state({"step": 1}),
        singer.profiles("users", 1, start=1),
        singer.state({"step": 2}),
    )

    result = run_target(config, singer_input)

    # The clicks batch filled and was delivered first, but the one buffered user came before
    # the first STATE, so no state could be written until the end-of-input drain delivered it.
    assert result.states == [{"step": 2}]
    assert [len(b) for b in upload_api.bodies] == [3, 2]


def test_no_state_after_a_failed_batch(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config.update(batch_size_rows=2, max_retries=0)
    answers = iter([200, 503])

    def first_ok_then_down(records: list[dict[str, Any]]) -> tuple[int, Any]:
        code = next(answers, 503)
        return code, {
            "status": "success",
            "processed": len(records),
            "unprocessed": [],
        } if code == 200 else {"error": "down"}

    upload_api.default = first_ok_then_down
    result = run_target(config, singer.users_with_states(2, 2, 2))

    assert result.exit_code == 1
    assert result.states == [{"users": 2}]


def test_float_and_decimal_bookmarks_are_written_digit_for_digit(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 1),
        '{"type": "STATE", "value": {"bookmarks": {"users": '
        '{"replication_key_value": 1700000000.123456789}}}}',
    )

    result = run_target(config, singer_input)

    assert result.exit_code == 0
    assert result.states == [
        {"bookmarks": {"users": {"replication_key_value": 1700000000.123456789}}}
    ]


def test_state_without_records_is_passed_through(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    result = run_target(
        config, singer.lines(singer.state({"a": 1}), singer.state({"a": 1}), singer.state({"a": 2}))
    )

    assert result.states == [{"a": 1}, {"a": 2}]
    assert upload_api.requests == []


def test_checkpoint_waits_for_the_lowest_open_span_when_batches_finish_out_of_order() -> None:
    written: list[Any] = []
    checkpoint = Checkpoint(written.append)
    first = checkpoint.open_span(checkpoint.next_record())
    checkpoint.next_record()
    checkpoint.add_state("after-2")
    second = checkpoint.open_span(checkpoint.next_record())
    checkpoint.add_state("after-3")

    checkpoint.close_span(second)
    assert written == []
    checkpoint.close_span(first)
    assert written == ["after-3"]


def test_checkpoint_is_consistent_under_concurrent_completion() -> None:
    written: list[Any] = []
    checkpoint = Checkpoint(written.append)
    spans = []
    for n in range(200):
        spans.append(checkpoint.open_span(checkpoint.next_record()))
        checkpoint.add_state(n)
    threads = [threading.Thread(target=checkpoint.close_span, args=(s,)) for s in reversed(spans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert written == [199]


def test_a_quiet_stream_with_a_partial_buffer_does_not_hold_state_back(
    upload_api: UploadApi, config: dict, run_target: Any
) -> None:
    config.update(batch_size_rows=10, max_concurrency=1)
    singer_input = singer.users_and_clicks(
        singer.profiles("users", 3),
        singer.state({"step": 1}),
        *[
            [*singer.events("clicks", 10, start=10 * n), singer.state({"step": n + 2})]
            for n in range(5)
        ],
    )

    result = run_target(config, singer_input)

    assert [len(b) for b in upload_api.bodies][:2] == [3, 10], (
        "the 3 users left waiting are sent early"
    )
    assert result.states[0] == {"step": 1}
    assert result.states[-1] == {"step": 6}
    assert len(result.states) >= 4, "state advances during the run, not only at its end"


def test_the_reader_stays_within_a_window_of_the_oldest_unsettled_batch(
    config: dict, run_target: Any
) -> None:
    # 3 requests x 10 records: while the 2nd request hangs, the reader may go on only until 30
    # records past its start, so at most 2 more batches are sent. A crash then could make the
    # next run resend at most max_concurrency x batch_size_rows delivered records.
    with Sandbox(account_id=config["account_id"], passcode=config["passcode"]) as sandbox:
        # The batch holding u10..u19 (the 2nd) hangs, whichever order requests arrive in.
        sandbox.set_faults(Faults(forever="slow:2", match="identity=u10"))
        config.update(api_url=sandbox.url, batch_size_rows=10, max_concurrency=3)
        seen_while_stuck = watch_requests_while_the_second_hangs(sandbox)

        result = run_target(config, singer.users_then_state(200, {"n": 200}))

        assert result.exit_code == 0
        assert max(seen_while_stuck.result(timeout=30)) == 4
        assert sandbox.stats()["requests_total"] == 20
        assert result.states[-1] == {"n": 200}


def watch_requests_while_the_second_hangs(sandbox: Sandbox) -> Future[list[int]]:
    """Requests received (answered or in flight) from 0.5 s to 1.5 s after the 2nd arrived."""

    def received() -> int:
        stats = sandbox.stats()
        return int(stats["requests_total"]) + int(stats["in_flight"])

    def watch() -> list[int]:
        deadline = time.monotonic() + 20
        while received() < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        stuck_at = time.monotonic()
        seen = []
        while time.monotonic() < stuck_at + 1.5:
            if time.monotonic() > stuck_at + 0.5:
                seen.append(received())
            time.sleep(0.02)
        return seen

    return ThreadPoolExecutor(1).submit(watch)
