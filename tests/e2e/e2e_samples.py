"""The bundled sample rows and what CleverTap must receive for each of them.

`expected_profile` / `expected_event` restate the mapping rules of the README independently of
`target_clevertap.mapping`, so a wrong rename, date or phone in the target shows up here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import phonenumbers

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT / "samples"
DEFAULT_PHONE_REGION = "US"

Row = dict[str, Any]

# The rows samples/README.md lists as bad, by how they are recognised.
INVALID_EMAIL_USER = "U1029"
RESTRICTED_EVENT = "EV0097"


def read_jsonl(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def sample_users() -> list[Row]:
    return read_jsonl(SAMPLES_DIR / "users.jsonl")


def sample_events() -> list[Row]:
    return read_jsonl(SAMPLES_DIR / "events.jsonl")


def sample_erasures() -> list[str]:
    """Identities of the sample users who erased their account (`_sdc_deleted_at` rows)."""
    return [row["id"] for row in read_jsonl(SAMPLES_DIR / "erasures.jsonl")]


def is_bad_user(row: Row) -> bool:
    return not row.get("id") or row["id"] == INVALID_EMAIL_USER


def is_bad_event(row: Row) -> bool:
    return row["event_id"] == RESTRICTED_EVENT


@dataclass(frozen=True)
class Split:
    """Rows that must arrive and rows that must land in the rejects file."""

    good: list[Row]
    bad: list[Row]


def split_users(rows: list[Row]) -> Split:
    return Split([r for r in rows if not is_bad_user(r)], [r for r in rows if is_bad_user(r)])


def split_events(rows: list[Row]) -> Split:
    return Split([r for r in rows if not is_bad_event(r)], [r for r in rows if is_bad_event(r)])


def epoch(text: str) -> int:
    """Epoch seconds of an ISO date-time (or of midnight UTC for a plain date)."""
    if len(text) == 10:
        parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
    else:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def clevertap_date(text: str) -> str:
    return f"$D_{epoch(text)}"


def e164(phone: str) -> str:
    number = phonenumbers.parse(phone, DEFAULT_PHONE_REGION)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def yes_no(value: str) -> str:
    return {"yes": "Y", "no": "N"}[value.lower()]


def expected_profile(row: Row) -> Row:
    """The /1/upload record for one users row (identity `id`, timestamp `updated_at`)."""
    return {
        "type": "profile",
        "identity": row["id"],
        "ts": epoch(row["updated_at"]),
        "profileData": {
            "Name": row["name"],
            "Email": row["email"],
            "Phone": e164(row["phone"]),
            "Gender": row["gender"][0].upper(),
            "DOB": clevertap_date(row["dob"]),
            "Customer Type": row["customer_type"],
            "MSG-sms": row["msg_sms"],
            "MSG-email": row["msg_email"],
            "Employed": yes_no(row["employed"]),
            "interests": row["interests"],
        },
    }


DATE_FIELDS_OF_EVENTS = ("delivery_date",)
ROUTING_FIELDS_OF_EVENTS = ("user_id", "evtName", "ts")


def expected_event(row: Row) -> Row:
    """The /1/upload record for one events row (identity `user_id`, timestamp `ts`)."""
    data = {
        key: clevertap_date(value) if key in DATE_FIELDS_OF_EVENTS else value
        for key, value in row.items()
        if key not in ROUTING_FIELDS_OF_EVENTS and value is not None
    }
    return {
        "type": "event",
        "identity": row["user_id"],
        "evtName": row["evtName"],
        "ts": epoch(row["ts"]),
        "evtData": data,
    }


def new_user(number: int, updated_at: str) -> Row:
    """A further valid users row, for incremental runs."""
    return {
        "id": f"U{2000 + number}",
        "name": f"New Customer {number}",
        "email": f"new.customer{number}@example.com",
        "phone": f"+44 20 7946 {1000 + number:04d}",
        "gender": "female" if number % 2 else "male",
        "dob": f"199{number % 10}-05-0{1 + number % 9}",
        "customer_type": "Bronze",
        "msg_sms": True,
        "msg_email": False,
        "employed": "yes",
        "interests": ["books"],
        "updated_at": updated_at,
    }


def new_event(number: int, user_id: str, ts: str) -> Row:
    """A further valid `Charged` event, for incremental runs."""
    return {
        "event_id": f"EV{9000 + number}",
        "user_id": user_id,
        "evtName": "Charged",
        "ts": ts,
        "Amount": 12.99 * number,
        "Currency": "USD",
        "Payment mode": "UPI",
        "Items": [
            {
                "product_id": "SKU-1008",
                "product_name": "Paperback Novel",
                "category": "Books",
                "price": 12.99,
                "quantity": number,
            }
        ],
        "delivery_date": "2025-04-02",
    }
