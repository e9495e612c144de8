"""Subscriptions and device tokens through the pipeline's one door: batch limits, budgets,
ordering of one address's changes, dry runs. (Whole runs against the sandbox are in
test_tokens_and_subscriptions.py.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests_mock as rm

from target_clevertap.config import Settings
from target_clevertap.delivery import Route
from target_clevertap.lanes import DELETES, DEVICE_TOKENS, SUBSCRIPTIONS
from target_clevertap.pipeline import Pipeline
from tests.loopback_api import LoopbackApi

URL = "https://api.clevertap.com"
OPTOUTS = Route("optouts", SUBSCRIPTIONS, "subscription", "address", "value")
TOKENS = Route("tokens", DEVICE_TOKENS, "token", "objectId", "objectId")
ERASED = Route("erased", DELETES, "delete", "objectId", "guid")


@pytest.fixture
def api() -> Iterator[rm.Mocker]:
    with rm.Mocker() as mocker:
        yield mocker


def pipeline(base_url: str = URL, **settings: Any) -> Pipeline:
    resolved = Settings(account_id="acc", passcode="secret", base_url=base_url, **settings)
    return Pipeline(resolved, logging.getLogger("test-subscriptions"))


def accept_all(target: Pipeline, route: Route, payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        target.accept(route, {"row": payload}, payload)


def deliver(target: Pipeline, *batches: tuple[Route, list[dict[str, Any]]]) -> None:
    for route, payloads in batches:
        accept_all(target, route, payloads)
    for route, _ in batches:
        target.send_buffered(route.stream)
    target.finish()


def change(value: str, status: str = "Unsubscribe") -> dict[str, Any]:
    return {"type": "email", "value": value, "status": status}


def token(object_id: str, token_id: str) -> dict[str, Any]:
    return {"type": "token", "objectId": object_id, "tokenData": {"id": token_id, "type": "fcm"}}


def slow_first_request(seconds: float = 0.3) -> Any:
    """A delay that holds the first request the loopback API sees, and no other."""
    seen: list[str] = []

    def delay(path: str, body: Any) -> float:
        seen.append(path)
        return seconds if len(seen) == 1 else 0.0

    return delay


def test_subscriptions_go_1000_a_call_and_tokens_100(api: rm.Mocker) -> None:
    api.post(f"{URL}/1/subscribe", json={"status": "success"})
    api.post(f"{URL}/1/upload", json={"status": "success", "processed": 100, "unprocessed": []})

    deliver(
        pipeline(),
        (OPTOUTS, [change(f"u{n}@example.com") for n in range(1500)]),
        (TOKENS, [token(f"__g{n}", f"t{n}") for n in range(100)]),
    )

    sizes = {
        path: sorted(len(r.json()["d"]) for r in api.request_history if r.path == path)
        for path in ("/1/subscribe", "/1/upload")
    }
    assert sizes == {"/1/subscribe": [500, 1000], "/1/upload": [100]}


def test_an_address_repeated_in_a_filling_batch_starts_a_new_request_sent_after_the_first() -> None:
    with LoopbackApi(delay=slow_first_request()) as loopback:
        deliver(
            pipeline(loopback.url, max_concurrency_other=3),
            (
                OPTOUTS,
                [
                    change("a@example.com"),
                    change("b@example.com"),
                    change("a@example.com", "Resubscribe"),
                    change("c@example.com"),
                ],
            ),
        )

    first, second = sorted(loopback.log, key=lambda r: r.started)
    assert [r["value"] for r in first.body["d"]] == ["a@example.com", "b@example.com"]
    assert [(r["value"], r["status"]) for r in second.body["d"]] == [
        ("a@example.com", "Resubscribe"),
        ("c@example.com", "Unsubscribe"),
    ]
    assert second.started >= first.answered


def test_changes_of_one_address_in_two_streams_keep_their_reading_order() -> None:
    other_stream = Route("crm_optouts", SUBSCRIPTIONS, "subscription", "address", "value")
    with LoopbackApi(delay=slow_first_request()) as loopback:
        target = pipeline(loopback.url, max_concurrency_other=3, batch_rows=2)
        accept_all(target, OPTOUTS, [change("a@example.com")])  # a batch still filling
        accept_all(target, other_stream, [change("a@example.com", "Resubscribe")])
        accept_all(target, other_stream, [change("z@example.com")])  # full: sent
        target.finish()

    old, new = loopback.log[0], loopback.log[1]
    assert [r["status"] for r in old.body["d"]] == ["Unsubscribe"]
    assert [r["status"] for r in new.body["d"]] == ["Resubscribe", "Unsubscribe"]
    assert new.started >= old.answered


def test_subscriptions_share_the_budget_of_cleverTaps_other_apis_with_deletes() -> None:
    with LoopbackApi(delay=lambda path, body: 0.2) as loopback:
        deliver(
            pipeline(loopback.url, max_concurrency_other=2, batch_rows=1),
            (OPTOUTS, [change(f"u{n}@example.com") for n in range(4)]),
            (ERASED, [{"guid": f"__d{n}"} for n in range(4)]),
        )

    assert (
        sorted(r.path for r in loopback.log)
        == ["/1/delete/profiles.json"] * 4 + ["/1/subscribe"] * 4
    )
    assert loopback.most_in_flight == 2


def test_a_token_after_a_delete_of_its_user_waits_for_the_delete() -> None:
    with LoopbackApi(delay=slow_first_request()) as loopback:
        target = pipeline(loopback.url, batch_rows=1)
        accept_all(target, ERASED, [{"guid": "__g1"}])
        accept_all(target, TOKENS, [token("__g1", "t1")])
        target.finish()

    erase, upload = loopback.log[0], loopback.log[1]
    assert (erase.path, upload.path) == ("/1/delete/profiles.json", "/1/upload")
    assert upload.started >= erase.answered


def test_tokens_of_one_user_are_sent_together_and_never_held_for_each_other() -> None:
    with LoopbackApi() as loopback:
        deliver(pipeline(loopback.url), (TOKENS, [token("__g1", "t1"), token("__g1", "t2")]))

    [request] = loopback.log
    assert [r["tokenData"]["id"] for r in request.body["d"]] == ["t1", "t2"]


def test_a_dry_run_sends_no_subscription_change_and_says_how_many_it_would_have(
    api: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    deliver(pipeline(dry_run=True), (OPTOUTS, [change("a@example.com"), change("b@example.com")]))

    assert api.call_count == 0
    assert (
        "would have sent 2 subscription changes (a dry run sends none: CleverTap's subscribe "
        "has no dry run)"
    ) in caplog.text


def test_a_dry_run_validates_tokens_with_cleverTaps_dry_run(api: rm.Mocker) -> None:
    api.post(f"{URL}/1/upload?dryRun=1", json={"status": "success", "processed": 1})

    deliver(pipeline(dry_run=True), (TOKENS, [token("__g1", "t1")]))

    assert [r.url for r in api.request_history] == [f"{URL}/1/upload?dryRun=1"]
