"""Device tokens: a token stream's row as CleverTap's token record, or a rejection with its code;
and the token settings' start-time checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from target_clevertap.config import config_errors
from target_clevertap.device_tokens import TOKEN_TYPES, TokenSettings
from target_clevertap.mapping import Rejection, device_token
from target_clevertap.plan import StreamPlan, UnusableStreamSettings, plan_stream
from tests.unit.plans import profile_plan

CONFIG = {"account_id": "ACC-1", "passcode": "s3cr3t-pass", "region": "eu1"}
KEYS = {
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1Xbjha",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


def token_plan(**settings: Any) -> StreamPlan:
    """A token stream reading the CleverTap ID from 'ctid', with these token settings."""
    return profile_plan(
        stream="push_tokens",
        kind="token",
        identity_field="ctid",
        identity_type="objectId",
        token=TokenSettings(**settings),
    )


def mapped(record: dict[str, Any], **settings: Any) -> Any:
    return device_token({"ctid": "__g1", **record}, token_plan(**settings))


def rejection(record: dict[str, Any], **settings: Any) -> Rejection:
    result = mapped(record, **settings)
    assert isinstance(result, Rejection), result
    return result


# --- mapping ----------------------------------------------------------------------------------


def test_a_row_becomes_a_token_record_for_its_clevertap_id() -> None:
    assert mapped({"token": "fcm-abc", "token_type": "fcm", "other": 1}) == {
        "type": "token",
        "objectId": "__g1",
        "tokenData": {"id": "fcm-abc", "type": "fcm"},
    }


def test_token_and_type_are_trimmed_and_the_type_read_in_any_case() -> None:
    result = mapped({"token": "  apns-1 ", "token_type": " APNS "})
    assert result["tokenData"] == {"id": "apns-1", "type": "apns"}


@pytest.mark.parametrize("token_type", TOKEN_TYPES[:-1])
def test_every_type_but_chrome_needs_no_keys_and_keys_given_are_not_sent(token_type: str) -> None:
    result = mapped({"token": "t", "token_type": token_type, "token_keys": KEYS})
    assert result["tokenData"] == {"id": "t", "type": token_type}


def test_fields_are_named_by_the_settings() -> None:
    record = {"push": "t-9", "kind": "wns", "token": "ignored", "token_type": "fcm"}
    result = mapped(record, token_field="push", token_type_field="kind")
    assert result["tokenData"] == {"id": "t-9", "type": "wns"}


def test_a_constant_type_wins_over_the_type_field() -> None:
    result = mapped({"token": "t", "token_type": "wns"}, token_type="gcm")
    assert result["tokenData"] == {"id": "t", "type": "gcm"}


@pytest.mark.parametrize("keys", [KEYS, json.dumps(KEYS)])
def test_a_chrome_token_carries_its_keys_from_an_object_or_json_text(keys: Any) -> None:
    result = mapped({"token": "https://push/1", "token_type": "chrome", "token_keys": keys})
    assert result["tokenData"] == {"id": "https://push/1", "type": "chrome", "keys": KEYS}


def test_only_the_two_web_push_keys_are_sent() -> None:
    keys = {**KEYS, "endpoint": "https://push/1", "extra": {"x": 1}}
    result = mapped({"token": "t", "token_keys": keys}, token_type="chrome")
    assert result["tokenData"]["keys"] == KEYS


@pytest.mark.parametrize(
    "keys",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        {"p256dh": "k"},
        {"auth": "a"},
        {"p256dh": "k", "auth": 5},
        {"p256dh": " ", "auth": "a"},
        ["p256dh", "auth"],
    ],
)
def test_a_chrome_token_without_both_keys_is_rejected(keys: Any) -> None:
    problem = rejection({"token": "t", "token_type": "chrome", "token_keys": keys})
    assert problem.code == "token_keys_invalid"
    assert "'token_keys' (the keys of a chrome token)" in problem.reason


@pytest.mark.parametrize("token", [None, "", "   "])
def test_a_row_without_a_token_is_rejected(token: Any) -> None:
    problem = rejection({"token": token, "token_type": "fcm"})
    assert problem.code == "token_missing"
    assert problem.reason.startswith("Field 'token' (the device token) is ")


@pytest.mark.parametrize("token", [12345, True, ["a"], {"id": "a"}])
def test_a_token_that_is_not_text_is_rejected(token: Any) -> None:
    assert rejection({"token": token, "token_type": "fcm"}).code == "token_invalid"


def test_a_token_is_never_read_from_another_field() -> None:
    assert rejection({"device_token": "t", "token_type": "fcm"}).code == "token_missing"


@pytest.mark.parametrize("token_type", [None, "", "  "])
def test_a_row_without_a_type_is_rejected(token_type: Any) -> None:
    problem = rejection({"token": "t", "token_type": token_type})
    assert problem.code == "token_type_missing"
    assert "or set 'token_type' for the stream" in problem.reason


@pytest.mark.parametrize("token_type", ["firebase", "ios", 1, True, ["fcm"]])
def test_a_row_with_an_unknown_type_is_rejected(token_type: Any) -> None:
    problem = rejection({"token": "t", "token_type": token_type})
    assert problem.code == "token_type_invalid"
    assert "CleverTap takes fcm, gcm, apns, wns, mpns, chrome" in problem.reason


@pytest.mark.parametrize("ctid", [None, "", " "])
def test_a_row_without_a_clevertap_id_is_rejected(ctid: Any) -> None:
    problem = rejection({"ctid": ctid, "token": "t", "token_type": "fcm"})
    assert problem.code == "identity_missing"
    assert "Field 'ctid' (the objectId)" in problem.reason


# --- settings ---------------------------------------------------------------------------------


def token_stream_config(**entry: Any) -> dict[str, Any]:
    return {**CONFIG, "streams": {"tokens": {"type": "token", **entry}}}


def test_a_token_stream_plan_has_its_settings_and_defaults() -> None:
    config = token_stream_config(identity_type="objectId", identity_field="ctid")
    plan = plan_stream(config, "tokens", {"properties": {}})
    assert (plan.kind, plan.identity_type, plan.identity_field) == ("token", "objectId", "ctid")
    assert plan.token == TokenSettings("token", None, "token_type", "token_keys")
    assert plan.subscription is None
    assert plan.describe() == (
        "Stream 'tokens' uploads device tokens: each row's CleverTap ID from 'ctid'."
    )


def test_token_settings_are_read_from_the_entry_and_the_star_entry() -> None:
    config = {
        **CONFIG,
        "streams": {
            "*": {"identity_type": "objectId", "token_keys_field": "keys"},
            "tokens": {"type": "token", "token_field": "t", "token_type": "apns"},
        },
    }
    assert config_errors(config) == []
    plan = plan_stream(config, "tokens", {})
    assert plan.token == TokenSettings("t", "apns", "token_type", "keys")


def test_a_profile_stream_has_no_token_settings() -> None:
    assert plan_stream(CONFIG, "users", {}).token is None


@pytest.mark.parametrize("entry", [{}, {"identity_type": "identity"}, {"identity_type": "GPID"}])
def test_a_token_stream_needs_identity_type_object_id(entry: dict[str, Any]) -> None:
    identity_type = entry.get("identity_type", "identity")
    assert config_errors(token_stream_config(**entry)) == [
        f"Stream 'tokens' holds device tokens, which CleverTap takes only for a CleverTap ID, "
        f"but its 'identity_type' is '{identity_type}': set 'identity_type' to 'objectId' and "
        "'identity_field' to the field holding the CleverTap ID."
    ]


def test_an_unknown_constant_token_type_is_refused_at_start() -> None:
    config = token_stream_config(identity_type="objectId", token_type="firebase")
    assert config_errors(config) == [
        "Setting 'streams.tokens.token_type' is 'firebase'; use one of fcm, gcm, apns, wns, "
        "mpns, chrome, or leave it out to read each record's type from 'token_type_field'."
    ]


def test_a_token_stream_cannot_delete_profiles() -> None:
    config = token_stream_config(identity_type="objectId", on_delete="delete")
    assert config_errors(config) == [
        "Setting 'streams.tokens.on_delete' is 'delete', but a token stream cannot delete (a "
        "token row marked deleted is not a deleted user); use 'skip' or 'upsert' for this stream."
    ]
    with pytest.raises(UnusableStreamSettings, match="a token stream cannot delete"):
        plan_stream(config, "tokens", {})


def test_an_inherited_delete_or_unset_does_not_apply_to_a_token_stream() -> None:
    config = {
        **CONFIG,
        "streams": {
            "*": {"on_delete": "delete", "on_null": "unset", "identity_type": "objectId"},
            "tokens": {"type": "token"},
        },
    }
    assert config_errors(config) == []
    plan = plan_stream(config, "tokens", {})
    assert (plan.on_delete, plan.on_null) == ("skip", "omit")
    assert len(plan.notes) == 2


def test_on_null_unset_is_refused_on_a_token_stream() -> None:
    config = token_stream_config(identity_type="objectId", on_null="unset")
    assert config_errors(config) == [
        "Setting 'streams.tokens.on_null' is 'unset', but a token stream sends no properties; "
        "use 'omit' for this stream."
    ]
