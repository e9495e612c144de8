"""Settings of the target: their JSON schema, their checks, and the run's `Settings` resolved once.

Per-stream settings are resolved in `plan`.
Every check returns a sentence a person can act on, names the setting, and never quotes the
passcode.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from target_clevertap import device_tokens, subscriptions, values
from target_clevertap.device_tokens import TOKEN_TYPES
from target_clevertap.field_mapping import property_errors
from target_clevertap.plan import (
    DEFAULT_MAP_STANDARD_FIELDS,
    IDENTITY_TYPES,
    KINDS_THAT_LINK,
    ON_DELETE,
    ON_DELETE_DELETE,
    ON_NULL,
    ON_NULL_UNSET,
    STREAM_TYPES,
    StreamSettings,
    identity_fields,
    refusal,
    stream_entry,
    stream_settings,
    why_it_cannot_delete,
    why_it_cannot_link,
    why_it_cannot_unset,
)

REGION_HOSTS: dict[str, str] = {
    "eu1": "api.clevertap.com",
    "in1": "in1.api.clevertap.com",
    "sg1": "sg1.api.clevertap.com",
    "us1": "us1.api.clevertap.com",
    "aps3": "aps3.api.clevertap.com",
    "mec1": "mec1.api.clevertap.com",
}
MAX_BATCH_ROWS = 1000
# CleverTap's budgets of requests in flight per account: uploads, and its other APIs (section 6).
MAX_CONCURRENCY = 15
MAX_CONCURRENCY_OTHER = 3
# Rejected records go here unless `rejected_records_path` says otherwise ("" logs them instead).
DEFAULT_REJECTED_RECORDS_PATH = "rejected-records.jsonl"


@dataclass(frozen=True)
class Settings:
    """The run's settings, resolved once from the config; every run-level default is here."""

    account_id: str
    passcode: str = field(repr=False)
    base_url: str
    max_concurrency: int = MAX_CONCURRENCY
    max_concurrency_other: int = 1
    request_timeout: float = 60.0
    max_retries: int = 8
    retry_backoff_seconds: float = 1.0
    batch_rows: int = MAX_BATCH_ROWS
    dry_run: bool = False
    rejected_records_path: str | None = None
    """None: the default place, which falls back to logging when it cannot be written."""
    fail_on_rejected: bool = False
    stop_grace_seconds: float = 20.0
    progress_interval_seconds: float = 30.0
    event_ledger_path: str | None = None
    event_ledger_url: str | None = field(default=None, repr=False)
    event_ledger_days: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Resolve a config that `config_errors` found nothing wrong with."""
        given = {
            name: convert(config[name])
            for name, convert in _TUNABLES.items()
            if config.get(name) is not None
        }
        return cls(
            account_id=str(config["account_id"]),
            passcode=str(config["passcode"]),
            base_url=api_base_url(config),
            batch_rows=batch_rows(config),
            **given,
        )


_TUNABLES: dict[str, Any] = {
    "max_concurrency": int,
    "max_concurrency_other": int,
    "request_timeout": float,
    "max_retries": int,
    "retry_backoff_seconds": float,
    "dry_run": bool,
    "rejected_records_path": lambda path: chosen_rejects_path(str(path)),
    "fail_on_rejected": bool,
    "stop_grace_seconds": float,
    "progress_interval_seconds": float,
    "event_ledger_path": str,
    "event_ledger_url": str,
    "event_ledger_days": int,
}


def chosen_rejects_path(path: str) -> str | None:
    """The rejects path the user chose, or None for the default place (an SDK that fills in
    schema defaults hands the default name over as if it were chosen)."""
    return None if path == DEFAULT_REJECTED_RECORDS_PATH else path


def default_of(setting: str) -> Any:
    """The default of a run-level setting, as the settings schema declares it."""
    return next(f.default for f in fields(Settings) if f.name == setting)


STREAM_SETTINGS_SCHEMA = th.ObjectType(
    th.Property("type", th.StringType, allowed_values=list(STREAM_TYPES)),
    th.Property(
        "identity_field",
        th.CustomType({"type": ["string", "array"], "items": {"type": "string"}}),
        description=(
            "Field holding the identity, or a list of fields: the first present and not blank "
            'wins (e.g. ["user_id", "anonymous_id"]); every listed field is left out of the '
            "data."
        ),
    ),
    th.Property("identity_type", th.StringType, allowed_values=list(IDENTITY_TYPES)),
    th.Property("event_name", th.StringType),
    th.Property("event_name_field", th.StringType),
    th.Property("timestamp_field", th.StringType),
    th.Property("on_delete", th.StringType, allowed_values=list(ON_DELETE)),
    th.Property("on_null", th.StringType, allowed_values=list(ON_NULL)),
    th.Property(
        "token_field",
        th.StringType,
        description="Token streams: the field holding the device token (default 'token').",
    ),
    th.Property(
        "token_type",
        th.StringType,
        allowed_values=list(TOKEN_TYPES),
        description=(
            "Token streams: one token type for every row (fcm, gcm, apns, wns, mpns, chrome); "
            "without it each row's type is read from token_type_field."
        ),
    ),
    th.Property(
        "token_type_field",
        th.StringType,
        description="Token streams: the field holding each row's token type (default "
        "'token_type').",
    ),
    th.Property(
        "token_keys_field",
        th.StringType,
        description=(
            "Token streams: the field holding a chrome token's keys, an object (or its JSON "
            "text) with p256dh and auth (default 'token_keys')."
        ),
    ),
    th.Property(
        "channel",
        th.StringType,
        allowed_values=list(subscriptions.CHANNELS),
        description=(
            "Subscription streams: one channel for every row (email or phone); without it each "
            "row's channel is read from channel_field."
        ),
    ),
    th.Property(
        "channel_field",
        th.StringType,
        description="Subscription streams: the field holding each row's channel, email or phone "
        "(default 'channel').",
    ),
    th.Property(
        "value_field",
        th.StringType,
        description=(
            "Subscription streams: the field holding the email address or phone number (E.164, "
            "or national with default_phone_region) (default 'value')."
        ),
    ),
    th.Property(
        "status_field",
        th.StringType,
        description=(
            "Subscription streams: the field holding Unsubscribe or Resubscribe, or a boolean "
            "'subscribed' (true resubscribes, false unsubscribes) (default 'status')."
        ),
    ),
    th.Property(
        "object_id_field",
        th.StringType,
        description=(
            "Field holding the CleverTap ID (objectId) on profile and event streams with "
            "identity_type identity: where a row has one, a profile is sent with objectId at the "
            "top level and the identity in profileData.identity (linking the device's profile to "
            "the user), an event with objectId alone; a delete still uses the identity."
        ),
    ),
    th.Property(
        "properties",
        th.CustomType(
            {
                "type": "object",
                "additionalProperties": {"type": ["string", "object", "null"]},
            }
        ),
        description=(
            "Field mapping keyed by source key: the CleverTap key (text), null to leave the "
            'column out, or {"to": key, "operation": "set"|"add"|"remove"|"incr"|"decr", '
            '"format": "date"}. A "to" takes its key out of standard-field matching; add/remove '
            "send $add/$remove lists (at most 100 items), incr/decr send $incr/$decr numbers "
            "(profile streams only); format date sends $D_<epoch seconds>."
        ),
    ),
    th.Property("event_key_fields", th.ArrayType(th.StringType)),
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "account_id",
        th.StringType,
        required=True,
        title="Account ID",
        description="CleverTap Account ID (Settings > Project in the dashboard).",
    ),
    th.Property(
        "passcode",
        th.StringType,
        required=True,
        secret=True,
        title="Passcode",
        description="CleverTap Passcode (Settings > Project). Never printed or logged.",
    ),
    th.Property(
        "region",
        th.StringType,
        allowed_values=list(REGION_HOSTS),
        title="Region",
        description=(
            "Data centre of the account: the prefix of its dashboard URL "
            "(eu1, in1, sg1, us1, aps3, mec1). Required unless api_url is set."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API URL",
        description=(
            "Base URL override (proxy, local sandbox), e.g. http://127.0.0.1:8080. "
            "Plain http is accepted only for loopback hosts."
        ),
    ),
    th.Property(
        "streams",
        th.ObjectType(additional_properties=STREAM_SETTINGS_SCHEMA),
        title="Streams",
        description=(
            'Per-stream settings keyed by stream name; "*" gives defaults. Each: type '
            "(profile|event|delete|token|subscription), identity_field, identity_type, "
            "event_name, event_name_field, timestamp_field, on_delete (skip|upsert|delete: what "
            "a row whose _sdc_deleted_at is set does), on_null (omit|unset: what a null property "
            "of a profile does), object_id_field (the CleverTap ID linked to the identity) and "
            "properties (field mapping: renames, $add/$remove/$incr/$decr operations, dates); "
            "token streams: token_field, token_type or token_type_field, token_keys_field; "
            "subscription streams: channel or channel_field, value_field, status_field; event "
            "streams: event_key_fields (source fields that identify an event for the event "
            'ledger, e.g. ["order_id"]; else a hash of the mapped event).'
        ),
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType,
        default=default_of("max_concurrency"),
        title="Max concurrency",
        description="Most upload requests in flight at once (1-15; CleverTap allows 15).",
    ),
    th.Property(
        "max_concurrency_other",
        th.IntegerType,
        default=default_of("max_concurrency_other"),
        title="Max concurrency of other APIs",
        description=(
            "Most delete and subscribe requests in flight at once (1-3; CleverTap allows 3 for "
            "its APIs other than upload, shared with every other client of the account)."
        ),
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=default_of("request_timeout"),
        title="Request timeout",
        description="Seconds to wait for one upload request.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=default_of("max_retries"),
        title="Max retries",
        description=(
            "Retries of one request on 429, 5xx, timeouts and connection errors; a 429 while "
            "other requests of ours are in flight does not count, one while none is counts a "
            "quarter."
        ),
    ),
    th.Property(
        "retry_backoff_seconds",
        th.NumberType,
        default=default_of("retry_backoff_seconds"),
        title="Retry backoff",
        description="Wait before the first retry; doubles each retry (with jitter), capped at 60s.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=default_of("dry_run"),
        title="Dry run",
        description=(
            "Send every upload with ?dryRun=1: CleverTap validates the records and stores "
            "nothing (deletes are not sent, only counted). Writes no state."
        ),
    ),
    th.Property(
        "rejected_records_path",
        th.StringType,
        default=DEFAULT_REJECTED_RECORDS_PATH,
        title="Rejected records file",
        description=(
            "JSON Lines file that receives every rejected record (appended; created readable by "
            'its owner only, as it holds source records, personal data included). "" keeps no '
            "file and logs each rejected record at WARNING instead, as happens when the default "
            "place cannot be written."
        ),
    ),
    th.Property(
        "fail_on_rejected",
        th.BooleanType,
        default=default_of("fail_on_rejected"),
        title="Fail on rejected",
        description="Exit non-zero at the end of a run in which any record was rejected.",
    ),
    th.Property(
        "stop_grace_seconds",
        th.NumberType,
        default=default_of("stop_grace_seconds"),
        title="Stop grace period",
        description=(
            "Seconds a stop (SIGTERM/SIGINT) leaves for sending what was read, retries and "
            "requests in flight included; what is not delivered by then is left for the next "
            "run, as no state covers it. Keep it under the platform's kill timeout (30s in "
            "Kubernetes and Docker)."
        ),
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType,
        default=default_of("progress_interval_seconds"),
        title="Progress interval",
        description=(
            "Seconds between the progress lines logged at INFO, one per stream: records read, "
            "sent, accepted, rejected and in flight, records/s sent, the last state written. "
            "0 turns them off."
        ),
    ),
    th.Property(
        "event_ledger_path",
        th.StringType,
        title="Event ledger file",
        description=(
            "SQLite file (created with its folders) remembering every event CleverTap accepted, "
            "so a re-run, a resume after a crash or a re-read boundary row never sends it "
            "again. Keep it on a persistent volume."
        ),
    ),
    th.Property(
        "event_ledger_url",
        th.StringType,
        secret=True,
        title="Event ledger database URL",
        description=(
            "postgresql:// URL of a database holding the event ledger instead of a file, "
            "shared by workers on several machines (needs target-clevertap[postgres])."
        ),
    ),
    th.Property(
        "event_ledger_days",
        th.IntegerType,
        default=default_of("event_ledger_days"),
        title="Event ledger retention",
        description=(
            "Days an event's key is kept in the ledger (pruned at start); re-running data "
            "delivered longer ago than that sends it again."
        ),
    ),
    th.Property(
        "map_standard_fields",
        th.BooleanType,
        default=DEFAULT_MAP_STANDARD_FIELDS,
        title="Map standard fields",
        description="Rename name/email/phone/gender/dob/... to CleverTap's standard profile keys.",
    ),
    th.Property(
        "default_phone_region",
        th.StringType,
        title="Default phone region",
        description="ISO country code (e.g. US, IN) for phone numbers without a country code.",
    ),
    # Settings singer-sdk adds to every target, declared here to say what they do in this one.
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=MAX_BATCH_ROWS,
        title="Batch size (rows)",
        description="Records per request, 1-1000 (CleverTap's limit); a larger value means 1000.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=True,
        title="Validate records",
        description=(
            "Check each record against its stream's SCHEMA; a record that does not match is "
            "rejected (schema_invalid) and the others go on."
        ),
    ),
    th.Property(
        "add_record_metadata",
        th.BooleanType,
        default=False,
        title="Add record metadata",
        description=(
            "Send the Singer SDK's _sdc_ metadata of each record (received, batched, sequence, "
            "sync started; extracted when the tap gives it) as custom CleverTap properties."
        ),
    ),
).to_dict()


def batch_rows(config: Mapping[str, Any]) -> int:
    """Records per request: `batch_size_rows` clamped to CleverTap's 1..1000."""
    return max(1, min(int(config.get("batch_size_rows") or MAX_BATCH_ROWS), MAX_BATCH_ROWS))


def batch_rows_note(config: Mapping[str, Any]) -> str | None:
    """What a run says when `batch_size_rows` is above what CleverTap takes in one request."""
    asked = config.get("batch_size_rows")
    if asked is None or asked <= MAX_BATCH_ROWS:
        return None
    return (
        f"Setting 'batch_size_rows' is {asked}, above the {MAX_BATCH_ROWS} records CleverTap "
        f"takes in one request: requests hold {MAX_BATCH_ROWS} records."
    )


def api_base_url(config: Mapping[str, Any]) -> str:
    """The base URL requests go to: api_url if set, else the region's host."""
    if config.get("api_url"):
        return str(config["api_url"]).rstrip("/")
    return f"https://{REGION_HOSTS[config['region']]}"


def config_errors(config: Mapping[str, Any]) -> list[str]:
    """Every problem with the configuration, one sentence each."""
    return [
        *_credential_errors(config),
        *_endpoint_errors(config),
        *_limit_errors(config),
        *_phone_region_errors(config),
        *_ledger_errors(config),
        *_stream_errors(config),
    ]


def _credential_errors(config: Mapping[str, Any]) -> list[str]:
    errors = []
    if not isinstance(config.get("account_id"), str) or not config["account_id"].strip():
        errors.append(
            "Setting 'account_id' is missing: copy the Account ID from CleverTap's "
            "Settings > Project page (or set TARGET_CLEVERTAP_ACCOUNT_ID)."
        )
    if not isinstance(config.get("passcode"), str) or not config["passcode"].strip():
        errors.append(
            "Setting 'passcode' is missing or not a string: copy the Passcode from CleverTap's "
            "Settings > Project page (or set TARGET_CLEVERTAP_PASSCODE)."
        )
    return errors


def _endpoint_errors(config: Mapping[str, Any]) -> list[str]:
    region, api_url = config.get("region"), config.get("api_url")
    errors = _api_url_errors(str(api_url)) if api_url else []
    if region is None and not api_url:
        errors.append(
            "Setting 'region' is missing: set it to the prefix of your dashboard URL "
            f"(one of {', '.join(REGION_HOSTS)}), or set 'api_url'."
        )
    elif region is not None and (not isinstance(region, str) or region not in REGION_HOSTS):
        errors.append(
            f"Setting 'region' is {region!r}, which is not a CleverTap region: use the prefix "
            f"of your dashboard URL, one of {', '.join(REGION_HOSTS)}."
        )
    return errors


def _api_url_errors(api_url: str) -> list[str]:
    parts = urlsplit(api_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [f"Setting 'api_url' is '{api_url}': give a URL such as https://proxy.example.com."]
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return [
            f"Setting 'api_url' uses plain http to '{parts.hostname}': the passcode would cross "
            "the network in clear text; use https, or http only for a loopback host."
        ]
    return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _limit_errors(config: Mapping[str, Any]) -> list[str]:
    checks = [
        ("max_concurrency", 1, MAX_CONCURRENCY, True),
        ("max_concurrency_other", 1, MAX_CONCURRENCY_OTHER, True),
        ("max_retries", 0, 100, True),
        ("request_timeout", 0.001, 3600, False),
        ("retry_backoff_seconds", 0, 600, False),
        ("stop_grace_seconds", 0, 3600, False),
        ("batch_size_rows", 1, None, True),
        ("progress_interval_seconds", 0, 86400, False),
        ("event_ledger_days", 1, 36_500, True),
    ]
    errors = []
    for name, low, high, whole in checks:
        value = config.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            errors.append(f"Setting '{name}' must be a number, not {value!r}.")
        elif not math.isfinite(value) or (whole and value != int(value)):
            kind = "a whole number" if whole else "a finite number"
            errors.append(f"Setting '{name}' is {value}; it must be {kind}.")
        elif value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            errors.append(f"Setting '{name}' is {value}; it must be {bound}.")
    return errors


def _phone_region_errors(config: Mapping[str, Any]) -> list[str]:
    region = config.get("default_phone_region")
    if region is None or (isinstance(region, str) and values.is_phone_region(region.upper())):
        return []
    return [
        f"Setting 'default_phone_region' is {region!r}, which is not an ISO country code "
        "(e.g. US, GB, IN)."
    ]


def _ledger_errors(config: Mapping[str, Any]) -> list[str]:
    path, url = config.get("event_ledger_path"), config.get("event_ledger_url")
    if path and url:
        return [
            "Settings 'event_ledger_path' and 'event_ledger_url' are both set: keep the event "
            "ledger in one place, a SQLite file or a PostgreSQL database."
        ]
    if url and urlsplit(str(url)).scheme not in {"postgresql", "postgres"}:
        return [
            "Setting 'event_ledger_url' must be a postgresql:// URL (the value is not shown, "
            "it is secret)."
        ]
    return []


STREAM_SETTING_NAMES = frozenset(STREAM_SETTINGS_SCHEMA.to_dict()["properties"])


def _unknown_stream_keys_error(name: str, unknown: list[str]) -> str:
    """A mistyped per-stream setting would otherwise be ignored, and its intent with it."""
    listed = ", ".join(f"'{key}'" for key in unknown)
    return (
        f"Setting 'streams.{name}' has {listed}, which no stream takes; check the spelling "
        "(--about lists each stream setting under 'streams')."
    )


def _stream_errors(config: Mapping[str, Any]) -> list[str]:
    streams = config.get("streams") or {}
    if not isinstance(streams, Mapping):
        return ["Setting 'streams' must be an object keyed by stream name."]
    malformed = [name for name, entry in streams.items() if not isinstance(entry, Mapping)]
    if malformed:
        return [f"Setting 'streams.{name}' must be an object." for name in malformed]
    errors = [
        _unknown_stream_keys_error(name, sorted(set(entry) - STREAM_SETTING_NAMES))
        for name, entry in streams.items()
        if set(entry) - STREAM_SETTING_NAMES
    ]
    for name in streams:
        settings = stream_settings(config, name)
        if settings.type not in (None, *STREAM_TYPES):
            errors.append(
                f"Setting 'streams.{name}.type' is '{settings.type}'; use one of "
                f"{', '.join(STREAM_TYPES)}."
            )
        if settings.identity_type not in IDENTITY_TYPES:
            errors.append(
                f"Setting 'streams.{name}.identity_type' is '{settings.identity_type}'; use one "
                f"of {', '.join(IDENTITY_TYPES)}."
            )
        if settings.type == "token":
            errors += device_tokens.settings_errors(name, settings.token, settings.identity_type)
        if settings.type == "subscription":
            errors += subscriptions.settings_errors(name, settings.subscription, settings.own_entry)
        errors += _deletion_errors(name, settings)
        errors += _null_errors(name, settings)
        errors += _identity_errors(config, name, settings)
        errors += property_errors(name, settings.properties, settings.type)
        errors += _key_field_errors(name, streams[name].get("event_key_fields"))
        if settings.type == "event" and not (settings.event_name or settings.event_name_field):
            errors.append(
                f"Stream '{name}' is an event stream but has neither 'event_name' nor "
                "'event_name_field': set one of them in its 'streams' entry."
            )
    return errors


def _deletion_errors(name: str, settings: StreamSettings) -> list[str]:
    if settings.on_delete not in ON_DELETE:
        return [
            f"Setting 'streams.{name}.on_delete' is '{settings.on_delete}'; use 'skip' (rows "
            "marked deleted are not sent), 'upsert' (they are sent like any row) or 'delete' "
            "(their CleverTap profiles are deleted)."
        ]
    why = why_it_cannot_delete(settings.type, settings.identity_type)
    if why is None:
        return []
    if settings.type == "delete":
        return [f"Setting 'streams.{name}.type' is 'delete', but {why}."]
    if settings.on_delete == "delete" and not settings.on_delete_inherited:
        return [refusal(name, ON_DELETE_DELETE, why)]
    return []


def _null_errors(name: str, settings: StreamSettings) -> list[str]:
    if settings.on_null not in ON_NULL:
        return [
            f"Setting 'streams.{name}.on_null' is '{settings.on_null}'; use 'omit' (a null "
            "property is left out) or 'unset' (it removes the stored property)."
        ]
    why = why_it_cannot_unset(settings.type)
    if settings.on_null == "unset" and not settings.on_null_inherited and why is not None:
        return [refusal(name, ON_NULL_UNSET, why)]
    return []


def _identity_errors(config: Mapping[str, Any], name: str, settings: StreamSettings) -> list[str]:
    errors = []
    if identity_fields(stream_entry(config, name).get("identity_field")) is None:
        errors.append(
            f"Setting 'streams.{name}.identity_field' must be a field name or a non-empty list "
            'of field names (e.g. ["user_id", "anonymous_id"]).'
        )
    object_id_field = stream_entry(config, name).get("object_id_field")
    if object_id_field is not None and (
        not isinstance(object_id_field, str) or not object_id_field.strip()
    ):
        errors.append(f"Setting 'streams.{name}.object_id_field' must be a field name.")
    elif object_id_field is not None:
        why = why_it_cannot_link(settings.type, settings.identity_type)
        # A "*" default is no concern of the streams that send no profiles or events.
        concerns = "object_id_field" in settings.own_entry or settings.type in KINDS_THAT_LINK
        if why is not None and concerns:
            errors.append(f"Setting 'streams.{name}.object_id_field' is set, but {why}.")
    return errors


def _key_field_errors(name: str, key_fields: Any) -> list[str]:
    if key_fields is None:
        return []
    if (
        not isinstance(key_fields, list)
        or not key_fields
        or not all(isinstance(f, str) and f for f in key_fields)
    ):
        return [
            f"Setting 'streams.{name}.event_key_fields' must be a list of field names, "
            'e.g. ["order_id"].'
        ]
    return []
