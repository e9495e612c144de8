"""``POST /1/subscribe``: per-record answers, what it keeps, what it refuses, its shared budget."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import (
    ACCOUNT_ID,
    PASSCODE,
    SUBSCRIBE_PATH,
    Client,
    Response,
    database_without,
    profile,
    subscription,
    wait_until,
)

from target_clevertap.sandbox import Faults, Rules, Sandbox, read_counts, read_subscriptions

SKIPPED = "Skipped record number : 1"
TYPE_524 = "Subscription is incorrect. ErrorCode: 524 - type must be email or phone. "
STATUS_524 = (
    "Subscription is incorrect. ErrorCode: 524 - status must be Unsubscribe or Resubscribe. "
)
EMAIL_515 = "Subscription is incorrect. ErrorCode: 515 - value is not a valid email. "
PHONE_516 = "Subscription is incorrect. ErrorCode: 516 - value is not a valid phone. "
TOO_MANY = {"status": "fail", "error": "Too many concurrent requests", "code": 429}


def _success(processed: int) -> dict[str, Any]:
    return {"status": "success", "processed": processed, "unprocessed": []}


def _applied(sandbox: Sandbox) -> list[tuple[int, str, str, str, int]]:
    return [
        (row["batch"], row["type"], row["value"], row["status"], row["profiles"])
        for row in sandbox.subscriptions()
    ]


def test_applied_records_are_kept_in_order_with_the_profiles_sharing_the_value(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(
        profile("u-1", Email="ana@example.com"),
        profile("u-2", Email="ana@example.com", Phone="+14155550100"),
        profile("u-3", Email="bo@example.com"),
    )

    first = client.subscribe(
        subscription("ana@example.com"),
        subscription("+14155550100", "Unsubscribe", "phone"),
    )
    second = client.subscribe(
        subscription("ana@example.com", "Resubscribe"), subscription("new@example.com")
    )

    assert first.json == second.json == _success(2)
    assert _applied(sandbox) == [
        (1, "email", "ana@example.com", "Unsubscribe", 2),
        (1, "phone", "+14155550100", "Unsubscribe", 1),
        (2, "email", "ana@example.com", "Resubscribe", 2),
        (2, "email", "new@example.com", "Unsubscribe", 0),
    ]
    assert sandbox.subscription_status("email", "ana@example.com") == "Resubscribe"
    assert sandbox.subscription_status("phone", "+14155550100") == "Unsubscribe"
    assert sandbox.subscription_status("email", "bo@example.com") is None
    assert sandbox.subscription_status("phone", "ana@example.com") is None
    assert sandbox.counts()["subscriptions"] == 4
    assert sandbox.profile("u-1") == {"Email": "ana@example.com"}, "profiles are left alone"


REJECTED: list[tuple[str, Any, int, str]] = [
    ("not an object", "ana@example.com", 524, TYPE_524),
    ("no type", {"value": "ana@example.com", "status": "Unsubscribe"}, 524, TYPE_524),
    ("type sms", subscription("+14155550100", channel="sms"), 524, TYPE_524),
    ("type Email", subscription(channel="Email"), 524, TYPE_524),
    ("no status", {"type": "email", "value": "ana@example.com"}, 524, STATUS_524),
    ("status in lower case", subscription(status="unsubscribe"), 524, STATUS_524),
    ("status as a boolean", subscription(status=False), 524, STATUS_524),
    ("status Subscribe", subscription(status="Subscribe"), 524, STATUS_524),
    ("no value", {"type": "email", "status": "Unsubscribe"}, 515, EMAIL_515),
    ("email without @", subscription("ana.example.com"), 515, EMAIL_515),
    ("email as a list", subscription(["ana@example.com"]), 515, EMAIL_515),
    ("phone without +", subscription("14155550100", channel="phone"), 516, PHONE_516),
    ("phone as a number", subscription(14155550100, channel="phone"), 516, PHONE_516),
    ("phone too short", subscription("+12345", channel="phone"), 516, PHONE_516),
    ("email given as phone", subscription("ana@example.com", channel="phone"), 516, PHONE_516),
]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "code", "reason"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_rejected_record(
    sandbox: Sandbox, client: Client, record: Any, code: int, reason: str
) -> None:
    answer = client.subscribe(record)

    assert answer.status == 200
    assert (answer.json["status"], answer.json["processed"]) == ("fail", 0)
    [item] = answer.json["unprocessed"]
    assert (item["status"], item["code"], item["error"]) == ("fail", code, reason + SKIPPED)
    assert sandbox.subscriptions() == []


def test_a_partial_answer_lists_each_refused_record_by_1_based_number_and_applies_the_rest(
    sandbox: Sandbox, client: Client
) -> None:
    answer = client.subscribe(
        subscription("ana@example.com"),
        subscription("bad", "Resubscribe"),
        subscription("+14155550100", "Resubscribe", "phone"),
        subscription("+1", channel="phone"),
        subscription(status="Maybe"),
    )

    body = answer.json
    assert (body["status"], body["processed"]) == ("partial", 2)
    assert [(item["code"], item["error"][-1]) for item in body["unprocessed"]] == [
        (515, "2"),
        (516, "4"),
        (524, "5"),
    ]
    echo = body["unprocessed"][0]["record"]
    assert echo == {"status": "Resubscribe", "type": "email", "value": "bad"}
    assert list(echo) == sorted(echo)
    assert [(row["value"], row["status"]) for row in sandbox.subscriptions()] == [
        ("ana@example.com", "Unsubscribe"),
        ("+14155550100", "Resubscribe"),
    ]


def test_more_than_1000_records_get_400_and_exactly_1000_pass(
    sandbox: Sandbox, client: Client
) -> None:
    records = [subscription(f"u{n}@example.com") for n in range(1001)]

    too_many = client.subscribe(*records)
    at_limit = client.subscribe(*records[:1000])

    assert too_many.status == 400
    assert too_many.json == {
        "status": "fail",
        "error": "Malformed request: at most 1000 records are allowed per request, got 1001",
        "code": 400,
    }
    assert at_limit.json == _success(1000)
    assert len(sandbox.subscriptions()) == 1000
    assert {row["batch"] for row in sandbox.subscriptions()} == {1}


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"d": []}', b'{"d": {}}', b'{"records": []}', b'{"d": null}'],
)
def test_unusable_bodies_get_400_malformed_request(
    sandbox: Sandbox, client: Client, body: bytes
) -> None:
    answer = client.post(body, path=SUBSCRIBE_PATH)

    assert answer.status == 400
    assert answer.json == {"status": "fail", "error": "Malformed request", "code": 400}
    assert sandbox.subscriptions() == []


def test_unknown_top_level_keys_are_ignored_unless_strict(client: Client) -> None:
    body = {"d": [subscription()], "extra": 1}

    assert client.post(body, path=SUBSCRIBE_PATH).json == _success(1)
    with Sandbox(ACCOUNT_ID, PASSCODE, rules=Rules(strict_keys=True)) as strict:
        answer = Client(strict.port).post(body, path=SUBSCRIBE_PATH)
    assert answer.status == 400
    assert answer.json["error"] == "Malformed request: unknown top-level keys ['extra']"


def test_bad_credentials_get_401_and_apply_nothing(sandbox: Sandbox) -> None:
    answer = Client(sandbox.port, passcode="wrong").subscribe(subscription())

    assert answer.status == 401
    assert answer.json == {"status": "fail", "error": "Account ID is not valid", "code": 401}
    assert sandbox.subscriptions() == []


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_other_methods_get_405(client: Client, method: str) -> None:
    answer = client.request(method, SUBSCRIBE_PATH)

    assert answer.status == 405
    assert answer.headers["allow"] == "POST"


def test_dry_run_is_ignored_because_clevertap_documents_none_for_subscribe(
    sandbox: Sandbox, client: Client
) -> None:
    answer = client.subscribe(subscription(), query="?dryRun=1")

    assert answer.json == _success(1)
    assert sandbox.subscription_status("email", "ana@example.com") == "Unsubscribe"
    assert sandbox.requests() == [], "subscribes are not in the upload request log"


def test_a_sandbox_without_a_store_answers_and_counts_subscribes() -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, store=False) as sandbox:
        answer = Client(sandbox.port).subscribe(subscription(), subscription("bad"))

    assert (answer.json["status"], answer.json["processed"]) == ("partial", 1)
    other = sandbox.stats()["other_apis"]
    assert (other["records_received"], other["records_accepted"]) == (2, 1)


def _hold(port: int, request: str) -> Response:
    client = Client(port)
    try:
        if request == "delete":
            return client.delete({"identity": "u-1"})
        return client.subscribe(subscription(f"{request}@example.com"))
    finally:
        client.close()


def test_subscribes_and_deletes_share_3_in_flight_while_uploads_keep_their_own_budget() -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, latency_ms=800) as sandbox, ThreadPoolExecutor(3) as pool:
        held = [pool.submit(_hold, sandbox.port, kind) for kind in ("delete", "s1", "s2")]
        wait_until(lambda: sandbox.stats()["other_apis"]["in_flight"] == 3, "3 requests in flight")

        extra = _hold(sandbox.port, "extra")
        extra_delete = _hold(sandbox.port, "delete")
        upload = Client(sandbox.port).upload(profile("u-9"))
        answers = [future.result() for future in held]

    assert extra.status == extra_delete.status == 429
    assert extra.json == TOO_MANY
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert upload.status == 200
    assert sorted(row["value"] for row in sandbox.subscriptions()) == [
        "s1@example.com",
        "s2@example.com",
    ]
    stats = sandbox.stats()
    assert stats["other_apis"]["requests_by_status"] == {200: 3, 429: 2}
    assert stats["requests_by_status"] == {200: 1}


def test_faults_script_subscribes_like_other_requests(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(sequence=["503", "store:503"], match="type=phone"))
    phone = subscription("+14155550100", channel="phone")

    email_only = client.subscribe(subscription())
    refused = client.subscribe(subscription("bo@example.com"), phone)
    stored_then_failed = client.subscribe(phone)
    retried = client.subscribe(phone)

    assert email_only.json == _success(1)
    assert refused.status == stored_then_failed.status == 503
    assert retried.json == _success(1)
    assert [row["value"] for row in sandbox.subscriptions()] == [
        "ana@example.com",
        "+14155550100",
        "+14155550100",
    ]


def test_empty_unprocessed_and_spaced_json_quirks_apply(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(empty_unprocessed=True, spaced_json=True))

    answer = client.subscribe(subscription(), subscription("bad"))

    assert answer.json == {"status": "partial", "processed": 1, "unprocessed": []}
    assert answer.body.startswith(b'{"status" : "partial" , ')


def test_a_database_from_before_subscriptions_were_kept_still_reads(tmp_path: Path) -> None:
    db = database_without(tmp_path, "subscriptions")

    assert read_subscriptions(db) == []
    assert read_counts(db)["subscriptions"] == 0
