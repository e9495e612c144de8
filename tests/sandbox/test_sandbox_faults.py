"""Fault injection: scripted answers, resets, slowness, match filters, store-then-fail, admin."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sandbox_helpers import Client, event, profile, wait_until

from target_clevertap.sandbox import Faults, Sandbox
from target_clevertap.sandbox.faults import FaultAction, parse_action

UNAVAILABLE = {"status": "fail", "error": "Service Unavailable", "code": 503}


def _statuses(client: Client, *records: Any, times: int) -> list[int]:
    return [client.upload(*records).status for _ in range(times)]


def test_scripted_sequence_is_used_up_then_requests_succeed(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.set_faults(Faults(sequence="503, 503,200"))

    answers = [client.upload(event(f"try {n}")) for n in range(4)]

    assert [answer.status for answer in answers] == [503, 503, 200, 200]
    assert answers[0].json == UNAVAILABLE
    assert [row["evt_name"] for row in sandbox.events()] == ["try 2", "try 3"]
    assert sandbox.stats()["requests_by_status"] == {200: 2, 503: 2}


@pytest.mark.parametrize(
    ("entry", "error"),
    [("429", "Too many concurrent requests"), ("400", "Malformed request"), ("500", None)],
)
def test_json_faults_use_clevertap_texts(
    sandbox: Sandbox, client: Client, entry: str, error: str | None
) -> None:
    sandbox.set_faults(Faults(sequence=[entry]))

    answer = client.upload(profile())

    assert answer.status == int(entry)
    assert answer.json == {
        "status": "fail",
        "error": error or "Internal Server Error",
        "code": int(entry),
    }
    assert "retry-after" not in answer.headers
    assert sandbox.profiles() == []


def test_html_gateway_error(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(sequence=["502html"]))

    answer = client.upload(profile())

    assert answer.status == 502
    assert answer.headers["content-type"] == "text/html"
    assert answer.body.startswith(b"<html>")
    assert b"502 Bad Gateway" in answer.body
    assert sandbox.profiles() == []


def test_reset_closes_the_connection_without_an_answer(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(sequence=["reset"]))

    with pytest.raises(ConnectionError):
        client.upload(event())
    retry = Client(sandbox.port).upload(event())

    assert retry.status == 200
    assert len(sandbox.events()) == 1
    assert sandbox.stats()["requests_by_status"] == {0: 1, 200: 1}
    assert [row["status"] for row in sandbox.requests()] == [0, 200]


def test_slow_answers_normally_after_the_wait(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(sequence=["slow:0.2"]))

    started = time.monotonic()
    answer = client.upload(event())
    elapsed = time.monotonic() - started

    assert answer.json["status"] == "success"
    assert elapsed >= 0.2
    assert len(sandbox.events()) == 1


def test_added_latency_delays_every_upload(client: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(Faults(latency_ms=150))

    started = time.monotonic()
    statuses = _statuses(client, profile(), times=2)

    assert statuses == [200, 200]
    assert time.monotonic() - started >= 0.3


def test_a_latency_that_includes_the_work_stores_first_and_answers_at_the_latency(
    client: Client, sandbox: Sandbox
) -> None:
    sandbox.set_faults(Faults(latency_ms=1500, latency_includes_work=True))
    answers: list[Any] = []
    started = time.monotonic()
    sender = threading.Thread(target=lambda: answers.append(client.upload(event())))
    sender.start()

    wait_until(lambda: len(sandbox.events()) == 1, "the event stored before the answer")
    stored_after = time.monotonic() - started
    sender.join()
    answered_after = time.monotonic() - started

    assert answers[0].status == 200
    assert stored_after < 1.0  # the work came first, not after the latency
    assert answered_after >= 1.5  # the answer still waited for the whole latency


def test_forever_with_match_fails_one_stream_while_another_succeeds(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.set_faults(Faults(forever="503", match="evtName=Charged"))

    charged = _statuses(client, event("Charged", Amount=1), times=3)
    mixed = client.upload(profile(), event("Charged", Amount=2)).status
    others = [client.upload(profile()).status, client.upload(event("Viewed")).status]
    sandbox.set_faults(Faults())
    cleared = client.upload(event("Charged", Amount=3)).status

    assert (charged, mixed, others, cleared) == ([503] * 3, 503, [200, 200], 200)
    assert [row["evt_data"] for row in sandbox.events() if row["evt_name"] == "Charged"] == [
        {"Amount": 3}
    ]


def test_match_filter_leaves_the_sequence_for_matching_requests(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.set_faults(Faults(sequence=["500"], match="type=event"))

    statuses = [
        client.upload(profile()).status,
        client.upload(event()).status,
        client.upload(event()).status,
    ]

    assert statuses == [200, 500, 200]


def test_store_then_fail_stores_every_attempt_then_answers_503(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.set_faults(Faults(store_then_fail=True))

    first, retry = client.upload(event("Charged")), client.upload(event("Charged"))

    assert (first.status, retry.status) == (503, 503)
    assert first.json == UNAVAILABLE
    assert [row["evt_name"] for row in sandbox.events()] == ["Charged", "Charged"]
    assert sandbox.stats()["records_accepted"] == 2


def test_store_entry_stores_once_then_the_retry_duplicates(
    sandbox: Sandbox, client: Client
) -> None:
    sandbox.set_faults(Faults(sequence=["store:503", "store:reset"]))

    first = client.upload(event("Charged")).status
    with pytest.raises(ConnectionError):
        client.upload(event("Charged"))
    last = Client(sandbox.port).upload(event("Charged")).status

    assert (first, last) == (503, 200)
    assert len(sandbox.events()) == 3


def test_a_sequence_applies_to_deletes_and_uploads_in_arrival_order(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile("u-1"), event(identity="u-1"))
    sandbox.set_faults(Faults(sequence=["503", "502html", "reset", "slow:0.2", "500"]))

    unavailable = client.delete({"identity": "u-1"})
    gateway = client.delete({"identity": "u-1"})
    with pytest.raises(ConnectionError):
        client.delete({"identity": "u-1"})
    started = time.monotonic()
    slow = Client(sandbox.port).delete({"identity": "u-1"})
    elapsed = time.monotonic() - started
    upload = Client(sandbox.port).upload(profile("u-2"))

    assert (unavailable.status, unavailable.json) == (503, UNAVAILABLE)
    assert (gateway.status, gateway.headers["content-type"]) == (502, "text/html")
    assert slow.json == {"status": "success"}
    assert elapsed >= 0.2
    assert upload.status == 500
    assert [row["identity"] for row in sandbox.profiles()] == []
    assert sandbox.events() == []
    assert len(sandbox.deletions()) == 1
    assert sandbox.stats()["other_apis"]["requests_by_status"] == {0: 1, 200: 1, 502: 1, 503: 1}


@pytest.mark.parametrize(
    ("match", "failing"),
    [("identity=u-1", [True, False, True]), ("type=delete", [True, True, False])],
)
def test_match_picks_deletes_by_a_value_in_their_list_or_by_type(
    sandbox: Sandbox, client: Client, match: str, failing: list[bool]
) -> None:
    sandbox.set_faults(Faults(forever="503", match=match))

    statuses = [
        client.delete({"identity": ["u-0", "u-1"]}).status,
        client.delete({"identity": "u-2"}).status,
        client.upload(profile("u-1")).status,
    ]

    assert statuses == [503 if fails else 200 for fails in failing]


def test_match_on_guid_or_objectid_picks_a_guid_delete(sandbox: Sandbox, client: Client) -> None:
    statuses = []
    for match in ("guid=__g1", "objectId=__g1", "identity=__g1"):
        sandbox.set_faults(Faults(sequence=["503"], match=match))
        statuses.append(client.delete({"guid": ["__g0", "__g1"]}).status)

    assert statuses == [503, 503, 200]


def test_store_then_fail_applies_the_delete_then_answers_503(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile("u-1"))
    sandbox.set_faults(Faults(sequence=["store:503"]))

    answer = client.delete({"identity": "u-1"})

    assert (answer.status, answer.json) == (503, UNAVAILABLE)
    assert sandbox.profiles() == []
    assert [row["profiles_deleted"] for row in sandbox.deletions()] == [1]


def test_latency_and_spaced_json_apply_to_deletes(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(latency_ms=150, spaced_json=True))

    started = time.monotonic()
    answer = client.delete({"guid": "__g1"})

    assert time.monotonic() - started >= 0.15
    assert answer.body == b'{"status" : "success"}'


def test_auth_error_text_is_configurable(sandbox: Sandbox) -> None:
    sandbox.set_faults(Faults(auth_error="Invalid Credentials"))

    answer = Client(sandbox.port, passcode="nope").upload(profile())

    assert answer.status == 401
    assert answer.json == {"status": "fail", "error": "Invalid Credentials", "code": 401}


def test_a_reduced_concurrency_limit_counts_latency_as_in_flight(sandbox: Sandbox) -> None:
    sandbox.set_faults(Faults(max_concurrent=1, latency_ms=600))
    held: list[int] = []
    worker = threading.Thread(
        target=lambda: held.append(Client(sandbox.port).upload(event()).status)
    )
    worker.start()
    wait_until(lambda: sandbox.stats()["in_flight"] == 1, "one request in flight")

    second = Client(sandbox.port).upload(event())
    worker.join()

    assert second.status == 429
    assert held == [200]
    assert len(sandbox.events()) == 1


def test_quirks_empty_unprocessed_and_spaced_json(sandbox: Sandbox, client: Client) -> None:
    sandbox.set_faults(Faults(empty_unprocessed=True, spaced_json=True))

    answer = client.upload(profile(Email="x"), profile())

    assert answer.body == b'{"status" : "partial" , "processed" : 1 , "unprocessed" : []}'


def test_admin_endpoint_changes_faults_at_runtime_without_credentials(
    sandbox: Sandbox, client: Client
) -> None:
    admin = Client(sandbox.port, account_id="", passcode="")
    settings = {"sequence": "503", "match": "type=event", "latency_ms": 0}

    changed = admin.request("POST", "/_sandbox/faults", json.dumps(settings).encode())
    statuses = [client.upload(profile()).status, client.upload(event()).status]
    current = admin.request("GET", "/_sandbox/faults").json
    cleared = admin.request("POST", "/_sandbox/faults", b"{}")
    stats = admin.request("GET", "/_sandbox/stats").json

    assert changed.status == 200
    assert changed.json["faults"]["sequence"] == ["503"]
    assert statuses == [200, 503]
    assert current == Faults(sequence=["503"], match="type=event").to_dict()
    assert cleared.json["faults"] == Faults().to_dict()
    assert sandbox.faults == Faults()
    assert stats["requests_by_status"] == {"200": 1, "503": 1}
    assert (stats["records_received"], stats["records_accepted"]) == (2, 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"sequence": ["bogus"]}', "Unknown fault 'bogus'"),
        (b'{"forever": "store:ok"}', "store: needs a failure after it"),
        (b'{"sequenze": ["503"]}', "Unknown fault settings ['sequenze']"),
        (b'{"match": "evtName"}', "must look like key=value"),
        (b'{"latency_ms": -1}', "latency_ms is a whole number >= 0"),
        (b'{"max_concurrent": 0}', "max_concurrent is a whole number >= 1"),
        (b'{"max_concurrent_other": 1.5}', "max_concurrent_other is a whole number >= 1"),
        (b'{"store_then_fail": "yes"}', "store_then_fail is true or false"),
        (b'["503"]', "Send the faults as a JSON object"),
        (b"{oops", "Expecting property name"),
    ],
)
def test_admin_endpoint_refuses_bad_faults_and_keeps_the_old_ones(
    sandbox: Sandbox, body: bytes, message: str
) -> None:
    sandbox.set_faults(Faults(forever="500"))

    answer = Client(sandbox.port).request("POST", "/_sandbox/faults", body)

    assert answer.status == 400
    assert message in answer.json["error"]
    assert sandbox.faults == Faults(forever="500")


@pytest.mark.parametrize(
    ("entry", "action"),
    [
        ("ok", FaultAction()),
        ("200", FaultAction()),
        ("503", FaultAction("json", 503, process=False)),
        (" 502HTML ", FaultAction("html", 502, process=False)),
        ("reset", FaultAction("reset", 0, process=False)),
        ("slow:1.5", FaultAction(delay_seconds=1.5)),
        ("store:500", FaultAction("json", 500, process=True)),
        ("store:reset", FaultAction("reset", 0, process=True)),
    ],
)
def test_fault_entries(entry: str, action: FaultAction) -> None:
    assert parse_action(entry) == action


@pytest.mark.parametrize("entry", ["", "201", "399", "600", "slow:", "slow:-1", "slow:nan", "x"])
def test_bad_fault_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="ault"):
        parse_action(entry)
