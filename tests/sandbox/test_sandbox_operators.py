"""Property operators and subscription categories through HTTP, read back with Sandbox.profile."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_helpers import Client, profile

from target_clevertap.sandbox import Sandbox

SUCCESS = {"status": "success", "processed": 1, "unprocessed": []}


def _send(client: Client, *updates: dict[str, Any], identity: Any = "u-1") -> None:
    for update in updates:
        assert client.upload(profile(identity, **update)).json == SUCCESS


def test_add_and_remove_change_the_stored_list(sandbox: Sandbox, client: Client) -> None:
    _send(
        client,
        {"Tags": ["a", "b"]},
        {"Tags": {"$add": ["c", "a"]}},
        {"Tags": {"$remove": ["b", "never-there"]}},
    )

    assert sandbox.profile("u-1") == {"Tags": ["a", "c"]}


def test_adding_past_100_items_evicts_the_oldest(sandbox: Sandbox, client: Client) -> None:
    _send(
        client,
        {"Seen": [f"p{n}" for n in range(60)]},
        {"Seen": {"$add": [f"q{n}" for n in range(60)]}},
    )

    stored = sandbox.profile("u-1")
    assert stored is not None
    assert len(stored["Seen"]) == 100
    assert stored["Seen"][0] == "p20"
    assert stored["Seen"][-1] == "q59"


def test_add_to_a_missing_property_creates_the_list_and_remove_of_a_missing_one_is_a_no_op(
    sandbox: Sandbox, client: Client
) -> None:
    _send(client, {"Tags": {"$add": ["a"]}, "Gone": {"$remove": ["x"]}})

    assert sandbox.profile("u-1") == {"Tags": ["a"]}


def test_incr_and_decr_change_stored_numbers_and_start_a_missing_one_at_0(
    sandbox: Sandbox, client: Client
) -> None:
    _send(
        client,
        {"Points": 10, "Visits": {"$incr": 1}, "Credit": {"$decr": 2.5}},
        {"Points": {"$incr": 5}, "Visits": {"$incr": 1}},
        {"Points": {"$decr": 3}},
    )

    assert sandbox.profile("u-1") == {"Points": 12, "Visits": 2, "Credit": -2.5}


def test_incr_on_a_text_property_starts_from_0(sandbox: Sandbox, client: Client) -> None:
    _send(client, {"Points": "ten"}, {"Points": {"$incr": 2}})

    assert sandbox.profile("u-1") == {"Points": 2}


def test_set_replaces_and_delete_removes(sandbox: Sandbox, client: Client) -> None:
    _send(
        client,
        {"Tags": ["a", "b"], "Plan": "pro"},
        {"Tags": {"$set": ["z"]}, "Plan": {"$delete": True}},
    )

    assert sandbox.profile("u-1") == {"Tags": ["z"]}


def test_a_rejected_operator_record_changes_nothing(sandbox: Sandbox, client: Client) -> None:
    _send(client, {"Tags": ["a"], "Points": 1})

    answer = client.upload(profile(Tags={"$add": [f"t{n}" for n in range(101)]}, Points=9))

    assert answer.json["status"] == "fail"
    assert sandbox.profile("u-1") == {"Tags": ["a"], "Points": 1}


def test_a_dry_run_with_operators_stores_nothing(sandbox: Sandbox, client: Client) -> None:
    _send(client, {"Points": 1})

    answer = client.post(
        {"d": [profile(Points={"$incr": 5}, Tags={"$add": ["a"]})]}, path="/1/upload?dryRun=1"
    )

    assert answer.json == SUCCESS
    assert sandbox.profile("u-1") == {"Points": 1}


def test_profile_lookup_by_identity_key_and_numeric_identity(
    sandbox: Sandbox, client: Client
) -> None:
    client.upload(
        profile(42, Name="number"),
        {"type": "profile", "objectId": "__g1", "profileData": {"Name": "device"}},
    )

    assert sandbox.profile("42") == {"Name": "number"}
    assert sandbox.profile("__g1", identity_key="objectId") == {"Name": "device"}
    assert sandbox.profile("__g1") is None
    assert sandbox.profile("nobody") is None


@pytest.mark.parametrize(
    ("updates", "expected"),
    [
        (
            [{"category-unsubscribe": {"email": ["Marketing", "News"], "push": ["Offers"]}}],
            {"category-unsubscribe": {"email": ["Marketing", "News"], "push": ["Offers"]}},
        ),
        (
            [
                {"category-unsubscribe": {"email": ["Marketing", "News"]}},
                {"category-unsubscribe": {"email": ["News", "Tips"], "sms": ["Alerts"]}},
            ],
            {"category-unsubscribe": {"email": ["Marketing", "News", "Tips"], "sms": ["Alerts"]}},
        ),
        (
            [
                {"category-unsubscribe": {"email": ["Marketing", "News"]}},
                {"category-resubscribe": {"email": ["Marketing"]}},
            ],
            {
                "category-unsubscribe": {"email": ["News"]},
                "category-resubscribe": {"email": ["Marketing"]},
            },
        ),
        (
            [
                {"category-resubscribe": {"whatsapp": ["Alerts"]}},
                {"category-unsubscribe": {"whatsapp": ["Alerts"]}},
            ],
            {"category-unsubscribe": {"whatsapp": ["Alerts"]}},
        ),
        (
            [{"category-unsubscribe": {"email": ["M"]}, "category-resubscribe": {"email": ["M"]}}],
            {"category-resubscribe": {"email": ["M"]}},
        ),
    ],
    ids=["kept per channel", "unsubscribes add up", "resubscribe moves", "unsubscribe moves",
         "later key of one record wins"],
)  # fmt: skip
def test_category_keys_keep_the_current_state_per_channel(
    sandbox: Sandbox, client: Client, updates: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    _send(client, {"Name": "Ana"}, *updates)

    assert sandbox.profile("u-1") == {"Name": "Ana", **expected}
