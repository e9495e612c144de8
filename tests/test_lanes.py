"""Request lanes through the pipeline's one door: endpoints, batch limits, budgets, answers.

Deletes are the lane answered per call: only a clear success counts; anything else is retried,
then fails the run with no state past it. (The mapping that routes rows to deletes comes with
the deletes issue; here records are handed to the pipeline as a sink would.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests_mock as rm

from target_clevertap.config import Settings
from target_clevertap.delivery import Route
from target_clevertap.lanes import DELETES, DEVICE_TOKENS, SUBSCRIPTIONS, UPLOADS
from target_clevertap.pipeline import Pipeline, RunFailed
from tests.loopback_api import LoopbackApi

URL = "https://api.clevertap.com"
DELETE_URL = f"{URL}/1/delete/profiles.json"
USERS_DELETED = Route("users", DELETES, "delete", "identity", "identity")


def pipeline(**settings: Any) -> Pipeline:
    resolved = Settings(account_id="acc", passcode="secret", base_url=URL, **settings)
    return Pipeline(resolved, logging.getLogger("test-lanes"))


def deliver(
    target: Pipeline, route: Route, payloads: list[dict[str, Any]], state: Any = None
) -> None:
    for payload in payloads:
        target.accept(route, {"row": payload}, payload)
    if state is not None:
        target.add_state(state)
    target.send_buffered(route.stream)
    target.finish()


def deletes(count: int) -> list[dict[str, Any]]:
    return [{"identity": f"u{n}"} for n in range(count)]


@pytest.fixture
def api() -> Iterator[rm.Mocker]:
    with rm.Mocker() as mocker:
        yield mocker


def test_every_lane_has_cleverTaps_endpoint_limit_and_budget() -> None:
    assert [(lane.path, lane.max_records, lane.budget) for lane in (UPLOADS, DEVICE_TOKENS)] == [
        ("/1/upload", 1000, "upload"),
        ("/1/upload", 100, "upload"),
    ]
    assert [(lane.path, lane.max_records, lane.budget) for lane in (DELETES, SUBSCRIPTIONS)] == [
        ("/1/delete/profiles.json", 100, "other"),
        ("/1/subscribe", 1000, "other"),
    ]


def test_deletes_go_100_identities_a_call_and_state_follows_their_success(
    api: rm.Mocker, capsys: pytest.CaptureFixture[str]
) -> None:
    api.post(DELETE_URL, json={"status": "success"})

    deliver(pipeline(), USERS_DELETED, deletes(250), state={"done": 250})

    bodies = [request.json() for request in api.request_history]
    assert sorted(len(body["identity"]) for body in bodies) == [50, 100, 100]
    assert all(list(body) == ["identity"] for body in bodies)
    assert sorted(i for body in bodies for i in body["identity"]) == sorted(
        f"u{n}" for n in range(250)
    )
    assert capsys.readouterr().out == '{"done": 250}\n'


@pytest.mark.parametrize(
    "answer",
    [
        {"json": {"status": "fail", "error": "x"}},
        {"json": {}},
        {"json": {"status": "partial"}},
        {"text": "<html>OK</html>"},
    ],
)
def test_a_delete_answer_that_does_not_say_success_is_retried_then_fails_the_run(
    api: rm.Mocker, capsys: pytest.CaptureFixture[str], answer: dict[str, Any]
) -> None:
    api.post(DELETE_URL, **answer)
    target = pipeline(max_retries=2, retry_backoff_seconds=0)

    with pytest.raises(RunFailed, match="could not be delivered"):
        deliver(target, USERS_DELETED, deletes(3), state={"done": 3})

    assert api.call_count == 3
    assert capsys.readouterr().out == "", "no state past a delete that may not have happened"


def test_a_delete_refused_as_malformed_is_split_down_to_the_identity_refused(
    api: rm.Mocker, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    def answer(request: Any, context: Any) -> dict[str, Any]:
        refused = "u3" in request.json()["identity"]
        context.status_code = 400 if refused else 200
        return {"status": "fail", "error": "Bad identity"} if refused else {"status": "success"}

    api.post(DELETE_URL, json=answer)
    rejects = tmp_path / "rejected.jsonl"

    deliver(pipeline(rejected_records_path=str(rejects)), USERS_DELETED, deletes(8), state=8)

    answered = [r.json()["identity"] for r in api.request_history]
    deleted = sorted(i for identities in answered if "u3" not in identities for i in identities)
    assert deleted == sorted(f"u{n}" for n in range(8) if n != 3)
    [rejected] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (rejected["payload"], rejected["code"]) == ({"identity": "u3"}, 400)
    assert "Bad identity" in rejected["error"]
    assert capsys.readouterr().out == "8\n"


def test_a_dry_run_sends_no_delete_and_says_how_many_it_would_have(
    api: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    deliver(pipeline(dry_run=True), USERS_DELETED, deletes(2))

    assert api.call_count == 0
    assert "would have deleted 2 profiles" in caplog.text


def test_deletes_keep_to_the_budget_of_cleverTaps_other_apis() -> None:
    with LoopbackApi(delay=lambda path, body: 0.2) as loopback:
        target = Pipeline(
            Settings(
                account_id="acc",
                passcode="secret",
                base_url=loopback.url,
                max_concurrency_other=2,
                batch_rows=1,
            ),
            logging.getLogger("test-lanes"),
        )
        deliver(target, USERS_DELETED, deletes(8))

    assert len(loopback.log) == 8
    assert loopback.most_in_flight == 2


def test_a_delete_answer_is_logged_at_debug_without_the_passcode(
    api: rm.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(DELETE_URL, json={"status": "success", "echo": "secret"})
    caplog.set_level(logging.DEBUG)

    deliver(pipeline(), USERS_DELETED, deletes(1))

    assert "profile delete answer: {'status': 'success', 'echo': '(passcode)'}" in caplog.text
    assert "secret" not in caplog.text
