"""``POST /1/delete/profiles.json``: what it deletes, what it refuses, auth and its own budget."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sandbox_helpers import (
    ACCOUNT_ID,
    DELETE_PATH,
    JSON_CONTENT_TYPE,
    PASSCODE,
    Client,
    Response,
    event,
    profile,
    token,
    wait_until,
)

from target_clevertap.sandbox import Faults, Rules, Sandbox

SUCCESS = {"status": "success"}
AUTH_FAILURE = {"status": "fail", "error": "Account ID is not valid", "code": 401}
TOO_MANY = {"status": "fail", "error": "Too many concurrent requests", "code": 429}


def _malformed(detail: str | None = None) -> dict[str, Any]:
    error = "Malformed request" + (f": {detail}" if detail else "")
    return {"status": "fail", "error": error, "code": 400}


def _by_guid(object_id: str, **profile_data: Any) -> dict[str, Any]:
    return {"type": "profile", "objectId": object_id, "profileData": profile_data}


def _event_by_guid(object_id: str, name: str) -> dict[str, Any]:
    return {"type": "event", "objectId": object_id, "evtName": name, "evtData": {}}


def _who(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(row["identity_key"], row["identity"]) for row in rows]


@pytest.mark.parametrize("identities", ["u-1", ["u-1", "u-2"]], ids=["string", "array"])
def test_delete_by_identity_removes_the_profiles_and_their_events(
    sandbox: Sandbox, client: Client, identities: str | list[str]
) -> None:
    client.upload(
        profile("u-1", Name="Ana"),
        profile("u-2", Name="Bo"),
        profile("u-3", Name="Cy"),
        event("Viewed", identity="u-1"),
        event("Viewed", identity="u-2"),
        event("Viewed", identity="u-3"),
        _by_guid("u-1", Name="same text, other key"),
    )

    answer = client.delete({"identity": identities})

    kept = ["u-2", "u-3"] if identities == "u-1" else ["u-3"]
    assert answer.status == 200
    assert answer.json == SUCCESS
    assert answer.headers["content-type"] == JSON_CONTENT_TYPE
    assert _who(sandbox.profiles()) == [("identity", u) for u in kept] + [("objectId", "u-1")]
    assert _who(sandbox.events()) == [("identity", u) for u in kept]


def test_delete_by_guid_removes_the_objectid_profile_its_events_and_tokens(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(
        _by_guid("__g1", Name="Ana"),
        _event_by_guid("__g1", "Viewed"),
        token("__g1", id="t-1", type="fcm"),
        _by_guid("__g2", Name="Bo"),
        profile("__g1", Name="an identity, not a guid"),
    )

    answer = client.delete({"guid": "__g1"})

    assert answer.json == SUCCESS
    assert _who(sandbox.profiles()) == [("objectId", "__g2"), ("identity", "__g1")]
    assert sandbox.events() == []
    assert sandbox.tokens() == []
    [deletion] = sandbox.deletions()
    assert deletion | {"deleted_at": None} == {
        "deleted_at": None,
        "key": "guid",
        "values": ["__g1"],
        "profiles_deleted": 1,
        "events_deleted": 1,
        "tokens_deleted": 1,
    }


def test_deleting_an_unknown_identity_succeeds_and_is_recorded(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile("u-1"))

    answers = [client.delete({"identity": ["nobody", "nobody"]}), client.delete({"guid": "__x"})]

    assert [answer.json for answer in answers] == [SUCCESS, SUCCESS]
    assert len(sandbox.profiles()) == 1
    assert [(d["key"], d["values"], d["profiles_deleted"]) for d in sandbox.deletions()] == [
        ("identity", ["nobody", "nobody"], 0),
        ("guid", ["__x"], 0),
    ]
    assert sandbox.counts()["deletions"] == 2


def test_a_deleted_identity_can_come_back_as_a_new_profile(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile("u-1", Name="Ana", Plan="pro"))
    client.delete({"identity": "u-1"})
    client.upload(profile("u-1", Name="Ana"))

    assert [row["profile"] for row in sandbox.profiles()] == [{"Name": "Ana"}]


def test_both_identity_and_guid_get_400_and_delete_nothing(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile("u-1"), _by_guid("__g1"))

    answer = client.delete({"identity": "u-1", "guid": "__g1"})

    assert answer.status == 400
    assert answer.json == _malformed("send identity or guid, not both")
    assert answer.headers["content-type"] == JSON_CONTENT_TYPE
    assert len(sandbox.profiles()) == 2
    assert sandbox.deletions() == []


def test_more_than_100_values_get_400_and_exactly_100_pass(
    sandbox: Sandbox, client: Client
) -> None:
    guids = [f"__g{n}" for n in range(101)]

    too_many = client.delete({"guid": guids})
    at_limit = client.delete({"guid": guids[:100]})

    assert too_many.status == 400
    assert too_many.json == _malformed("at most 100 values are allowed per request, got 101")
    assert at_limit.json == SUCCESS
    assert [len(d["values"]) for d in sandbox.deletions()] == [100]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "send identity or guid"),
        ({"identities": ["u-1"]}, "send identity or guid"),
        ({"identity": None, "guid": None}, "send identity or guid, not both"),
        ({"identity": []}, "identity holds no value"),
        ({"guid": []}, "guid holds no value"),
        ({"identity": 42}, "identity must be a non-empty string or an array of them"),
        ({"identity": ["u-1", 42]}, "identity must be a non-empty string or an array of them"),
        ({"identity": None}, "identity must be a non-empty string or an array of them"),
        ({"guid": {"id": "__g1"}}, "guid must be a non-empty string or an array of them"),
        ({"guid": ["__g1", ["__g2"]]}, "guid must be a non-empty string or an array of them"),
        ({"identity": " "}, "identity must be a non-empty string or an array of them"),
        (["u-1"], None),
        (b"not json", None),
        (b"", None),
    ],
)
def test_unusable_delete_bodies_get_400(
    sandbox: Sandbox, client: Client, body: Any, detail: str | None
) -> None:
    client.upload(profile("u-1"))

    answer = client.delete(body)

    assert answer.status == 400
    assert answer.json == _malformed(detail)
    assert len(sandbox.profiles()) == 1


def test_unknown_keys_are_ignored_unless_strict(client: Client) -> None:
    body = {"identity": "u-1", "reason": "gdpr"}

    assert client.delete(body).json == SUCCESS
    with Sandbox(ACCOUNT_ID, PASSCODE, rules=Rules(strict_keys=True)) as strict:
        answer = Client(strict.port).delete(body)
    assert answer.status == 400
    assert answer.json == _malformed("unknown top-level keys ['reason']")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-CleverTap-Account-Id": ACCOUNT_ID, "X-CleverTap-Passcode": "wrong-passcode"},
        {"X-CleverTap-Account-Id": "other-account", "X-CleverTap-Passcode": PASSCODE},
        {},
    ],
    ids=["wrong passcode", "wrong account", "no headers"],
)
def test_bad_credentials_get_401_and_delete_nothing(
    sandbox: Sandbox, client: Client, headers: dict[str, str]
) -> None:
    client.upload(profile("u-1"))

    answer = client.request("POST", DELETE_PATH, b'{"identity": "u-1"}', headers)

    assert answer.status == 401
    assert answer.json == AUTH_FAILURE
    assert len(sandbox.profiles()) == 1
    assert sandbox.deletions() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_get_405(client: Client, method: str) -> None:
    answer = client.request(method, DELETE_PATH)

    assert answer.status == 405
    assert answer.headers["allow"] == "POST"


def test_dry_run_is_ignored_because_clevertap_has_none_for_deletes(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile("u-1"))

    answer = client.post({"identity": "u-1"}, path=DELETE_PATH + "?dryRun=1")

    assert answer.json == SUCCESS
    assert sandbox.profiles() == []


def test_a_sandbox_without_a_store_answers_deletes() -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, store=False) as sandbox:
        answer = Client(sandbox.port).delete({"identity": ["u-1", "u-2"]})

    assert answer.json == SUCCESS
    assert sandbox.stats()["other_apis"]["records_received"] == 2


def _delete(port: int, identity: str) -> Response:
    client = Client(port)
    try:
        return client.delete({"identity": identity})
    finally:
        client.close()


def test_fourth_concurrent_delete_gets_429_while_uploads_keep_their_own_budget() -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, latency_ms=800) as sandbox, ThreadPoolExecutor(3) as pool:
        held = [pool.submit(_delete, sandbox.port, f"held-{n}") for n in range(3)]
        wait_until(lambda: sandbox.stats()["other_apis"]["in_flight"] == 3, "3 deletes in flight")

        extra = _delete(sandbox.port, "extra")
        upload = Client(sandbox.port).upload(profile("u-1"))
        answers = [future.result() for future in held]

    assert extra.status == 429
    assert extra.json == TOO_MANY
    assert "retry-after" not in extra.headers
    assert [answer.json for answer in answers] == [SUCCESS] * 3
    assert upload.status == 200
    assert sorted(d["values"][0] for d in sandbox.deletions()) == ["held-0", "held-1", "held-2"]
    stats = sandbox.stats()
    assert stats["other_apis"]["requests_by_status"] == {200: 3, 429: 1}
    assert stats["other_apis"]["max_in_flight_seen"] == 4
    assert stats["requests_by_status"] == {200: 1}


@pytest.mark.parametrize(
    "sandbox_limit",
    [
        {"max_concurrent_other": 1},
        {"faults": Faults(max_concurrent_other=1)},
    ],
    ids=["constructor", "faults"],
)
def test_the_delete_budget_is_configurable(sandbox_limit: dict[str, Any]) -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, latency_ms=600, **sandbox_limit) as sandbox:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(_delete, sandbox.port, "held")
            wait_until(lambda: sandbox.stats()["other_apis"]["in_flight"] == 1, "one delete")
            second = _delete(sandbox.port, "second")
        assert (held.result().status, second.status) == (200, 429)


def test_max_concurrent_other_below_1_is_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrent_other must be at least 1"):
        Sandbox(ACCOUNT_ID, PASSCODE, max_concurrent_other=0)
