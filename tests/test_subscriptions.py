"""Subscription streams (`type: "subscription"`): the real target process against the sandbox
(1,000 a call, reading order of one address, local rejections, retries, state, dry run), and
in-process runs against scripted partial answers (the sandbox answers every valid record)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock as rm

from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.process import Finished, run_target, write_config
from tests.upload_api import API_URL, UploadApi, rejected_lines

SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "properties": {
        "channel": {"type": ["string", "null"]},
        "address": {"type": ["string", "null"]},
        "subscribed": {"type": ["boolean", "string", "null"]},
    }
}


def subscription_config(settings: dict[str, Any], **entry: Any) -> dict[str, Any]:
    stream = {
        "type": "subscription",
        "value_field": "address",
        "status_field": "subscribed",
        **entry,
    }
    return {**settings, "streams": {"optouts": stream}}


def row(address: str, subscribed: Any = False, channel: str = "email") -> str:
    return singer.record(
        "optouts", {"channel": channel, "address": address, "subscribed": subscribed}
    )


def singer_input(*rows: str | list[str]) -> str:
    return singer.lines(singer.schema("optouts", SUBSCRIPTION_SCHEMA), *rows)


def run(config: dict[str, Any], tmp_path: Path, *rows: str | list[str]) -> Finished:
    return run_target(["--config", str(write_config(tmp_path, config))], singer_input(*rows))


def batch_sizes(sandbox: Sandbox) -> list[int]:
    batches = [r["batch"] for r in sandbox.subscriptions()]
    return sorted(batches.count(b) for b in set(batches))


def test_subscriptions_go_1000_a_call_and_state_follows(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    emails = [row(f"u{n}@example.com") for n in range(1500)]
    phones = [row(f"+1415555{n:04d}", True, "phone") for n in range(1000)]

    done = run(
        subscription_config(settings), tmp_path, emails, phones, singer.state({"optouts": 2500})
    )

    assert done.exit_code == 0, done.stderr
    assert batch_sizes(sandbox) == [500, 1000, 1000]
    assert sandbox.subscription_status("email", "u7@example.com") == "Unsubscribe"
    assert sandbox.subscription_status("phone", "+14155550007") == "Resubscribe"
    assert done.states == [{"optouts": 2500}]
    assert "Stream 'optouts': received 2500, sent 2500, accepted 2500" in done.stderr


def test_an_unsubscribe_then_resubscribe_of_one_address_ends_resubscribed(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = subscription_config({**settings, "max_concurrency_other": 3}, channel="email")
    done = run(
        config,
        tmp_path,
        row("ana@example.com", "Unsubscribe"),
        row("bob@example.com", False),
        row("ana@example.com", "resubscribe"),
        row("ana@example.com", False),
        row("ana@example.com", True),
    )

    assert done.exit_code == 0, done.stderr
    applied = [(r["batch"], r["value"], r["status"]) for r in sandbox.subscriptions()]
    assert [(value, status) for _, value, status in applied] == [
        ("ana@example.com", "Unsubscribe"),
        ("bob@example.com", "Unsubscribe"),
        ("ana@example.com", "Resubscribe"),
        ("ana@example.com", "Unsubscribe"),
        ("ana@example.com", "Resubscribe"),
    ]
    assert [batch for batch, _, _ in applied] == [1, 1, 2, 3, 4], "one change of ana per call"
    assert sandbox.subscription_status("email", "ana@example.com") == "Resubscribe"


def test_rows_that_cannot_be_sent_are_rejected_here_with_their_reason(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = subscription_config({**settings, "default_phone_region": "US"})
    done = run(
        config,
        tmp_path,
        row("not-an-address"),
        row("call me", channel="phone"),
        row("ana@example.com", "maybe"),
        row("ana@example.com", channel="sms"),
        row("", True),
        row("(415) 555-0100", True, "phone"),
        singer.state({"optouts": 6}),
    )

    assert done.exit_code == 0, done.stderr
    assert [(r["code"], r["source"]) for r in rejected_lines(config)] == [
        ("email_invalid", "local"),
        ("phone_invalid", "local"),
        ("status_invalid", "local"),
        ("channel_invalid", "local"),
        ("value_missing", "local"),
    ]
    assert [(r["type"], r["value"]) for r in sandbox.subscriptions()] == [("phone", "+14155550100")]
    assert done.states == [{"optouts": 6}]


def test_a_refused_call_is_retried_and_every_change_applied_once(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(sequence=["503", "429"]))
    rows = [row(f"u{n}@example.com") for n in range(1200)]

    done = run(subscription_config(settings), tmp_path, rows, singer.state({"optouts": 1200}))

    assert done.exit_code == 0, done.stderr
    assert batch_sizes(sandbox) == [200, 1000]
    assert done.states == [{"optouts": 1200}]
    by_status = sandbox.stats()["other_apis"]["requests_by_status"]
    assert (by_status.get(503), by_status.get(429)) == (1, 1), by_status


def test_identity_settings_on_a_subscription_stream_refuse_to_start(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = subscription_config(settings, identity_field="user_id")

    done = run(config, tmp_path, row("ana@example.com"))

    assert done.exit_code != 0
    assert "Setting 'streams.optouts.identity_field' does not apply to a subscription " in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert sandbox.subscriptions() == []


def test_a_dry_run_sends_no_subscription_change_and_writes_no_state(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = {**subscription_config(settings), "dry_run": True}

    done = run(config, tmp_path, row("ana@example.com"), singer.state({"optouts": 1}))

    assert done.exit_code == 0, done.stderr
    assert sandbox.subscriptions() == []
    assert "would have sent 1 subscription changes" in done.stderr
    assert done.states == []


# --- partial answers (scripted) ---------------------------------------------------------------


@pytest.fixture
def subscribe_api() -> Iterator[UploadApi]:
    api = UploadApi()
    with rm.Mocker() as mocker:
        mocker.post(f"{API_URL}/1/subscribe", text=api.answer)
        yield api


def partial(answer: dict[str, Any]) -> Callable[[list[Any]], tuple[int, Any]]:
    return lambda records: (200, {"status": "partial", **answer})


def test_a_partial_answer_rejects_the_listed_record_and_delivers_the_counted_rest(
    subscribe_api: UploadApi, config: dict[str, Any], run_target: Any
) -> None:
    refusal = {"code": 515, "error": "Invalid email. Skipped record number : 2"}
    subscribe_api.script.append(partial({"processed": 2, "unprocessed": [refusal]}))

    result = run_target(
        subscription_config(config),
        singer_input(
            row("a@example.com"), row("b@example.com"), row("c@example.com"), singer.state(3)
        ),
    )

    assert result.exit_code == 0, result.log
    [rejected] = rejected_lines(config)
    assert (rejected["record"]["address"], rejected["code"]) == ("b@example.com", 515)
    assert result.states == [3]


@pytest.mark.parametrize(
    "answer",
    [{}, {"errors": [{"value": "b@example.com"}]}, {"processed": 1, "unprocessed": []}],
)
def test_records_a_partial_answer_does_not_account_for_are_unknown_never_delivered(
    subscribe_api: UploadApi, config: dict[str, Any], run_target: Any, answer: dict[str, Any]
) -> None:
    subscribe_api.script.append(partial(answer))

    result = run_target(
        subscription_config(config),
        singer_input(row("a@example.com"), row("b@example.com"), singer.state(2)),
    )

    assert result.exit_code == 0, result.log
    assert [(r["code"], r["source"]) for r in rejected_lines(config)] == [
        ("unknown_outcome", "clevertap"),
        ("unknown_outcome", "clevertap"),
    ]
    assert result.states == [2]
