"""Conversions of single source values to the forms CleverTap accepts.

Each converter takes a value and returns the CleverTap value, or raises `Unmappable` with the
rejection code and a reason a person can act on. No I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from target_clevertap.text import shown

# Epoch values above this are taken as milliseconds (in seconds it would be after year 5000).
_MILLISECONDS_FROM = 100_000_000_000
# Event and profile timestamps after 2100-01-01 are surely a unit or data error.
_LATEST_TIMESTAMP = 4_102_444_800
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_EPOCH_TEXT = re.compile(r"-?\d+(\.\d+)?")
# Already E.164: `+`, a country code not starting with 0, 8 to 15 digits in all. Passed through
# as given (CleverTap checks it); parsing it again with phonenumbers costs more than all the rest
# of the record's mapping.
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_YES = {"y", "yes", "true", "t", "1"}
_NO = {"n", "no", "false", "f", "0"}
_GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F"}
_EDUCATION = {"school": "School", "college": "College", "graduate": "Graduate"}

# Whole numbers JSON encoders can write: signed 64-bit. A Decimal whose exponent (adjusted())
# is above 18 is at least 1E+19, beyond that range.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_INT64_DIGITS = 18

Scalar = str | int | float | bool


class Unmappable(ValueError):
    """A value CleverTap would refuse; carries the rejection code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def number(value: int | float | Decimal, field: str) -> int | float:
    """A JSON number: Decimal becomes int when whole, NaN and infinity are refused.

    Whole numbers outside the 64-bit range are refused too: JSON encoders (orjson among them)
    cannot write them, and turning them into floats would silently change their digits.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Unmappable("value_invalid", f"'{field}' is {value}, which is not a number.")
        as_float = float(value)
        if not as_float.is_integer() and math.isfinite(as_float):
            return as_float  # most fractions: no exact arithmetic needed
        # Whole, huge or tiny: its float may hide a fraction (1.000...01) or overflow.
        if value != value.to_integral_value():
            value = as_float
        elif value and value.adjusted() > _INT64_DIGITS:  # before int(): 1E+999999999 is whole
            raise _too_large(value, field)
        else:
            value = int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise Unmappable("value_invalid", f"'{field}' is {value}, which is not a number.")
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        raise _too_large(value, field)
    return value


def _too_large(value: int | Decimal, field: str) -> Unmappable:
    return Unmappable(
        "value_invalid",
        f"'{field}' is {shown(value)}, a whole number beyond the 64-bit range JSON numbers "
        "can carry; send it as text.",
    )


def epoch_seconds(value: Any, field: str) -> int:
    """Whole epoch seconds from seconds, milliseconds, ISO-8601 text or a datetime."""
    seconds = _to_epoch(value, field)
    if not 0 < seconds < _LATEST_TIMESTAMP:
        raise Unmappable(
            "timestamp_invalid",
            f"'{field}' is {shown(value)}, outside 1970-2100: CleverTap needs a positive "
            "epoch in seconds.",
        )
    return seconds


def clevertap_date(value: Any, field: str) -> str:
    """CleverTap's date form `$D_<epoch seconds>`; dates before 1970 give negative seconds."""
    return f"$D_{_to_epoch(value, field)}"


def _to_epoch(value: Any, field: str) -> int:
    if value.__class__ is str:
        return _epoch_from_text(value.strip(), field)
    if isinstance(value, bool):
        raise _not_a_time(value, field)
    if isinstance(value, (int, float, Decimal)):
        return _epoch_from_number(value, value, field)
    if isinstance(value, dt.datetime):
        return _epoch_from_datetime(value)
    if isinstance(value, dt.date):
        return _epoch_from_datetime(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        return _epoch_from_text(value.strip(), field)
    raise _not_a_time(value, field)


def _epoch_from_number(value: int | float | Decimal, source: Any, field: str) -> int:
    try:
        value = number(value, field)
    except Unmappable:  # NaN, infinity, beyond 64 bits: not a time, whatever else it is
        raise _not_a_time(source, field) from None
    if abs(value) >= _MILLISECONDS_FROM:
        value = value / 1000
    return math.floor(value)


def _epoch_from_datetime(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return math.floor(value.timestamp())


def _epoch_from_text(text: str, field: str) -> int:
    if text[4:5] != "-" and _EPOCH_TEXT.fullmatch(text):  # `YYYY-` is surely not a number
        # Decimal, not float: float() turns 400 digits into infinity, which floor() cannot take.
        return _epoch_from_number(Decimal(text), text, field)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:  # Python < 3.11 reads no `Z`; none reads a lower-case `z`
        parsed = _from_iso_with_z(text, field)
    return _epoch_from_datetime(parsed)


def _from_iso_with_z(text: str, field: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _not_a_time(text, field) from None


def _not_a_time(value: Any, field: str) -> Unmappable:
    return Unmappable(
        "timestamp_invalid",
        f"'{field}' is {shown(value)}, which is neither epoch seconds/milliseconds nor an "
        "ISO-8601 date.",
    )


@functools.cache
def is_phone_region(code: str) -> bool:
    """Whether phonenumbers knows the country code (upper case). phonenumbers is imported only
    where a number is not already E.164 or a region is set: loading it adds ~40 ms to start-up."""
    import phonenumbers  # noqa: PLC0415

    return code in phonenumbers.SUPPORTED_REGIONS


def phone_e164(value: Any, field: str, default_region: str | None) -> str:
    """A phone number in E.164 (`+` and digits), using the default region for national ones."""
    text = str(value).strip()
    if _E164.fullmatch(text):
        return text
    # Country codes are upper case to phonenumbers: with "us" every national number failed.
    default_region = default_region.strip().upper() if default_region else None
    if not text.startswith("+") and default_region is None:
        raise Unmappable(
            "phone_invalid",
            f"'{field}' is {shown(text)}, which has no country code: write it as "
            "+<country><number> or set 'default_phone_region'.",
        )
    if not text.startswith("+") and not is_phone_region(default_region):
        raise Unmappable(
            "phone_invalid",
            f"'{field}' is {shown(text)}, which has no country code, and 'default_phone_region' "
            f"is {shown(default_region)}, not a country code such as US or IN.",
        )
    import phonenumbers  # noqa: PLC0415 (see `is_phone_region`)

    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise Unmappable(
            "phone_invalid", f"'{field}' is {shown(text)}, which is not a phone number."
        )
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def gender(value: Any, field: str) -> str:
    """`M` or `F` from m/male/f/female in any case."""
    mapped = _GENDERS.get(str(value).strip().lower())
    if mapped is None:
        raise Unmappable(
            "gender_invalid",
            f"'{field}' is {shown(value)}; CleverTap accepts only M/male or F/female.",
        )
    return mapped


def yes_no(value: Any, field: str, code: str | None = None) -> str:
    """`Y` or `N` from booleans and yes/no/true/false/1/0.

    `code` names the rejection; without it, it is made from `field`.
    """
    text = str(value).strip().lower()
    if text in _YES:
        return "Y"
    if text in _NO:
        return "N"
    raise Unmappable(
        code or f"{field.lower()}_invalid", f"'{field}' is {shown(value)}; use yes/no or Y/N."
    )


def education(value: Any, field: str) -> str:
    """School, College or Graduate, in any case."""
    mapped = _EDUCATION.get(str(value).strip().lower())
    if mapped is None:
        raise Unmappable(
            "education_invalid", f"'{field}' is {shown(value)}; use School, College or Graduate."
        )
    return mapped


def age(value: Any, field: str) -> int | float:
    """A non-negative number."""
    try:
        parsed = number(Decimal(str(value).strip()), field)
    except (ArithmeticError, ValueError):
        parsed = -1
    if isinstance(value, bool) or parsed < 0:
        raise Unmappable(
            "age_invalid", f"'{field}' is {shown(value)}, which is not an age in years."
        )
    return parsed


def flag(value: Any, field: str, code: str | None = None) -> bool:
    """A JSON boolean from booleans and yes/no/true/false/1/0."""
    return yes_no(value, field, code) == "Y"


def email(value: Any, field: str) -> str:
    """An address with one @ and a dotted domain."""
    text = str(value).strip()
    if not _EMAIL.match(text):
        raise Unmappable(
            "email_invalid", f"'{field}' is {shown(text)}, which is not an email address."
        )
    return text


def text(value: Any, field: str) -> str:
    """Plain text (numbers are written out; NaN and infinity are refused, as for scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, Decimal)):
        return str(number(value, field))
    return str(value)


def scalar(value: Any, field: str) -> Scalar:
    """A JSON scalar; Decimal becomes int or float."""
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float, Decimal)):
        return number(value, field)
    if isinstance(value, (dt.date, dt.datetime)):
        return clevertap_date(value, field)
    raise Unmappable("value_invalid", f"'{field}' has a value of type {type(value).__name__}.")


def is_scalar(value: Any) -> bool:
    """Whether a value is a JSON scalar (not an object, array or null)."""
    return isinstance(value, (str, int, float, bool, Decimal, dt.date))


def json_text(value: Any, field: str = "value") -> str:
    """Nested data as compact JSON text, Decimals as numbers.

    Data JSON cannot hold (NaN or infinity, a whole number beyond 64 bits, nesting deeper than
    the encoder allows) raises `Unmappable`, so one bad value rejects one record.
    """
    try:
        text = orjson.dumps(value, default=_json_default).decode()
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, Unmappable) else exc
        raise _not_json(field, cause) from None
    # orjson writes a NaN or infinite float as null; only text with a null can hide one.
    if "null" in text and _holds_non_finite_float(value):
        raise _not_json(field, "NaN or infinity, which JSON has no number for")
    return text


def _not_json(field: str, cause: object) -> Unmappable:
    return Unmappable(
        "value_invalid", f"'{field}' holds data that cannot be written as JSON: {cause}"
    )


def _holds_non_finite_float(value: Any) -> bool:
    """Whether a float in nested data is NaN or infinite (orjson limits the depth to 255)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        value = value.values()
    elif not isinstance(value, (list, tuple)):
        return False
    return any(_holds_non_finite_float(item) for item in value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return number(value, "value")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    raise TypeError(type(value).__name__)
