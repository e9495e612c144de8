"""Device-token records through HTTP: the 100-per-request limit, types, keys, per-record answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import ACCOUNT_ID, PASSCODE, Client, event, profile, token

from target_clevertap.sandbox import Rules, Sandbox
from target_clevertap.sandbox.validation import ALL_TOKEN_TYPES

CHROME_KEYS = {
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


@pytest.fixture
def all_types() -> Iterator[Sandbox]:
    with Sandbox(ACCOUNT_ID, PASSCODE, rules=Rules(token_types=ALL_TOKEN_TYPES)) as sandbox:
        yield sandbox


def _tokens(count: int) -> list[dict[str, Any]]:
    return [token(f"__g{n}", id=f"t-{n}", type="fcm") for n in range(count)]


def test_more_than_100_tokens_get_400_and_store_nothing(sandbox: Sandbox, client: Client) -> None:
    answer = client.upload(*_tokens(101))

    assert answer.status == 400
    assert answer.json == {
        "status": "fail",
        "error": "Malformed request: at most 100 device tokens are allowed per request, got 101",
        "code": 400,
    }
    assert sandbox.tokens() == []


def test_100_tokens_pass_also_among_other_records(sandbox: Sandbox, client: Client) -> None:
    others = [event(identity=f"u-{n}") for n in range(899)] + [profile(Name="Ana")]

    answer = client.upload(*_tokens(100), *others)

    assert answer.json == {"status": "success", "processed": 1000, "unprocessed": []}
    assert len(sandbox.tokens()) == 100


def test_a_partial_token_batch_answers_per_record_and_stores_the_good_ones(
    sandbox: Sandbox, client: Client
) -> None:
    answer = client.upload(
        token("__g1", id="t-1", type="fcm"),
        token("__g2", type="fcm"),
        {"type": "token", "identity": "u-3", "tokenData": {"id": "t-3", "type": "apns"}},
        token("__g4", id="t-4"),
        token("__g5", id="t-5", type="apns"),
        token("__g6", id="t-6", type="chrome", keys=CHROME_KEYS),
    )

    body = answer.json
    assert (body["status"], body["processed"]) == ("partial", 2)
    assert [(item["code"], item["error"][-1]) for item in body["unprocessed"]] == [
        (532, "2"),
        (530, "3"),
        (533, "4"),
        (534, "6"),
    ]
    assert body["unprocessed"][0]["record"] == {
        "objectId": "__g2",
        "tokenData": {"type": "fcm"},
        "type": "token",
    }
    assert [(row["object_id"], row["token_id"]) for row in sandbox.tokens()] == [
        ("__g1", "t-1"),
        ("__g5", "t-5"),
    ]


def test_every_type_is_stored_with_its_data_once_the_legacy_types_are_allowed(
    all_types: Sandbox,
) -> None:
    types = sorted(ALL_TOKEN_TYPES)
    records = [
        token(
            "__g1", id=f"t-{kind}", type=kind, **({"keys": CHROME_KEYS} if kind == "chrome" else {})
        )
        for kind in types
    ]

    answer = Client(all_types.port).upload(*records)

    assert answer.json == {"status": "success", "processed": 6, "unprocessed": []}
    stored = {row["token_type"]: row for row in all_types.tokens()}
    assert sorted(stored) == types
    assert stored["chrome"]["token_data"] == {
        "id": "t-chrome",
        "type": "chrome",
        "keys": CHROME_KEYS,
    }
    assert stored["fcm"]["token_data"] == {"id": "t-fcm", "type": "fcm"}
    assert {row["object_id"] for row in stored.values()} == {"__g1"}


@pytest.mark.parametrize(
    "keys",
    [
        None,
        {},
        {"p256dh": "k"},
        {"auth": "a"},
        {"p256dh": "k", "auth": ""},
        {"p256dh": 1, "auth": "a"},
        "k:a",
    ],
)
def test_a_chrome_token_needs_both_keys_as_text(all_types: Sandbox, keys: Any) -> None:
    record = token(id="t-1", type="chrome", **({} if keys is None else {"keys": keys}))

    [item] = Client(all_types.port).upload(record).json["unprocessed"]

    assert item["code"] == 535
    assert "A chrome token needs keys with p256dh and auth" in item["error"]


def test_a_dry_run_validates_tokens_and_stores_none(sandbox: Sandbox, client: Client) -> None:
    answer = client.post(
        {"d": [token(id="t-1", type="fcm"), token(id="t-2", type="wns")]},
        path="/1/upload?dryRun=1",
    )

    assert (answer.json["status"], answer.json["processed"]) == ("partial", 1)
    assert sandbox.tokens() == []


def test_a_token_for_a_known_objectid_leaves_its_profile_alone(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload({"type": "profile", "objectId": "__g1", "profileData": {"Name": "Ana"}})
    client.upload(token("__g1", id="t-1", type="apns"))

    assert sandbox.profile("__g1", identity_key="objectId") == {"Name": "Ana"}
    assert [(row["object_id"], row["token_type"]) for row in sandbox.tokens()] == [("__g1", "apns")]
