"""`meltano run tap-postgres target-clevertap` from an orders table with a `json` items column
into Charged events: lower-case warehouse columns become Amount, Charged ID and Items."""

from __future__ import annotations

import json

import pytest
from e2e_harness import Harness
from e2e_postgres import PostgresServer

pytestmark = pytest.mark.e2e

ORDERS_DDL = """
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id text NOT NULL,
    created_at timestamptz NOT NULL,
    amount numeric(10, 2),
    charged_id text,
    items json,
    payment_method text
);
"""
BOOK = {"product": "Book", "quantity": 1, "price": 12.5, "tags": ["paper"]}
PEN = {"product": "Pen", "quantity": 2, "price": 2.75}
MANY = [{"product": f"P{n}", "quantity": 1} for n in range(51)]
ORDERS = [
    ("u1", "2024-03-01T10:00:00Z", "18.00", "o-1", [BOOK, PEN], "card"),
    ("u2", "2024-03-01T11:00:00Z", "51.00", "o-2", MANY, "cash"),
    ("u3", "2024-03-01T12:00:00Z", "5.00", "o-3", {"product": "Book"}, "card"),
]
ORDERS_STREAM = {
    "type": "event",
    "identity_field": "user_id",
    "event_name": "Charged",
    "timestamp_field": "created_at",
    "properties": {"payment_method": "Payment mode", "id": None},
}


def orders_sql() -> str:
    rows = ",\n".join(
        f"('{user}', '{at}', {amount}, '{charged_id}', $j${json.dumps(items)}$j$, '{pay}')"
        for user, at, amount, charged_id, items, pay in ORDERS
    )
    return (
        ORDERS_DDL
        + "INSERT INTO orders (user_id, created_at, amount, charged_id, items, payment_method) "
        + f"VALUES\n{rows};\n"
    )


def test_an_orders_table_with_a_json_items_column_becomes_charged_events(
    harness: Harness, postgres: PostgresServer
) -> None:
    database = "orders_charged"
    postgres.create_database(database)
    postgres.psql(orders_sql(), database)
    meltano = harness.meltano.with_env(
        **postgres.tap_env(database),
        TAP_POSTGRES__SELECT=json.dumps(["public-orders.*"]),
        TARGET_CLEVERTAP_STREAMS=json.dumps({"public-orders": ORDERS_STREAM}),
    )

    finished = meltano.run("tap-postgres", "target-clevertap")

    assert finished.returncode == 0, finished.explain()
    events = {e["evt_data"]["Charged ID"]: e for e in harness.stored().events}
    assert sorted(events) == ["o-1", "o-2"]
    first = events["o-1"]
    assert (first["identity"], first["evt_name"], first["ts"]) == ("u1", "Charged", 1709287200)
    assert first["evt_data"] == {
        "Amount": 18,
        "Charged ID": "o-1",
        "Items": [
            {"product": "Book", "quantity": 1, "price": 12.5, "tags": '["paper"]'},
            {"product": "Pen", "quantity": 2, "price": 2.75},
        ],
        "Payment mode": "card",
    }
    assert len(events["o-2"]["evt_data"]["Items"]) == 51
    [rejected] = harness.rejected()
    assert (rejected["record"]["charged_id"], rejected["code"]) == ("o-3", "items_invalid")
    assert "Charged events with more than 50 Items were sent" in finished.stderr
