"""Request-level behaviour of the sandbox: auth, body checks, routing, dry runs, concurrency."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from sandbox_helpers import (
    ACCOUNT_ID,
    JSON_CONTENT_TYPE,
    PASSCODE,
    Client,
    Response,
    event,
    profile,
    wait_until,
)

from target_clevertap.sandbox import Faults, Rules, Sandbox

AUTH_FAILURE = {"status": "fail", "error": "Account ID is not valid", "code": 401}
MALFORMED = {"status": "fail", "error": "Malformed request", "code": 400}
TOO_MANY = {"status": "fail", "error": "Too many concurrent requests", "code": 429}


@pytest.mark.parametrize(
    "headers",
    [
        {"X-CleverTap-Account-Id": ACCOUNT_ID, "X-CleverTap-Passcode": "wrong-passcode"},
        {"X-CleverTap-Account-Id": "other-account", "X-CleverTap-Passcode": PASSCODE},
        {"X-CleverTap-Account-Id": ACCOUNT_ID},
        {"X-CleverTap-Passcode": PASSCODE},
        {},
    ],
    ids=["wrong passcode", "wrong account", "no passcode", "no account", "no headers"],
)
def test_bad_or_missing_credentials_get_the_recorded_401(
    sandbox: Sandbox, client: Client, headers: dict[str, str]
) -> None:
    body = b'{"d": [{"type": "profile", "identity": "u-1", "profileData": {}}]}'

    answer = client.request("POST", "/1/upload", body, headers)

    assert answer.status == 401
    assert answer.json == AUTH_FAILURE
    assert answer.headers["content-type"] == JSON_CONTENT_TYPE
    assert sandbox.profiles() == []


def test_passcodes_never_reach_answers_or_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="target_clevertap.sandbox")
    sent_passcode = "typo-" + PASSCODE
    wrong = Client(sandbox.port, passcode=sent_passcode)
    right = Client(sandbox.port)

    answers = [wrong.upload(profile()), right.upload(profile()), right.upload(profile(Age="x"))]

    assert [answer.status for answer in answers] == [401, 200, 200]
    assert "POST /1/upload 401" in caplog.text
    for secret in (PASSCODE, sent_passcode):
        assert secret not in caplog.text
        assert all(secret.encode() not in answer.body for answer in answers)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"d": [{"type": "profile"',
        b"[]",
        b'"d"',
        b'{"records": []}',
        b'{"d": {"type": "profile"}}',
        b'{"d": "x"}',
        b'{"d": []}',
        b'{"d": [NaN]}',
        b"",
        b"\xff\xfe\x00",
    ],
)
def test_unusable_bodies_get_400_malformed_request(client: Client, body: bytes) -> None:
    answer = client.post(body)

    assert answer.status == 400
    assert answer.json == MALFORMED
    assert answer.headers["content-type"] == JSON_CONTENT_TYPE


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"d": [{"type": "profile", "identity": 12345678901234567890123, '
        b'"profileData": {"Age": 1e400}}]}',
        '{"d": [{"type": "profile", "identity": 12345678901234567890123, '
        '"profileData": {"Note": "\\ud800"}}]}'.encode("utf-16"),
    ],
    ids=["utf-8 with BOM, a number beyond a float", "utf-16, an escaped lone surrogate"],
)
def test_bodies_python_json_reads_are_read_alike(
    sandbox: Sandbox, client: Client, body: bytes
) -> None:
    # The fast parser refuses these; the answers stay those of json.loads.
    answer = client.post(body)

    assert answer.json == {"status": "success", "processed": 1, "unprocessed": []}
    assert sandbox.profiles()[0]["identity"] == "12345678901234567890123"


def test_more_than_1000_records_get_400_and_exactly_1000_pass(
    sandbox: Sandbox, client: Client
) -> None:
    records = [event(identity=f"u-{n}") for n in range(1001)]

    too_many = client.upload(*records)
    at_limit = client.upload(*records[:1000])

    assert too_many.status == 400
    assert too_many.json["code"] == 400
    assert "at most 1000 records" in too_many.json["error"]
    assert at_limit.json == {"status": "success", "processed": 1000, "unprocessed": []}
    assert sandbox.counts()["events"] == 1000


def test_unknown_top_level_keys_are_ignored_unless_strict(client: Client) -> None:
    body = {"d": [profile()], "dryRun": False, "extra": 1}

    assert client.post(body).json["status"] == "success"
    with Sandbox(ACCOUNT_ID, PASSCODE, rules=Rules(strict_keys=True)) as strict:
        answer = Client(strict.port).post(body)
    assert answer.status == 400
    assert answer.json["error"] == "Malformed request: unknown top-level keys ['dryRun', 'extra']"


def test_one_request_may_mix_profiles_events_and_tokens(sandbox: Sandbox, client: Client) -> None:
    token = {"type": "token", "objectId": "__g1", "tokenData": {"id": "t-1", "type": "fcm"}}

    answer = client.upload(profile(Name="Ana"), event("Charged", Amount=3), token)

    assert answer.json == {"status": "success", "processed": 3, "unprocessed": []}
    assert sandbox.counts() | {"requests_by_status": None} == {
        "profiles": 1,
        "events": 1,
        "tokens": 1,
        "requests": 1,
        "deletions": 0,
        "subscriptions": 0,
        "events_by_name": {"Charged": 1},
        "requests_by_status": None,
    }


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_upload_get_405(client: Client, method: str) -> None:
    answer = client.request(method, "/1/upload")

    assert answer.status == 405
    assert answer.json == {"status": "fail", "error": "Method not allowed", "code": 405}
    assert answer.headers["allow"] == "POST"


@pytest.mark.parametrize(("method", "path"), [("POST", "/1/uploads"), ("GET", "/"), ("POST", "/")])
def test_unknown_paths_get_404(client: Client, method: str, path: str) -> None:
    answer = client.request(method, path, b"{}")

    assert answer.status == 404
    assert answer.json == {"status": "fail", "error": "Not found", "code": 404}


def test_dry_run_validates_and_answers_but_stores_nothing(sandbox: Sandbox, client: Client) -> None:
    records = (profile("u-1", Name="Ana"), profile("u-2", Email="nope"), event())

    dry = client.upload(*records, path="/1/upload?dryRun=1")
    wet = client.upload(*records, path="/1/upload?dryRun=0")

    assert dry.json == wet.json
    assert dry.json["status"] == "partial"
    assert dry.json["processed"] == 2
    assert [row["identity"] for row in sandbox.profiles()] == ["u-1"]
    assert len(sandbox.events()) == 1
    assert [row["dry_run"] for row in sandbox.requests()] == [True, False]
    assert sandbox.stats()["records_accepted"] == 2


def test_connections_are_kept_alive_between_requests(client: Client) -> None:
    first = client.upload(profile())
    socket_after_first = client.connection.sock
    second = client.upload(profile())

    assert (first.status, second.status) == (200, 200)
    assert first.headers["content-length"] == str(len(first.body))
    assert socket_after_first is not None
    assert client.connection.sock is socket_after_first


def test_stopping_ends_kept_alive_connections(sandbox: Sandbox, client: Client) -> None:
    assert client.upload(event()).status == 200

    sandbox.stop()

    with pytest.raises(ConnectionError):
        client.upload(event())
    assert len(sandbox.events()) == 1


def _upload_event(port: int, name: str) -> Response:
    client = Client(port)
    try:
        return client.upload(event(name))
    finally:
        client.close()


def test_sixteenth_concurrent_request_gets_429_and_stores_nothing() -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, latency_ms=800) as sandbox, ThreadPoolExecutor(15) as pool:
        held = [pool.submit(_upload_event, sandbox.port, f"held {n}") for n in range(15)]
        wait_until(lambda: sandbox.stats()["in_flight"] == 15, "15 requests in flight")

        extra = _upload_event(sandbox.port, "extra")
        answers = [future.result() for future in held]
        sandbox.set_faults(Faults())  # no latency for the last one
        after = _upload_event(sandbox.port, "after")

    assert extra.status == 429
    assert extra.json == TOO_MANY
    assert "retry-after" not in extra.headers
    assert [answer.status for answer in answers] == [200] * 15
    assert after.status == 200
    assert sorted(row["evt_name"] for row in sandbox.events()) == sorted(
        [f"held {n}" for n in range(15)] + ["after"]
    )
    stats = sandbox.stats()
    assert stats["requests_by_status"] == {200: 16, 429: 1}
    assert stats["max_in_flight_seen"] == 16
    assert stats["in_flight"] == 0
