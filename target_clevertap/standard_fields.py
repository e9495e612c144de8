"""CleverTap's standard profile fields: which source keys feed them and how values convert.

Source keys match case-insensitively, ignoring `_`, `-` and spaces: `date_of_birth`, `Date Of Birth`
and `DateOfBirth` all feed `DOB`. Keys not listed here stay custom properties under their own names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from target_clevertap import values

Converter = Callable[[Any, str, "str | None"], Any]


@dataclass(frozen=True)
class StandardField:
    """One standard profile key and its value rule."""

    name: str
    convert: Converter


def _plain(rule: Callable[[Any, str], Any]) -> Converter:
    """A rule that does not need the default phone region."""
    return lambda value, field, _region: rule(value, field)


def _yes_no(rule: Callable[[Any, str, str | None], Any], code: str) -> Converter:
    """A Y/N or boolean rule whose rejection code names the standard key, not the source key.

    The source key may be spelt `Em_ployed` or `msg sms`; the code must not follow it.
    """
    return lambda value, field, _region: rule(value, field, code)


NAME = StandardField("Name", _plain(values.text))
EMAIL = StandardField("Email", _plain(values.email))
PHONE = StandardField("Phone", values.phone_e164)
GENDER = StandardField("Gender", _plain(values.gender))
DOB = StandardField("DOB", _plain(values.clevertap_date))
PHOTO = StandardField("Photo", _plain(values.text))
EMPLOYED = StandardField("Employed", _yes_no(values.yes_no, "employed_invalid"))
EDUCATION = StandardField("Education", _plain(values.education))
MARRIED = StandardField("Married", _yes_no(values.yes_no, "married_invalid"))
AGE = StandardField("Age", _plain(values.age))
CUSTOMER_TYPE = StandardField("Customer Type", _plain(values.text))
MSG_EMAIL = StandardField("MSG-email", _yes_no(values.flag, "msg_email_invalid"))
MSG_PUSH = StandardField("MSG-push", _yes_no(values.flag, "msg_push_invalid"))
MSG_SMS = StandardField("MSG-sms", _yes_no(values.flag, "msg_sms_invalid"))
MSG_WHATSAPP = StandardField("MSG-whatsapp", _yes_no(values.flag, "msg_whatsapp_invalid"))

BY_SOURCE_KEY: dict[str, StandardField] = {
    "name": NAME,
    "email": EMAIL,
    "phone": PHONE,
    "gender": GENDER,
    "dob": DOB,
    "birthday": DOB,
    "dateofbirth": DOB,
    "photo": PHOTO,
    "avatar": PHOTO,
    "employed": EMPLOYED,
    "education": EDUCATION,
    "married": MARRIED,
    "age": AGE,
    "customertype": CUSTOMER_TYPE,
    "msgemail": MSG_EMAIL,
    "msgpush": MSG_PUSH,
    "msgsms": MSG_SMS,
    "msgwhatsapp": MSG_WHATSAPP,
}

_IGNORED_IN_KEYS = re.compile(r"[_\-\s]")


def key_form(source_key: str) -> str:
    """A source key as matched against CleverTap's keys: lower case, without `_`, `-`, spaces."""
    return _IGNORED_IN_KEYS.sub("", source_key).lower()


@functools.lru_cache(maxsize=4096)
def standard_field_for(source_key: str) -> StandardField | None:
    """The standard field a source key feeds, if any."""
    return BY_SOURCE_KEY.get(key_form(source_key))


STANDARD_KEYS = frozenset(field.name for field in BY_SOURCE_KEY.values())
