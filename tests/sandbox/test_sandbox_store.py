"""What the sandbox keeps: merged profiles, appended events, tokens, the request log."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import ACCOUNT_ID, PASSCODE, Client, database_without, event, profile, token

from target_clevertap.sandbox import (
    Sandbox,
    SandboxStore,
    read_counts,
    read_deletions,
    read_events,
    read_profiles,
)
from target_clevertap.sandbox.merge import MULTI_VALUE_LIMIT, merge_profile


def _only_profile(sandbox: Sandbox) -> dict[str, Any]:
    [row] = sandbox.profiles()
    return row


def test_later_values_overwrite_per_property_and_ts_follows_the_latest_write(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile(ts=1000, Name="Ana", Email="ana@example.com", Plan="free"))
    client.upload(profile(ts=2000, Name="Ana Ruiz", Plan=None, Score=7))

    row = _only_profile(sandbox)
    assert row["identity_key"] == "identity"
    assert row["identity"] == "u-1"
    assert row["ts"] == 2000
    assert row["profile"] == {
        "Name": "Ana Ruiz",
        "Email": "ana@example.com",
        "Plan": "free",
        "Score": 7,
    }


def test_profiles_are_keyed_by_identity_key_and_text_identity(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(
        profile(1, Name="number"),
        profile("1", City="text"),
        {"type": "profile", "FBID": "1", "profileData": {"Name": "facebook"}},
    )

    assert [(r["identity_key"], r["identity"], r["profile"]) for r in sandbox.profiles()] == [
        ("identity", "1", {"Name": "number", "City": "text"}),
        ("FBID", "1", {"Name": "facebook"}),
    ]


@pytest.mark.parametrize(
    ("updates", "expected"),
    [
        ([{"Tags": ["a", "b", "a"]}], ["a", "b"]),
        ([{"Tags": ["a", "b"]}, {"Tags": ["c"]}], ["c"]),
        ([{"Tags": "a"}, {"Tags": {"$add": ["b", "a"]}}], ["a", "b"]),
        ([{"Tags": ["a", "b"]}, {"Tags": {"$add": ["c"]}}], ["a", "b", "c"]),
        ([{"Tags": ["a", "b", "c"]}, {"Tags": {"$remove": ["a", "c"]}}], ["b"]),
        ([{"Tags": ["a", "b"]}, {"Tags": {"$set": ["x"]}}], ["x"]),
        ([{"Score": 5}, {"Score": {"$incr": 3}}, {"Score": {"$decr": 1.5}}], 6.5),
        ([{"Score": {"$incr": 2}}], 2),
    ],
    ids=["list dedup", "list replaces", "add to scalar", "add", "remove", "set", "incr decr",
         "incr missing"],
)  # fmt: skip
def test_multi_value_and_numeric_operators(
    sandbox: Sandbox, client: Client, updates: list[dict[str, Any]], expected: Any
) -> None:
    for update in updates:
        assert client.upload(profile(**update)).json["status"] == "success"

    assert next(iter(_only_profile(sandbox)["profile"].values())) == expected


@pytest.mark.parametrize("removal", [{"$delete": True}, {"$remove": ["a", "b"]}, {"$set": []}, []])
def test_removing_every_value_drops_the_property(
    sandbox: Sandbox, client: Client, removal: Any
) -> None:
    client.upload(profile(Name="Ana", Tags=["a", "b"]))
    client.upload(profile(Tags=removal))

    assert _only_profile(sandbox)["profile"] == {"Name": "Ana"}


def test_delete_operator_unsets_stored_properties_and_leaves_the_others(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(profile(Name="Ana", Email="ana@example.com", Score=3))

    answer = client.upload(
        profile(Email={"$delete": True}, Score={"$delete": True}, Never={"$delete": True})
    )
    created = client.upload(profile("u-new", Name={"$delete": True}))

    assert answer.json == created.json == {"status": "success", "processed": 1, "unprocessed": []}
    assert [(row["identity"], row["profile"]) for row in sandbox.profiles()] == [
        ("u-1", {"Name": "Ana"}),
        ("u-new", {}),
    ]


def test_multi_values_keep_the_newest_100_items() -> None:
    first = merge_profile({}, {"Seen": [f"p{n}" for n in range(MULTI_VALUE_LIMIT)]})

    merged = merge_profile(first, {"Seen": {"$add": ["p0", "new-1", "new-2"]}})

    assert len(merged["Seen"]) == MULTI_VALUE_LIMIT
    assert merged["Seen"][:2] == ["p2", "p3"]
    assert merged["Seen"][-2:] == ["new-1", "new-2"]
    assert first["Seen"][0] == "p0", "merging must not change its input"


def test_records_without_ts_get_the_time_of_receipt_and_milliseconds_become_seconds(
    sandbox: Sandbox, client: Client
) -> None:
    before = int(time.time())
    client.upload(event("No ts"), {**event("Millis"), "ts": 1521649274123})
    after = int(time.time())

    no_ts, millis = sandbox.events()
    assert before <= no_ts["ts"] <= after
    assert millis["ts"] == 1521649274


def test_events_are_appended_never_deduplicated(sandbox: Sandbox, client: Client) -> None:
    charged = {**event("Charged", Amount=3, Items=[{"Product": "Book"}]), "ts": 1700000000}
    liked = {"type": "event", "FBID": "f-9", "evtName": "Liked", "evtData": {}, "ts": 1700000001}

    client.upload(charged, liked)
    client.upload(charged)

    stored_charged = {
        "identity_key": "identity",
        "identity": "u-1",
        "evt_name": "Charged",
        "evt_data": {"Amount": 3, "Items": [{"Product": "Book"}]},
        "ts": 1700000000,
    }
    stored_liked = {
        "identity_key": "FBID",
        "identity": "f-9",
        "evt_name": "Liked",
        "evt_data": {},
        "ts": 1700000001,
    }
    assert sandbox.events() == [stored_charged, stored_liked, stored_charged]
    assert sandbox.counts()["events_by_name"] == {"Charged": 2, "Liked": 1}


def test_tokens_are_kept_once_per_object_id_and_token_id(sandbox: Sandbox, client: Client) -> None:
    client.upload(token(id="t-1", type="fcm"), token(id="t-2", type="apns"))
    client.upload(token(id="t-1", type="gcm"))

    assert [(t["object_id"], t["token_id"], t["token_type"]) for t in sandbox.tokens()] == [
        ("__abc123", "t-1", "gcm"),
        ("__abc123", "t-2", "apns"),
    ]


def test_rejected_records_of_a_partial_batch_are_not_stored(
    sandbox: Sandbox, client: Client
) -> None:
    answer = client.upload(
        profile("good", Name="A"), profile("bad", Email="x"), event("App Launched")
    )

    assert answer.json["processed"] == 1
    assert [row["identity"] for row in sandbox.profiles()] == ["good"]
    assert sandbox.events() == []
    assert sandbox.requests()[0] | {"received_at": None} == {
        "received_at": None,
        "status": 200,
        "records": 3,
        "processed": 1,
        "dry_run": False,
        "host": f"127.0.0.1:{sandbox.port}",
    }


def test_a_database_file_is_readable_by_others_while_running_and_after(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    with Sandbox(ACCOUNT_ID, PASSCODE, db_path=db) as sandbox:
        Client(sandbox.port).upload(profile(Name="Ana"), event("Signed Up", plan="pro"))
        while_running = read_profiles(db)
        with sqlite3.connect(db) as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    sandbox.close()

    assert while_running == read_profiles(db)
    assert [row["profile"] for row in while_running] == [{"Name": "Ana"}]
    assert [(e["evt_name"], e["evt_data"]) for e in read_events(db)] == [
        ("Signed Up", {"plan": "pro"})
    ]
    counts = read_counts(db)
    assert (counts["profiles"], counts["events"], counts["requests_by_status"]) == (1, 1, {200: 1})
    with SandboxStore(db) as store:
        assert [row["evt_name"] for row in store.events(last=1)] == ["Signed Up"]


def test_a_database_from_before_deletions_were_kept_still_reads(tmp_path: Path) -> None:
    db = database_without(tmp_path, "deletions")

    assert read_deletions(db) == []
    assert read_counts(db)["deletions"] == 0
    assert len(read_profiles(db)) == 1


def test_reading_a_missing_database_explains_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"

    with pytest.raises(FileNotFoundError, match=r"No sandbox database at .*nothing\.db"):
        read_profiles(missing)
    assert not missing.exists()


def test_last_returns_the_newest_rows_oldest_first(sandbox: Sandbox, client: Client) -> None:
    client.upload(*(event(f"e{n}") for n in range(5)))

    assert [row["evt_name"] for row in sandbox.store.events(last=2)] == ["e3", "e4"]
    assert len(sandbox.store.events()) == 5


def test_without_a_store_the_sandbox_answers_and_counts_but_keeps_nothing() -> None:
    with Sandbox(ACCOUNT_ID, PASSCODE, store=False) as sandbox:
        answer = Client(sandbox.port).upload(profile(), event(), profile(Email="x"))

    assert answer.json["processed"] == 2
    stats = sandbox.stats()
    assert (stats["records_received"], stats["records_accepted"]) == (3, 2)
    with pytest.raises(RuntimeError, match="store=False"):
        sandbox.profiles()


def test_text_with_a_lone_surrogate_is_stored_and_answered(
    sandbox: Sandbox, client: Client
) -> None:
    # JSON may escape half of a character pair ("\ud800"); SQLite cannot hold it as text.
    answer = client.upload(profile("u-\ud800"), event("Seen \udfff", identity="u-\ud800"))

    assert answer.status == 200
    assert answer.json["processed"] == 2
    assert [r["identity"] for r in sandbox.profiles()] == ["u-\\ud800"]
    assert [(r["identity"], r["evt_name"]) for r in sandbox.events()] == [
        ("u-\\ud800", "Seen \\udfff")
    ]
