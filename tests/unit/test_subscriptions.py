"""Subscriptions: a subscription stream's row as one `/1/subscribe` record, or a rejection with
its code; and the subscription settings' start-time checks."""

from __future__ import annotations

from typing import Any

import pytest

from target_clevertap.config import config_errors
from target_clevertap.mapping import Rejection, subscription
from target_clevertap.plan import StreamPlan, UnusableStreamSettings, plan_stream
from target_clevertap.subscriptions import SubscriptionSettings
from tests.unit.plans import profile_plan

CONFIG = {"account_id": "ACC-1", "passcode": "s3cr3t-pass", "region": "eu1"}


def subscription_plan(region: str | None = None, **settings: Any) -> StreamPlan:
    return profile_plan(
        stream="optouts",
        kind="subscription",
        default_phone_region=region,
        subscription=SubscriptionSettings(**settings),
    )


def mapped(record: dict[str, Any], region: str | None = None, **settings: Any) -> Any:
    return subscription(record, subscription_plan(region, **settings))


def rejection(record: dict[str, Any], **settings: Any) -> Rejection:
    result = mapped(record, **settings)
    assert isinstance(result, Rejection), result
    return result


# --- mapping ----------------------------------------------------------------------------------


def test_a_row_becomes_a_subscribe_record_and_nothing_else() -> None:
    record = {"channel": "email", "value": "ana@example.com", "status": "Unsubscribe", "id": 7}
    assert mapped(record) == {"type": "email", "value": "ana@example.com", "status": "Unsubscribe"}


@pytest.mark.parametrize(
    ("status", "sent"),
    [
        ("Unsubscribe", "Unsubscribe"),
        ("Resubscribe", "Resubscribe"),
        (" unsubscribe ", "Unsubscribe"),
        ("RESUBSCRIBE", "Resubscribe"),
        (True, "Resubscribe"),
        (False, "Unsubscribe"),
    ],
)
def test_status_from_the_two_words_in_any_case_or_a_subscribed_boolean(
    status: Any, sent: str
) -> None:
    record = {"channel": "email", "value": "a@b.co", "status": status}
    assert mapped(record)["status"] == sent


@pytest.mark.parametrize(
    "status", [None, "", "unsubscribed", "subscribe", "true", "yes", 1, 0, ["Unsubscribe"]]
)
def test_any_other_status_is_rejected(status: Any) -> None:
    problem = rejection({"channel": "email", "value": "a@b.co", "status": status})
    assert problem.code == "status_invalid"
    assert problem.reason.startswith("Field 'status' (the subscription status) is ")


@pytest.mark.parametrize("channel", ["email", " EMAIL ", "Email"])
def test_channel_is_read_in_any_case(channel: str) -> None:
    record = {"channel": channel, "value": "a@b.co", "status": False}
    assert mapped(record)["type"] == "email"


@pytest.mark.parametrize("channel", [None, "", "sms", "whatsapp", "push", 1, True])
def test_an_unknown_channel_is_rejected(channel: Any) -> None:
    problem = rejection({"channel": channel, "value": "a@b.co", "status": False})
    assert problem.code == "channel_invalid"
    assert "use 'email' or 'phone' (or set 'channel' for the stream)" in problem.reason


def test_a_constant_channel_wins_over_the_channel_field() -> None:
    record = {"channel": "sms", "value": "+14155550100", "status": True}
    assert mapped(record, channel="phone")["type"] == "phone"


def test_fields_are_named_by_the_settings() -> None:
    record = {"medium": "email", "address": " ana@example.com ", "subscribed": False}
    result = mapped(
        record, channel_field="medium", value_field="address", status_field="subscribed"
    )
    assert result == {"type": "email", "value": "ana@example.com", "status": "Unsubscribe"}


@pytest.mark.parametrize(
    "address",
    ["ana", "ana@", "@example.com", "ana@example", "a na@example.com", 12, True, ["a@b.co"]],
)
def test_an_email_that_is_not_an_address_is_rejected(address: Any) -> None:
    problem = rejection({"channel": "email", "value": address, "status": False})
    assert problem.code == "email_invalid"
    assert "which is not an email address" in problem.reason


@pytest.mark.parametrize(
    ("number", "region", "sent"),
    [
        ("+14155550100", None, "+14155550100"),
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        (4155550100, "US", "+14155550100"),
        ("020 7946 0018", "GB", "+442079460018"),
    ],
)
def test_a_phone_is_sent_in_e164_as_for_profiles(
    number: Any, region: str | None, sent: str
) -> None:
    record = {"channel": "phone", "value": number, "status": "Unsubscribe"}
    assert mapped(record, region)["value"] == sent


@pytest.mark.parametrize(
    ("number", "region"),
    [("4155550100", None), ("+1 415", None), ("call me", "US"), (True, "US"), (1.5, "US")],
)
def test_a_phone_that_is_not_a_number_is_rejected(number: Any, region: str | None) -> None:
    result = mapped({"channel": "phone", "value": number, "status": True}, region)
    assert isinstance(result, Rejection), result
    assert result.code == "phone_invalid"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_row_without_an_address_is_rejected(value: Any) -> None:
    problem = rejection({"channel": "email", "value": value, "status": True})
    assert problem.code == "value_missing"
    assert problem.reason == (
        f"Field 'value' (the email to subscribe or unsubscribe) is {value!r}; every record "
        "needs an email address."
    )


# --- settings ---------------------------------------------------------------------------------


def stream_config(**entry: Any) -> dict[str, Any]:
    return {**CONFIG, "streams": {"optouts": {"type": "subscription", **entry}}}


def test_a_subscription_stream_plan_has_its_settings_and_defaults() -> None:
    plan = plan_stream(stream_config(), "optouts", {"properties": {}})
    assert plan.kind == "subscription"
    assert plan.subscription == SubscriptionSettings(None, "channel", "value", "status")
    assert plan.token is None
    assert "unsubscribes and resubscribes email addresses and phone numbers" in plan.describe()


def test_subscription_settings_are_read_from_the_entry() -> None:
    config = stream_config(channel="phone", value_field="msisdn", status_field="subscribed")
    assert config_errors(config) == []
    assert plan_stream(config, "optouts", {}).subscription == SubscriptionSettings(
        "phone", "channel", "msisdn", "subscribed"
    )


def test_a_clevertap_id_field_on_the_stream_entry_is_refused() -> None:
    assert config_errors(stream_config(object_id_field="ct_id")) == [
        "Setting 'streams.optouts.object_id_field' is set, but a subscription stream sends no "
        "profiles or events."
    ]


@pytest.mark.parametrize("name", ["identity_field", "identity_type"])
def test_identity_settings_on_the_stream_entry_are_refused(name: str) -> None:
    value = "objectId" if name == "identity_type" else "user_id"
    assert config_errors(stream_config(**{name: value})) == [
        f"Setting 'streams.optouts.{name}' does not apply to a subscription stream, which "
        "changes every profile sharing an email address or phone number rather than one "
        "profile: remove it (the address comes from 'value_field')."
    ]


def test_identity_settings_from_the_star_entry_are_no_concern_of_a_subscription_stream() -> None:
    config = {
        **CONFIG,
        "streams": {
            "*": {"identity_field": "user_id", "identity_type": "objectId"},
            "optouts": {"type": "subscription"},
        },
    }
    assert config_errors(config) == []


def test_a_clevertap_id_field_from_the_star_entry_is_no_concern_of_a_subscription_stream() -> None:
    config = {
        **CONFIG,
        "streams": {
            "*": {"identity_field": "user_id", "object_id_field": "ct_id"},
            "optouts": {"type": "subscription"},
        },
    }
    assert config_errors(config) == []


def test_an_unknown_constant_channel_is_refused_at_start() -> None:
    assert config_errors(stream_config(channel="sms")) == [
        "Setting 'streams.optouts.channel' is 'sms'; use 'email' or 'phone', or leave it out to "
        "read each record's channel from 'channel_field'."
    ]


def test_a_subscription_stream_cannot_delete_or_unset() -> None:
    assert config_errors(stream_config(on_delete="delete", on_null="unset")) == [
        "Setting 'streams.optouts.on_delete' is 'delete', but a subscription stream names an "
        "address, not a profile to delete; use 'skip' or 'upsert' for this stream.",
        "Setting 'streams.optouts.on_null' is 'unset', but a subscription stream sends no "
        "properties; use 'omit' for this stream.",
    ]
    with pytest.raises(UnusableStreamSettings, match="a subscription stream names an address"):
        plan_stream(stream_config(on_delete="delete"), "optouts", {})
