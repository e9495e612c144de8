"""A throw-away PostgreSQL server for the end-to-end tests.

The server binaries refuse to run as root, so when the tests run as root every server
command runs as the ``postgres`` OS user, in a temporary directory that user owns. The
server listens on 127.0.0.1 only (trust authentication) and keeps its socket in that
directory, so it never touches a system cluster.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60


class PostgresUnavailable(Exception):
    """The PostgreSQL server binaries are not installed."""


def find_bin_dir() -> Path:
    """The directory holding initdb, pg_ctl and postgres (PATH first, then Debian's)."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if all((directory / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in "
        "/usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """Command prefix that drops root to the postgres user; empty for other users."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"running as root but there is no '{SERVER_USER}' OS user to run the server as"
        ) from exc
    return ["runuser", "-u", SERVER_USER, "--"]


def _run(command: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@dataclass
class PostgresServer:
    """A running server; `stop()` shuts it down and deletes its files."""

    bin_dir: Path
    base_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.log"

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = find_bin_dir()
        prefix = _as_server_user()
        base_dir = Path(tempfile.mkdtemp(prefix="target-clevertap-pg-"))
        if prefix:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(base_dir, user.pw_uid, user.pw_gid)
        server = cls(bin_dir=bin_dir, base_dir=base_dir, port=free_port())
        try:
            server._initdb(prefix)
            server._pg_ctl_start(prefix)
        except BaseException:
            server._remove_files()
            raise
        return server

    def _initdb(self, prefix: list[str]) -> None:
        _run(
            [
                *prefix,
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
            "initdb",
            cwd=self.base_dir,
        )

    def _pg_ctl_start(self, prefix: list[str]) -> None:
        options = f"-p {self.port} -h {self.host} -k {self.base_dir} -c fsync=off"
        _run(
            [
                *prefix,
                str(self.bin_dir / "pg_ctl"),
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--options",
                options,
                "--wait",
                "--timeout",
                str(START_TIMEOUT_SECONDS),
                "start",
            ],
            f"starting PostgreSQL on port {self.port} (log: {self.log_file})",
            cwd=self.base_dir,
        )

    def stop(self) -> None:
        try:
            _run(
                [
                    *_as_server_user(),
                    str(self.bin_dir / "pg_ctl"),
                    "--pgdata",
                    str(self.data_dir),
                    "--mode",
                    "fast",
                    "--wait",
                    "stop",
                ],
                "stopping PostgreSQL",
                cwd=self.base_dir,
            )
        finally:
            self._remove_files()

    def _remove_files(self) -> None:
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql (stops at the first error); returns unaligned, tuples-only output."""
        psql = self.bin_dir / "psql"
        result = _run(
            [
                str(psql if psql.exists() else "psql"),
                "--no-psqlrc",
                "--quiet",
                "--tuples-only",
                "--no-align",
                "--set",
                "ON_ERROR_STOP=1",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--username",
                SUPERUSER,
                "--dbname",
                database,
            ],
            f"psql on database {database}",
            input=sql,
        )
        return result.stdout.strip()

    def create_database(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}"')

    def tap_env(self, database: str) -> dict[str, str]:
        """The TAP_POSTGRES_* settings that point meltano.yml's tap-postgres here."""
        return {
            "TAP_POSTGRES_HOST": self.host,
            "TAP_POSTGRES_PORT": str(self.port),
            "TAP_POSTGRES_USER": SUPERUSER,
            "TAP_POSTGRES_PASSWORD": "",
            "TAP_POSTGRES_DATABASE": database,
        }


# Source tables shaped like samples/*.jsonl, so one set of rows feeds both taps.
USERS_DDL = """
CREATE TABLE users (
    id text PRIMARY KEY,
    name text,
    email text,
    phone text,
    gender text,
    dob date,
    customer_type text,
    msg_sms boolean,
    msg_email boolean,
    employed text,
    interests text[],
    updated_at timestamptz NOT NULL
);
"""

EVENTS_DDL = """
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    event_id text UNIQUE NOT NULL,
    user_id text,
    "evtName" text NOT NULL,
    ts timestamptz NOT NULL,
    product_id text,
    product_name text,
    category text,
    price double precision,
    quantity integer,
    "Amount" double precision,
    "Currency" text,
    "Payment mode" text,
    "Items" jsonb,
    delivery_date date
);
"""

USERS_COLUMNS = (
    "id",
    "name",
    "email",
    "phone",
    "gender",
    "dob",
    "customer_type",
    "msg_sms",
    "msg_email",
    "employed",
    "interests",
    "updated_at",
)
EVENTS_COLUMNS = (
    "event_id",
    "user_id",
    "evtName",
    "ts",
    "product_id",
    "product_name",
    "category",
    "price",
    "quantity",
    "Amount",
    "Currency",
    "Payment mode",
    "Items",
    "delivery_date",
)


def _dollar_quote(text: str) -> str:
    tag = "$rows$"
    if tag in text:
        raise ValueError("row data contains the dollar-quote tag")
    return f"{tag}{text}{tag}"


def insert_rows_sql(table: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """INSERT ... SELECT from json_populate_recordset: JSON arrays become text[]/jsonb."""
    if not rows:
        return ""
    quoted = ", ".join(f'"{column}"' for column in columns)
    payload = _dollar_quote(json.dumps(rows))
    return (
        f"INSERT INTO {table} ({quoted}) SELECT {quoted} "
        f"FROM json_populate_recordset(NULL::{table}, {payload});\n"
    )


def create_source_tables(
    server: PostgresServer,
    database: str,
    users: list[dict[str, Any]],
    events: list[dict[str, Any]],
) -> None:
    server.create_database(database)
    server.psql(
        USERS_DDL
        + EVENTS_DDL
        + insert_rows_sql("users", USERS_COLUMNS, users)
        + insert_rows_sql("events", EVENTS_COLUMNS, events),
        database,
    )


def insert_source_rows(
    server: PostgresServer,
    database: str,
    users: list[dict[str, Any]],
    events: list[dict[str, Any]],
) -> None:
    server.psql(
        insert_rows_sql("users", USERS_COLUMNS, users)
        + insert_rows_sql("events", EVENTS_COLUMNS, events),
        database,
    )
