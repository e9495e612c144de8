"""Validation of ``POST /1/upload`` bodies, written from the API contract
(``clevertap-api.md`` §3-§8 and the recorded traffic), independently of the target.

A request body is first checked as a whole (:func:`parse_upload_body`, HTTP 400 on failure); then
every record is checked on its own (:func:`validate_batch`). Each record rule is one small function
returning a :class:`RecordError` or ``None``; the first failing rule of a record wins, in the order
of :data:`CHECKS`. Where CleverTap's real text is known it is used byte for byte, including its
odd separators (515-520 glue "Skipped" to the reason, 513 and 525 have a space).

Decisions taken where the contract is open are listed in the package docstring.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from target_clevertap.sandbox.merge import (
    CATEGORY_KEYS,
    MULTI_VALUE_LIMIT,
    OPERATORS,
    operator_of,
)

MAX_RECORDS_PER_REQUEST = 1000
MAX_TOKENS_PER_REQUEST = 100
MALFORMED = "Malformed request"
IDENTITY_KEYS = ("identity", "objectId", "FBID", "GPID")
RECORD_TYPES = ("profile", "event", "token")

# Android SDK restricted names (clevertap-api.md §8) plus `Web Page Viewed`, refused by the server.
DEFAULT_RESTRICTED_EVENTS = frozenset(
    {
        "Stayed",
        "Notification Clicked",
        "Notification Viewed",
        "UTM Visited",
        "Notification Sent",
        "App Launched",
        "wzrk_d",
        "App Uninstalled",
        "Notification Bounced",
        "Geocluster Entered",
        "Geocluster Exited",
        "DCOutgoing",
        "DCIncoming",
        "DCEnd",
        "Web Page Viewed",
    }
)
STANDARD_TOKEN_TYPES = frozenset({"fcm", "gcm", "apns"})
LEGACY_TOKEN_TYPES = frozenset({"wns", "mpns", "chrome"})
ALL_TOKEN_TYPES = STANDARD_TOKEN_TYPES | LEGACY_TOKEN_TYPES
CATEGORY_CHANNELS = ("email", "push", "sms", "whatsapp")
# Standard profile keys, never multi-value (SDK rule, clevertap-api.md §7).
SINGLE_VALUE_FIELDS = frozenset(
    {
        "Name",
        "Email",
        "Education",
        "Married",
        "DOB",
        "Gender",
        "Phone",
        "Age",
        "FBID",
        "GPID",
        "Birthday",
        "Identity",
    }
)
MULTI_VALUE_OPERATORS = frozenset({"$set", "$add", "$remove"})
CHARGED_EVENT = "Charged"
CHARGED_ITEMS = "Items"

# 10^12 seconds is year 33658: anything from there to 13 digits can only be milliseconds.
_MILLISECONDS_FROM = 10**12
_MILLISECONDS_UNTIL = 10**13
_OBJECT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGITS = re.compile(r"[0-9]+")
_NUMERIC = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+[0-9]{6,15}")

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Rules:
    """Validation switches; the defaults follow clevertap-api.md §11 ("Sandbox behaviour")."""

    restricted_events: frozenset[str] = DEFAULT_RESTRICTED_EVENTS
    discarded_events: frozenset[str] = frozenset()
    max_event_properties: int = 256
    max_charged_items: int | None = None
    strict_ts: bool = False
    strict_keys: bool = False
    allowed_operators: frozenset[str] = frozenset(OPERATORS)
    token_types: frozenset[str] = STANDARD_TOKEN_TYPES


class MalformedRequestError(ValueError):
    """The body as a whole is unusable: the request is answered with HTTP 400."""

    def __init__(self, message: str = MALFORMED) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RecordError:
    """Why one record was skipped. ``reason`` ends with the separator CleverTap puts before
    ``Skipped record number``."""

    code: int
    reason: str

    def message(self, number: int) -> str:
        return f"{self.reason}Skipped record number : {number}"


@dataclass(frozen=True)
class Accepted:
    """A record that passed validation, with its identity and ``ts`` (seconds) normalised."""

    type: str
    identity_key: str
    identity: str
    ts: int | None
    record: Record


@dataclass(frozen=True)
class BatchResult:
    """The records that passed, as sent (:func:`accept` normalises one for storing), and the
    ``unprocessed`` items of the answer."""

    accepted: list[Record] = field(default_factory=list)
    unprocessed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.unprocessed:
            return "success"
        return "partial" if self.accepted else "fail"

    def envelope(self, *, list_unprocessed: bool = True) -> dict[str, Any]:
        return {
            "status": self.status,
            "processed": len(self.accepted),
            "unprocessed": self.unprocessed if list_unprocessed else [],
        }


def parse_upload_body(raw: bytes, rules: Rules) -> list[Any]:
    """Return the records of ``d`` or raise :class:`MalformedRequestError`."""
    records = parse_records_body(raw, rules, MAX_RECORDS_PER_REQUEST)
    tokens = sum(
        1 for record in records if isinstance(record, dict) and record.get("type") == "token"
    )
    require_at_most(MAX_TOKENS_PER_REQUEST, tokens, "device tokens")
    return records


def parse_records_body(raw: bytes, rules: Rules, limit: int) -> list[Any]:
    """The records of a ``{"d": [...]}`` body holding 1 to ``limit`` of them, or
    :class:`MalformedRequestError`."""
    body = decode_json(raw)
    if not isinstance(body, dict):
        raise MalformedRequestError()
    records = body.get("d")
    if not isinstance(records, list) or not records:
        raise MalformedRequestError()
    unknown_keys = sorted(set(body) - {"d"})
    if rules.strict_keys and unknown_keys:
        raise MalformedRequestError(f"{MALFORMED}: unknown top-level keys {unknown_keys}")
    require_at_most(limit, len(records), "records")
    return records


def require_at_most(limit: int, count: int, what: str) -> None:
    """Raise :class:`MalformedRequestError` when a request holds more than ``limit`` ``what``."""
    if count > limit:
        raise MalformedRequestError(
            f"{MALFORMED}: at most {limit} {what} are allowed per request, got {count}"
        )


def decode_json(raw: bytes) -> Any:
    """``raw`` parsed exactly as ``json.loads`` without NaN and Infinity parses it, or
    :class:`MalformedRequestError`.

    msgspec parses the usual body about twice as fast. Where it gives an answer, it is the one the
    standard library gives (big integers stay integers, the last of duplicate keys wins); it only
    refuses more (a UTF-8 BOM or UTF-16/32, escaped lone surrogates, numbers beyond a float):
    those bodies go through the standard library, whose answer (value or error) is the contract.
    """
    try:
        return _DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError):
        pass
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedRequestError() from exc


_DECODER = msgspec.json.Decoder()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def validate_batch(records: Sequence[Any], rules: Rules, check: Check | None = None) -> BatchResult:
    """Check every record with ``check`` (the upload rules, :func:`validate_record`, unless
    given); the failing ones become ``unprocessed`` items numbered from 1."""
    check = check or validate_record
    result = BatchResult()
    for number, record in enumerate(records, start=1):
        error = check(record, rules)
        if error is None:
            result.accepted.append(record)
        else:
            result.unprocessed.append(
                {
                    "status": "fail",
                    "code": error.code,
                    "error": error.message(number),
                    "record": normalised_echo(record),
                }
            )
    return result


def validate_record(record: Any, rules: Rules) -> RecordError | None:
    if not isinstance(record, dict) or record.get("type") not in RECORD_TYPES:
        return record_error(524, "Record", "Data is neither an event nor a profile")
    for check in CHECKS[record["type"]]:
        error = check(record, rules)
        if error is not None:
            return error
    return None


def normalised_echo(record: Any) -> Any:
    """The copy of a rejected record CleverTap sends back: keys sorted, identity as a string."""
    if not isinstance(record, dict):
        return record
    echo = _sorted(record)
    for key in IDENTITY_KEYS:
        if _is_identity_value(echo.get(key)):
            echo[key] = identity_text(echo[key])
    return echo


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def identity_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def epoch_seconds(value: Any, *, strict: bool) -> int | None:
    """``ts`` as epoch seconds, or ``None`` when CleverTap would answer 525.

    Lenient mode also takes digit strings and 13-digit (millisecond) values."""
    if isinstance(value, str) and not strict and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer() and not strict:
        value = int(value)
    if not _is_int(value) or value <= 0:
        return None
    if value < _MILLISECONDS_FROM:
        return int(value)
    if value < _MILLISECONDS_UNTIL and not strict:
        return int(value) // 1000
    return None


def accept(record: Record, rules: Rules) -> Accepted:
    """A record that passed :func:`validate_record`, ready to be stored."""
    key = "objectId" if record["type"] == "token" else _identity_keys(record)[0]
    ts = epoch_seconds(record["ts"], strict=rules.strict_ts) if "ts" in record else None
    return Accepted(record["type"], key, identity_text(record[key]), ts, record)


def record_error(code: int, subject: str, reason: str) -> RecordError:
    return RecordError(code, f"{subject} is incorrect. ErrorCode: {code} - {reason}. ")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_identity_value(value: Any) -> bool:
    return _is_text(value) or _is_number(value)


def _identity_keys(record: Record) -> list[str]:
    return [key for key in IDENTITY_KEYS if record.get(key) is not None]


# --- rules for every profile and event ------------------------------------------------------


def check_identity(record: Record, rules: Rules) -> RecordError | None:
    keys = _identity_keys(record)
    if len(keys) == 1 and _is_identity_value(record[keys[0]]):
        return None
    return record_error(
        523,
        "Identity",
        "Exactly one of identity, objectId, FBID or GPID must be given a non-empty value",
    )


def check_object_id(record: Record, rules: Rules) -> RecordError | None:
    object_id = record.get("objectId")
    if object_id is None or _is_object_id(object_id):
        return None
    return record_error(526, "Identity", "objectId is not valid")


def _is_object_id(value: Any) -> bool:
    return isinstance(value, str) and _OBJECT_ID.fullmatch(value) is not None


def check_ts(record: Record, rules: Rules) -> RecordError | None:
    if "ts" not in record or epoch_seconds(record["ts"], strict=rules.strict_ts) is not None:
        return None
    return RecordError(525, "Timestamp should be present in the Unix Epoch format. ")


# --- profile rules ---------------------------------------------------------------------------


def check_profile_data(record: Record, rules: Rules) -> RecordError | None:
    if isinstance(record.get("profileData"), dict):
        return None
    return record_error(524, "Profile data", "profileData must be a JSON object")


@dataclass(frozen=True)
class FieldRule:
    """A standard profile property with a server-side format check (codes 514-520)."""

    name: str
    code: int
    reason: str
    is_valid: Callable[[Any], bool]


def is_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


def is_phone(value: Any) -> bool:
    return isinstance(value, str) and _PHONE.fullmatch(value) is not None


def _is_age(value: Any) -> bool:
    return _is_number(value) or (isinstance(value, str) and _NUMERIC.fullmatch(value) is not None)


def _one_of(*allowed: str) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in allowed


FIELD_RULES = (
    FieldRule("Gender", 514, "Gender needs to be M/F.", _one_of("M", "F")),
    FieldRule("Email", 515, "Email is not valid.", is_email),
    FieldRule("Phone", 516, "Phone number is not valid.", is_phone),
    FieldRule("Employed", 517, "Employed needs to be Y/N.", _one_of("Y", "N")),
    # Two dots, as CleverTap sends it.
    FieldRule(
        "Education",
        518,
        "Education needs to be School/College/Graduate..",
        _one_of("School", "College", "Graduate"),
    ),
    FieldRule("Married", 519, "Married needs to be Y/N.", _one_of("Y", "N")),
    FieldRule("Age", 520, "Age is invalid.", _is_age),
)


def check_profile_fields(record: Record, rules: Rules) -> RecordError | None:
    profile_data = record["profileData"]
    for rule in FIELD_RULES:
        value = profile_data.get(rule.name)
        if value is None or value == _DELETE or rule.is_valid(value):
            continue
        return RecordError(rule.code, f"Profile data is incorrect. {rule.reason}")
    return None


_DELETE = {"$delete": True}


def check_category_keys(record: Record, rules: Rules) -> RecordError | None:
    """``category-unsubscribe`` / ``category-resubscribe``: ``{channel: [category, ...]}``."""
    for key in CATEGORY_KEYS:
        value = record["profileData"].get(key)
        problem = None if value is None else _categories_problem(value)
        if problem is not None:
            return record_error(524, "Profile data", f"{key}: {problem}")
    return None


def _categories_problem(value: Any) -> str | None:
    channels = ", ".join(CATEGORY_CHANNELS)
    if not isinstance(value, dict) or not value:
        return f"an object whose keys are among {channels}, each a list of category names"
    unknown = sorted(set(value) - set(CATEGORY_CHANNELS))
    if unknown:
        return f"the channels are among {channels}, not {', '.join(unknown)}"
    for channel, names in value.items():
        if not isinstance(names, list) or not all(_is_text(name) for name in names):
            return f"{channel} takes a list of category names (text)"
    return None


def check_profile_values(record: Record, rules: Rules) -> RecordError | None:
    profile_data = record["profileData"]
    if _only_plain_values(profile_data):
        return None
    for key, value in profile_data.items():
        problem = None if key in CATEGORY_KEYS else _profile_value_problem(key, value, rules)
        if problem is not None:
            return record_error(524, "Profile data", f"{key}: {problem}")
    return None


def _only_plain_values(data: dict[str, Any]) -> bool:
    """True when every value is a string, number, boolean or null: none can have a problem."""
    return _PLAIN_TYPES.issuperset(map(type, data.values()))


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _profile_value_problem(key: str, value: Any, rules: Rules) -> str | None:
    if isinstance(value, list):
        return _multi_value_problem(key, "a multi-value list", value)
    if not isinstance(value, dict) or not any(name.startswith("$") for name in value):
        return None  # scalar, null or nested object
    operator = operator_of(value)
    if operator is None or operator not in rules.allowed_operators:
        allowed = ", ".join(sorted(rules.allowed_operators))
        return f"an operator object holds exactly one of {allowed}"
    argument = value[operator]
    if operator == "$delete":
        return None if argument is True else "$delete takes true"
    if operator in MULTI_VALUE_OPERATORS:
        return _multi_value_problem(key, operator, argument)
    return None if _is_number(argument) else f"{operator} takes a number"


def _multi_value_problem(key: str, what: str, items: Any) -> str | None:
    """Multi-values are lists of at most 100 text items (§6), never on standard fields (§7)."""
    if key in SINGLE_VALUE_FIELDS:
        return "a standard field cannot be multi-value"
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return f"{what} holds a list of text items"
    if len(items) > MULTI_VALUE_LIMIT:
        return f"{what} holds at most {MULTI_VALUE_LIMIT} items, not {len(items)}"
    return None


# --- event rules -----------------------------------------------------------------------------


def check_event_name(record: Record, rules: Rules) -> RecordError | None:
    name = record.get("evtName")
    if isinstance(name, str) and name.strip():
        return None
    return record_error(509, "Event Name", "Event name is mandatory")


def check_restricted_event(record: Record, rules: Rules) -> RecordError | None:
    if record["evtName"] not in rules.restricted_events:
        return None
    return record_error(513, "Event Name", "Trying to raise a restricted system event")


def check_discarded_event(record: Record, rules: Rules) -> RecordError | None:
    if record["evtName"] not in rules.discarded_events:
        return None
    return record_error(528, "Event Name", "Trying to raise a discarded event")


def check_event_data(record: Record, rules: Rules) -> RecordError | None:
    if isinstance(record.get("evtData"), dict):
        return None
    return record_error(512, "Event Data", "evtData must be a JSON object")


def check_event_nesting(record: Record, rules: Rules) -> RecordError | None:
    for key, value in record["evtData"].items():
        if not isinstance(value, dict | list):
            continue
        if not _is_charged_items(record["evtName"], key, value):
            return record_error(512, "Event Data", "Only Items can have a nested structure")
        limit = rules.max_charged_items
        if limit is not None and len(value) > limit:
            return record_error(512, "Event Data", f"Charged can have at most {limit} Items")
    return None


def _is_charged_items(event_name: str, key: str, value: Any) -> bool:
    return (
        event_name == CHARGED_EVENT
        and key == CHARGED_ITEMS
        and isinstance(value, list)
        and all(isinstance(item, dict) for item in value)
    )


def check_event_property_count(record: Record, rules: Rules) -> RecordError | None:
    limit = rules.max_event_properties
    if len(record["evtData"]) <= limit:
        return None
    return record_error(522, "Event Data", f"An event can have at most {limit} properties")


# --- device-token rules ----------------------------------------------------------------------


def _token_error(code: int, reason: str) -> RecordError:
    return record_error(code, "Token data", reason)


def check_token_object_id(record: Record, rules: Rules) -> RecordError | None:
    if not _is_object_id(record.get("objectId")):
        return _token_error(530, "objectId is missing or not valid")
    if _identity_keys(record) != ["objectId"]:
        return _token_error(530, "A token names its user by objectId alone")
    return None


def check_token_data(record: Record, rules: Rules) -> RecordError | None:
    if isinstance(record.get("tokenData"), dict):
        return None
    return _token_error(531, "tokenData must be a JSON object")


def check_token_id(record: Record, rules: Rules) -> RecordError | None:
    if _is_text(record["tokenData"].get("id")):
        return None
    return _token_error(532, "Token id is missing")


def check_token_type_present(record: Record, rules: Rules) -> RecordError | None:
    if record["tokenData"].get("type") is not None:
        return None
    return _token_error(533, "Token type is missing")


def check_token_type_allowed(record: Record, rules: Rules) -> RecordError | None:
    if record["tokenData"]["type"] in rules.token_types:
        return None
    allowed = ", ".join(sorted(rules.token_types))
    return _token_error(534, f"Token type must be one of {allowed}")


def check_chrome_keys(record: Record, rules: Rules) -> RecordError | None:
    """``keys`` (``p256dh`` and ``auth``, both text) on chrome tokens, and only there."""
    token_data = record["tokenData"]
    if token_data["type"] != "chrome":
        if "keys" not in token_data:
            return None
        return _token_error(535, "Only a chrome token takes keys")
    keys = token_data.get("keys")
    if isinstance(keys, dict) and all(_is_text(keys.get(k)) for k in ("p256dh", "auth")):
        return None
    return _token_error(535, "A chrome token needs keys with p256dh and auth")


Check = Callable[[Record, Rules], RecordError | None]

CHECKS: dict[str, tuple[Check, ...]] = {
    "profile": (
        check_identity,
        check_object_id,
        check_ts,
        check_profile_data,
        check_profile_fields,
        check_category_keys,
        check_profile_values,
    ),
    "event": (
        check_identity,
        check_object_id,
        check_ts,
        check_event_name,
        check_restricted_event,
        check_discarded_event,
        check_event_data,
        check_event_nesting,
        check_event_property_count,
    ),
    "token": (
        check_token_object_id,
        check_ts,
        check_token_data,
        check_token_id,
        check_token_type_present,
        check_token_type_allowed,
        check_chrome_keys,
    ),
}
