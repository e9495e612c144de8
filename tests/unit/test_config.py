"""Stream plans (plan_stream) and configuration checks (config_errors)."""

from __future__ import annotations

from typing import Any

import pytest

from target_clevertap.config import config_errors
from target_clevertap.plan import StreamPlan, UnusableStreamSettings, plan_stream, stream_settings

VALID = {"account_id": "ACC-1", "passcode": "s3cr3t-pass", "region": "eu1"}
SCHEMA: dict[str, Any] = {"properties": {"id": {"type": "string"}}}
EVENT_SCHEMA: dict[str, Any] = {"properties": {"id": {}, "evtName": {"type": "string"}}}


def config(**changes: Any) -> dict[str, Any]:
    merged = {**VALID, **changes}
    return {k: v for k, v in merged.items() if v is not None}


# --- plan_stream ------------------------------------------------------------------------------


def test_defaults_make_a_profile_plan() -> None:
    assert plan_stream(VALID, "users", SCHEMA) == StreamPlan(
        stream="users",
        kind="profile",
        identity_field="identity",
        identity_type="identity",
        event_name=None,
        event_name_field="evtName",
        timestamp_field="ts",
        date_fields=frozenset(),
        map_standard_fields=True,
        default_phone_region=None,
    )


@pytest.mark.parametrize(
    ("streams", "schema", "kind"),
    [
        ({}, SCHEMA, "profile"),
        ({}, EVENT_SCHEMA, "event"),
        ({"s": {"event_name": "Signed Up"}}, SCHEMA, "event"),
        ({"s": {"event_name_field": "action"}}, {"properties": {"action": {}}}, "event"),
        ({"s": {"event_name_field": "action"}}, EVENT_SCHEMA, "profile"),
        ({"s": {"type": "profile"}}, EVENT_SCHEMA, "profile"),
        ({"s": {"type": "profile", "event_name": "X"}}, SCHEMA, "profile"),
        ({"s": {"type": "event"}}, SCHEMA, "event"),
        ({"*": {"type": "event"}}, SCHEMA, "event"),
        ({"*": {"event_name": "Imported"}}, SCHEMA, "event"),
        ({"*": {"type": "event"}, "s": {"type": "profile"}}, EVENT_SCHEMA, "profile"),
        ({"*": {"type": "event"}, "other": {"type": "profile"}}, SCHEMA, "event"),
    ],
)
def test_stream_kind(streams: dict[str, Any], schema: dict[str, Any], kind: str) -> None:
    assert plan_stream(config(streams=streams), "s", schema).kind == kind


def test_stream_entry_overrides_the_star_defaults_field_by_field() -> None:
    streams = {
        "*": {"identity_field": "user_id", "identity_type": "FBID", "timestamp_field": "at"},
        "s": {"identity_type": "objectId", "event_name": "Viewed"},
    }
    plan = plan_stream(config(streams=streams), "s", SCHEMA)
    assert (plan.identity_field, plan.identity_type, plan.timestamp_field) == (
        "user_id",
        "objectId",
        "at",
    )
    assert (plan.kind, plan.event_name) == ("event", "Viewed")


def test_date_fields_come_from_date_formats_including_any_of() -> None:
    schema = {
        "properties": {
            "day": {"type": "string", "format": "date"},
            "at": {"type": ["string", "null"], "format": "date-time"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]},
            "either": {"oneOf": [{"type": "string", "format": "date"}, {"type": "integer"}]},
            "text": {"type": "string"},
            "clock": {"type": "string", "format": "time"},
            "mail": {"type": "string", "format": "email"},
            "plain_any": {"anyOf": [{"type": "null"}, {"type": "string"}]},
        }
    }
    assert plan_stream(VALID, "s", schema).date_fields == {"day", "at", "maybe", "either"}


def test_schema_without_properties_has_no_date_fields() -> None:
    assert plan_stream(VALID, "s", {}).date_fields == frozenset()


@pytest.mark.parametrize(
    ("changes", "standard", "region"),
    [
        ({}, True, None),
        ({"map_standard_fields": False}, False, None),
        ({"default_phone_region": "IN"}, True, "IN"),
        ({"default_phone_region": ""}, True, None),
    ],
)
def test_plan_carries_global_mapping_settings(
    changes: dict[str, Any], standard: bool, region: str | None
) -> None:
    plan = plan_stream(config(**changes), "s", SCHEMA)
    assert (plan.map_standard_fields, plan.default_phone_region) == (standard, region)


# --- config_errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["eu1", "in1", "sg1", "us1", "aps3", "mec1"])
def test_every_region_is_valid(region: str) -> None:
    assert config_errors(config(region=region)) == []


@pytest.mark.parametrize("region", ["eu2", "EU1", "sk1", "", "api.clevertap.com"])
def test_unknown_region_is_refused(region: str) -> None:
    (error,) = config_errors(config(region=region))
    assert "'region'" in error
    assert "eu1, in1, sg1, us1, aps3, mec1" in error


def test_region_or_api_url_is_required() -> None:
    (error,) = config_errors(config(region=None))
    assert "'region' is missing" in error
    assert config_errors(config(region=None, api_url="https://proxy.example.com")) == []


@pytest.mark.parametrize("account_id", [None, "", "   ", 12345])
def test_account_id_is_required(account_id: Any) -> None:
    (error,) = config_errors(config(account_id=account_id))
    assert "'account_id'" in error


@pytest.mark.parametrize(
    "passcode",
    [
        None,
        "",
        "   ",
        987654321,
        98765.4321,
        ["s3cr3t-in-a-list"],
        {"value": "s3cr3t-in-a-dict"},
        b"s3cr3t-bytes",
    ],
)
def test_passcode_is_required_and_never_quoted(passcode: Any) -> None:
    errors = config_errors(
        config(passcode=passcode, region="nowhere", max_concurrency=99, streams={"s": 1})
    )
    assert len(errors) == 4
    assert sum("'passcode'" in error for error in errors) == 1
    text = "\n".join(errors)
    if passcode is not None and str(passcode).strip():
        for shown in {str(passcode), repr(passcode), "s3cr3t", "987654321", "98765.4321"}:
            assert shown not in text


def test_valid_passcode_is_never_quoted_in_other_errors() -> None:
    errors = config_errors(
        config(region="nowhere", max_concurrency=0, api_url="http://proxy.example.com")
    )
    assert errors
    assert all("s3cr3t" not in error for error in errors)


@pytest.mark.parametrize(
    "api_url",
    [
        "https://proxy.example.com",
        "https://proxy.example.com:8443/base/",
        "http://127.0.0.1:8080",
        "http://127.0.0.1",
        "http://127.1.2.3:9000",
        "http://localhost:8080",
        "http://LOCALHOST:8080",
        "http://[::1]:8080",
    ],
)
def test_api_url_allowed(api_url: str) -> None:
    assert config_errors(config(region=None, api_url=api_url)) == []


@pytest.mark.parametrize(
    "api_url",
    [
        "http://proxy.example.com",
        "http://10.0.0.5:8080",
        "http://192.168.1.1",
        "http://0.0.0.0:8080",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://[::2]:8080",
    ],
)
def test_plain_http_to_a_non_loopback_host_is_refused(api_url: str) -> None:
    (error,) = config_errors(config(region=None, api_url=api_url))
    assert "plain http" in error
    assert "loopback" in error


@pytest.mark.parametrize("api_url", ["ftp://proxy.example.com", "proxy.example.com", "https://"])
def test_api_url_must_be_a_url(api_url: str) -> None:
    (error,) = config_errors(config(region=None, api_url=api_url))
    assert "'api_url'" in error


@pytest.mark.parametrize("value", [1, 3, 15])
def test_max_concurrency_within_1_to_15(value: int) -> None:
    assert config_errors(config(max_concurrency=value)) == []


@pytest.mark.parametrize("value", [0, -1, 16, 100])
def test_max_concurrency_outside_1_to_15_is_refused(value: int) -> None:
    assert config_errors(config(max_concurrency=value)) == [
        f"Setting 'max_concurrency' is {value}; it must be between 1 and 15."
    ]


@pytest.mark.parametrize("value", ["5", True, [3]])
def test_max_concurrency_must_be_a_number(value: Any) -> None:
    (error,) = config_errors(config(max_concurrency=value))
    assert error.startswith("Setting 'max_concurrency' must be a number")


@pytest.mark.parametrize("entry", [{"type": "event"}, {"type": "event", "event_name_field": "x"}])
def test_event_stream_with_a_name_source_is_valid(entry: dict[str, Any]) -> None:
    assert config_errors(config(streams={"clicks": entry})) == []


@pytest.mark.parametrize("cleared", [None, ""])
def test_event_stream_needs_event_name_or_event_name_field(cleared: Any) -> None:
    streams = {"clicks": {"type": "event", "event_name_field": cleared}}
    assert config_errors(config(streams=streams)) == [
        "Stream 'clicks' is an event stream but has neither 'event_name' nor "
        "'event_name_field': set one of them in its 'streams' entry."
    ]
    streams["clicks"]["event_name"] = "Clicked"
    assert config_errors(config(streams=streams)) == []


def test_star_defaults_apply_to_the_event_name_check() -> None:
    streams = {"*": {"event_name_field": None}, "clicks": {"type": "event"}}
    (error,) = config_errors(config(streams=streams))
    assert error.startswith("Stream 'clicks' is an event stream")


@pytest.mark.parametrize("identity_type", ["identity", "objectId", "FBID", "GPID"])
def test_identity_types_allowed(identity_type: str) -> None:
    assert config_errors(config(streams={"s": {"identity_type": identity_type}})) == []


@pytest.mark.parametrize("identity_type", ["email", "Identity", "objectid", "guid"])
def test_bad_identity_type_is_refused(identity_type: str) -> None:
    assert config_errors(config(streams={"s": {"identity_type": identity_type}})) == [
        f"Setting 'streams.s.identity_type' is '{identity_type}'; use one of "
        "identity, objectId, FBID, GPID."
    ]


@pytest.mark.parametrize("on_delete", ["erase", "SKIP", "ignore"])
def test_bad_on_delete_is_refused(on_delete: str) -> None:
    assert config_errors(config(streams={"*": {"on_delete": on_delete}})) == [
        f"Setting 'streams.*.on_delete' is '{on_delete}'; use 'skip' (rows marked deleted are "
        "not sent), 'upsert' (they are sent like any row) or 'delete' (their CleverTap profiles "
        "are deleted)."
    ]


@pytest.mark.parametrize(
    ("streams", "error"),
    [
        (
            {"s": {"type": "event", "on_delete": "delete"}},
            "Setting 'streams.s.on_delete' is 'delete', but an event stream cannot delete "
            "(CleverTap deletes profiles, not single events); use 'skip' or 'upsert' for this "
            "stream.",
        ),
        (
            {"s": {"identity_type": "FBID", "on_delete": "delete"}},
            "Setting 'streams.s.on_delete' is 'delete', but CleverTap deletes profiles by "
            "identity or objectId only, not by FBID; use 'skip' or 'upsert' for this stream.",
        ),
        (
            {"*": {"identity_type": "GPID", "on_delete": "delete"}},
            "Setting 'streams.*.on_delete' is 'delete', but CleverTap deletes profiles by "
            "identity or objectId only, not by GPID; use 'skip' or 'upsert' for this stream.",
        ),
        (
            {"erasures": {"type": "delete", "identity_type": "FBID"}},
            "Setting 'streams.erasures.type' is 'delete', but CleverTap deletes profiles by "
            "identity or objectId only, not by FBID.",
        ),
    ],
)
def test_a_delete_that_cannot_be_done_is_refused_at_start(streams: dict, error: str) -> None:
    assert config_errors(config(streams=streams)) == [error]


@pytest.mark.parametrize(
    "streams",
    [
        {"*": {"on_delete": "delete"}, "clicks": {"type": "event"}},  # inherited: ignored there
        {"*": {"on_delete": "delete"}, "fb": {"identity_type": "FBID"}},
        {"s": {"on_delete": "delete", "identity_type": "objectId"}},
        {"erasures": {"type": "delete"}},
    ],
)
def test_deletes_that_can_be_done_or_are_inherited_pass(streams: dict) -> None:
    assert config_errors(config(streams=streams)) == []


def test_an_inherited_delete_is_ignored_for_an_event_stream_with_a_note() -> None:
    plan = plan_stream(config(streams={"*": {"on_delete": "delete"}}), "clicks", EVENT_SCHEMA)
    assert (plan.kind, plan.on_delete) == ("event", "skip")
    [note] = plan.notes
    assert "'on_delete: delete' from the \"*\" entry does not apply" in note


def test_a_stream_of_its_own_asking_an_inferred_event_stream_to_delete_stops() -> None:
    with pytest.raises(UnusableStreamSettings, match="an event stream cannot delete"):
        plan_stream(config(streams={"clicks": {"on_delete": "delete"}}), "clicks", EVENT_SCHEMA)


@pytest.mark.parametrize(
    ("streams", "error"),
    [
        (
            {"s": {"on_null": "clear"}},
            "Setting 'streams.s.on_null' is 'clear'; use 'omit' (a null property is left out) "
            "or 'unset' (it removes the stored property).",
        ),
        (
            {"s": {"type": "event", "on_null": "unset"}},
            "Setting 'streams.s.on_null' is 'unset', but an event stream has no stored "
            "properties to unset; use 'omit' for this stream.",
        ),
    ],
)
def test_bad_on_null_is_refused(streams: dict, error: str) -> None:
    assert config_errors(config(streams=streams)) == [error]


def test_on_null_unset_applies_to_profiles_and_an_inherited_one_not_to_events() -> None:
    settings = config(streams={"*": {"on_null": "unset"}})
    assert plan_stream(settings, "users", SCHEMA).on_null == "unset"
    events = plan_stream(settings, "clicks", EVENT_SCHEMA)
    assert events.on_null == "omit"
    assert "'on_null: unset' from the \"*\" entry does not apply" in events.notes[0]
    with pytest.raises(UnusableStreamSettings, match="no stored properties to unset"):
        plan_stream(config(streams={"clicks": {"on_null": "unset"}}), "clicks", EVENT_SCHEMA)


@pytest.mark.parametrize("on_delete", [None, "skip", "upsert"])
def test_on_delete_defaults_to_skip(on_delete: str | None) -> None:
    entry = {} if on_delete is None else {"on_delete": on_delete}
    assert config_errors(config(streams={"s": entry})) == []
    assert stream_settings(config(streams={"s": entry}), "s").on_delete == (on_delete or "skip")


def test_bad_stream_type_is_refused() -> None:
    (error,) = config_errors(config(streams={"s": {"type": "tokens"}}))
    assert error == (
        "Setting 'streams.s.type' is 'tokens'; use one of profile, event, delete, token, "
        "subscription."
    )


@pytest.mark.parametrize("streams", [["s"], "s"])
def test_streams_must_be_an_object(streams: Any) -> None:
    assert config_errors(config(streams=streams)) == [
        "Setting 'streams' must be an object keyed by stream name."
    ]


@pytest.mark.parametrize("region", [["us1"], {"name": "us1"}, 1])
def test_region_of_the_wrong_type_is_refused(region: Any) -> None:
    (error,) = config_errors(config(region=region))
    assert "'region'" in error


def test_region_is_still_checked_when_api_url_is_set() -> None:
    (error,) = config_errors(config(region="eu2", api_url="https://proxy.example.com"))
    assert "'region' is 'eu2'" in error


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_concurrency", 2.5), ("max_retries", 1.5), ("batch_size_rows", 10.1)],
)
def test_whole_number_settings_refuse_fractions(name: str, value: float) -> None:
    (error,) = config_errors(config(**{name: value}))
    assert f"'{name}' is {value}; it must be a whole number" in error


@pytest.mark.parametrize("name", ["request_timeout", "retry_backoff_seconds", "max_concurrency"])
def test_numeric_settings_refuse_nan(name: str) -> None:
    (error,) = config_errors(config(**{name: float("nan")}))
    assert f"'{name}' is nan" in error


@pytest.mark.parametrize("region", ["US", "gb", "IN"])
def test_known_phone_regions_in_any_case(region: str) -> None:
    assert config_errors(config(default_phone_region=region)) == []


@pytest.mark.parametrize("region", ["XX", "USA", 1])
def test_unknown_phone_region_is_refused(region: Any) -> None:
    (error,) = config_errors(config(default_phone_region=region))
    assert "'default_phone_region'" in error


def test_star_entry_that_is_not_an_object_is_refused_without_crashing() -> None:
    errors = config_errors(config(streams={"*": "profile", "users": {"type": "profile"}}))
    assert errors == ["Setting 'streams.*' must be an object."]


def test_the_event_ledger_settings() -> None:
    assert config_errors(config(event_ledger_path="ledger.db", event_ledger_days=7)) == []
    assert config_errors(config(event_ledger_url="postgresql://u:secret-pw@db/x")) == []
    (both,) = config_errors(config(event_ledger_path="l.db", event_ledger_url="postgresql://db"))
    assert "'event_ledger_path' and 'event_ledger_url' are both set" in both
    (scheme,) = config_errors(config(event_ledger_url="mysql://u:secret-pw@db/x"))
    assert "must be a postgresql:// URL" in scheme
    assert "secret-pw" not in scheme
    (days,) = config_errors(config(event_ledger_days=0))
    assert days == "Setting 'event_ledger_days' is 0; it must be between 1 and 36500."


@pytest.mark.parametrize("key_fields", [[], "order_id", [""], [1]])
def test_event_key_fields_must_be_a_list_of_field_names(key_fields: Any) -> None:
    (error,) = config_errors(config(streams={"orders": {"event_key_fields": key_fields}}))
    assert error.startswith("Setting 'streams.orders.event_key_fields' must be a list")


def test_event_key_fields_on_a_profile_stream_are_noted_and_left_unused() -> None:
    settings = config(streams={"*": {"event_key_fields": ["id"]}})
    assert plan_stream(settings, "users", SCHEMA).notes == (
        "Stream 'users': 'event_key_fields' does not apply (a profile stream does not use the "
        "event ledger: sending it again is harmless).",
    )
    assert plan_stream(settings, "clicks", EVENT_SCHEMA).event_key_fields == ("id",)
    assert plan_stream(settings, "clicks", EVENT_SCHEMA).notes == ()


def test_a_mistyped_stream_setting_is_refused_not_ignored() -> None:
    streams = {"users": {"type": "profile", "on_delet": "delete"}, "*": {"max_concurrency": 3}}
    assert config_errors(config(streams=streams)) == [
        "Setting 'streams.users' has 'on_delet', which no stream takes; check the spelling "
        "(--about lists each stream setting under 'streams').",
        "Setting 'streams.*' has 'max_concurrency', which no stream takes; check the spelling "
        "(--about lists each stream setting under 'streams').",
    ]
