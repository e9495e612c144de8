"""``clevertap-sandbox``: run the sandbox (``serve``, the default) or read its database (``show``).

Examples::

    clevertap-sandbox                                  # port 8080, sandbox.db, default credentials
    clevertap-sandbox --port 0 --port-file port.txt --memory --fail 503,503,200
    clevertap-sandbox show --db sandbox.db --limit 5
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from target_clevertap.sandbox.faults import AUTH_ERROR, Faults
from target_clevertap.sandbox.server import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_CONCURRENT_OTHER,
    DEFAULT_PASSCODE,
    Sandbox,
    logger,
)
from target_clevertap.sandbox.store import MEMORY, Row, SandboxStore
from target_clevertap.sandbox.validation import (
    DEFAULT_RESTRICTED_EVENTS,
    LEGACY_TOKEN_TYPES,
    STANDARD_TOKEN_TYPES,
    Rules,
)

COMMANDS = ("serve", "show")
DEFAULT_DB = "sandbox.db"
VALUES_SHOWN = 5  # of a deletion's identities or guids, in show


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(_with_default_command(argv))
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


def _with_default_command(argv: Sequence[str] | None) -> list[str]:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in (*COMMANDS, "-h", "--help"):
        args.insert(0, "serve")
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clevertap-sandbox",
        description="A local stand-in for CleverTap's upload API (POST /1/upload), its "
        "profile delete API (POST /1/delete/profiles.json) and its subscribe API "
        "(POST /1/subscribe). "
        "For loopback use only: its admin endpoints need no credentials.",
        epilog="Without a command it serves. Options: clevertap-sandbox serve --help",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="Run the sandbox (the default command).")
    _add_server_arguments(serve)
    _add_store_arguments(serve)
    _add_fault_arguments(serve)
    _add_rule_arguments(serve)
    serve.set_defaults(run=serve_command)
    show = commands.add_parser("show", help="Print what a sandbox database holds.")
    show.add_argument("--db", default=DEFAULT_DB, help="The database file (default: %(default)s).")
    show.add_argument(
        "--limit",
        type=int,
        default=3,
        help="How many of the newest profiles, events, tokens, deletions and subscriptions to "
        "print (default: %(default)s).",
    )
    show.set_defaults(run=show_command)
    return parser


def _add_server_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server")
    group.add_argument(
        "--host",
        default="127.0.0.1",
        help="The address to listen on (default: %(default)s, loopback).",
    )
    group.add_argument(
        "--port",
        type=int,
        default=8080,
        help="The port to listen on; 0 picks a free one (default: %(default)s).",
    )
    group.add_argument("--port-file", type=Path, help="Write the port to this file once listening.")
    group.add_argument(
        "--account-id",
        default=os.environ.get("CLEVERTAP_SANDBOX_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
        help="The account ID accepted in X-CleverTap-Account-Id (default: %(default)s, or the "
        "variable CLEVERTAP_SANDBOX_ACCOUNT_ID).",
    )
    group.add_argument(
        "--passcode",
        default=os.environ.get("CLEVERTAP_SANDBOX_PASSCODE", DEFAULT_PASSCODE),
        help=f"The passcode accepted in X-CleverTap-Passcode (default: {DEFAULT_PASSCODE}, or the "
        "variable CLEVERTAP_SANDBOX_PASSCODE).",
    )
    group.add_argument(
        "--max-concurrent",
        type=int,
        default=DEFAULT_MAX_CONCURRENT,
        help="Uploads in flight at once before the next is answered 429 (default: %(default)s).",
    )
    group.add_argument(
        "--max-concurrent-other",
        type=int,
        default=DEFAULT_MAX_CONCURRENT_OTHER,
        help="Deletes and subscribes in flight at once (together) before the next is answered "
        "429 (default: %(default)s).",
    )
    group.add_argument("--quiet", action="store_true", help="Do not log every request.")


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("storage").add_mutually_exclusive_group()
    group.add_argument(
        "--db",
        default=DEFAULT_DB,
        help="The SQLite file that stores what arrives (default: %(default)s).",
    )
    group.add_argument("--memory", action="store_true", help="Keep what arrives in memory only.")
    group.add_argument(
        "--no-store", action="store_true", help="Validate and answer, and keep nothing."
    )


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "fault injection",
        "An answer is one of: ok, an HTTP status 400-599, 502html (an HTML page), reset (the "
        "connection dropped), slow:SECONDS, store:503 (stored, then answered 503).",
    )
    group.add_argument(
        "--latency-ms", type=int, default=0, help="Milliseconds added to every request."
    )
    group.add_argument(
        "--latency-includes-work",
        action="store_true",
        help="Answer each request --latency-ms after its body was read, the sandbox's own work "
        "done within that time (as at an API with that round trip), not after it.",
    )
    group.add_argument(
        "--fail",
        default="",
        help="Answers for the next uploads, deletes and subscribes, in order, e.g. 503,503,200.",
    )
    group.add_argument(
        "--fail-forever", help="The answer to every request until cleared, e.g. 503."
    )
    group.add_argument(
        "--fail-match",
        help="Fail only uploads and subscribes holding a record with key=value (type=email), "
        "deletes naming "
        "identity=VALUE or guid=VALUE, or all deletes with type=delete.",
    )
    group.add_argument(
        "--store-then-fail", action="store_true", help="Store what arrives, then answer 503."
    )
    group.add_argument(
        "--auth-error",
        default=AUTH_ERROR,
        help="The error text of a 401 answer (default: %(default)s).",
    )
    group.add_argument(
        "--empty-unprocessed",
        action="store_true",
        help="Answer a request with failed records with an empty unprocessed list.",
    )
    group.add_argument(
        "--spaced-json",
        action="store_true",
        help="Format answers with spaces, as CleverTap did in 2018.",
    )


def _add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("validation")
    group.add_argument(
        "--strict-ts",
        action="store_true",
        help="Refuse a ts given as text or in milliseconds too, with code 525.",
    )
    group.add_argument(
        "--strict-keys",
        action="store_true",
        help="Answer 400 to a body with other top-level keys than d (upload) or identity "
        "or guid (delete).",
    )
    group.add_argument(
        "--restricted-event",
        action="append",
        default=[],
        metavar="NAME",
        help="Another event name refused with code 513 (repeatable).",
    )
    group.add_argument(
        "--discarded-event",
        action="append",
        default=[],
        metavar="NAME",
        help="An event name refused with code 528 (repeatable).",
    )
    group.add_argument(
        "--max-event-properties",
        type=int,
        default=256,
        help="Refuse an event with more properties than this, with code 522 "
        "(default: %(default)s).",
    )
    group.add_argument(
        "--max-charged-items",
        type=int,
        help="Refuse a Charged event with more Items than this, with code 512.",
    )
    group.add_argument(
        "--only-add-operator",
        action="store_true",
        help="Refuse every profile operator but $add ($set, $remove, ...) with code 524.",
    )
    group.add_argument(
        "--legacy-token-types",
        action="store_true",
        help="Accept wns, mpns and chrome push tokens too.",
    )


def _rules(args: argparse.Namespace) -> Rules:
    return Rules(
        restricted_events=DEFAULT_RESTRICTED_EVENTS | set(args.restricted_event),
        discarded_events=frozenset(args.discarded_event),
        max_event_properties=args.max_event_properties,
        max_charged_items=args.max_charged_items,
        strict_ts=args.strict_ts,
        strict_keys=args.strict_keys,
        allowed_operators=frozenset({"$add"})
        if args.only_add_operator
        else Rules().allowed_operators,
        token_types=STANDARD_TOKEN_TYPES
        | (LEGACY_TOKEN_TYPES if args.legacy_token_types else set()),
    )


def _faults(args: argparse.Namespace) -> Faults:
    return Faults(
        latency_ms=args.latency_ms,
        latency_includes_work=args.latency_includes_work,
        sequence=args.fail,
        forever=args.fail_forever,
        match=args.fail_match,
        store_then_fail=args.store_then_fail,
        auth_error=args.auth_error,
        empty_unprocessed=args.empty_unprocessed,
        spaced_json=args.spaced_json,
    )


def _db_path(args: argparse.Namespace) -> str:
    return MEMORY if args.memory else str(args.db)


def serve_command(args: argparse.Namespace) -> int:
    try:
        sandbox = Sandbox(
            account_id=args.account_id,
            passcode=args.passcode,
            db_path=_db_path(args),
            store=not args.no_store,
            max_concurrent=args.max_concurrent,
            max_concurrent_other=args.max_concurrent_other,
            host=args.host,
            port=args.port,
            rules=_rules(args),
            faults=_faults(args),
        )
    except (ValueError, sqlite3.Error) as exc:
        print(f"clevertap-sandbox: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s clevertap-sandbox %(message)s",
        stream=sys.stderr,
    )
    try:
        sandbox.start()
    except OSError as exc:
        print(
            f"clevertap-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.port_file:
        _write_port_file(args.port_file, sandbox.port)
    logger.info(
        "listening on %s (account %s, store %s); admin endpoints under /_sandbox/",
        sandbox.url,
        args.account_id,
        "off" if args.no_store else _db_path(args),
    )
    stop.wait()
    sandbox.close()
    logger.info("stopped")
    return 0


def _write_port_file(path: Path, port: int) -> None:
    """Written atomically, so a waiting script never reads a half-written file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n", encoding="utf-8")
    partial.replace(path)


def show_command(args: argparse.Namespace) -> int:
    try:
        store = SandboxStore(args.db)
    except FileNotFoundError as exc:
        print(f"clevertap-sandbox: {exc}", file=sys.stderr)
        return 2
    with store:
        print(summary(store, args.limit))
    return 0


def summary(store: SandboxStore, limit: int) -> str:
    """A person-readable digest of a sandbox database."""
    counts = store.counts()
    lines = [
        f"Sandbox database {store.path}",
        f"profiles: {counts['profiles']}",
        f"events: {counts['events']}",
        *(f"  {name}: {n}" for name, n in sorted(counts["events_by_name"].items())),
        f"tokens: {counts['tokens']}",
        f"deletions: {counts['deletions']}",
        f"subscriptions: {counts['subscriptions']}",
        f"requests: {counts['requests']}",
        *(
            f"  {'reset' if status == 0 else f'HTTP {status}'}: {n}"
            for status, n in sorted(counts["requests_by_status"].items())
        ),
    ]
    lines += _section("profiles", store.profiles(last=limit), _profile_line)
    lines += _section("events", store.events(last=limit), _event_line)
    lines += _section("tokens", store.tokens(last=limit), _token_line)
    lines += _section("deletions", store.deletions(last=limit), _deletion_line)
    lines += _section("subscriptions", store.subscriptions(last=limit), _subscription_line)
    return "\n".join(lines)


def _section(title: str, rows: list[Row], line: Callable[[Row], str]) -> list[str]:
    if not rows:
        return []
    return ["", f"Newest {len(rows)} {title}:", *map(line, rows)]


def _profile_line(row: Row) -> str:
    who = f"{row['identity_key']}={row['identity']}"
    return f"  {who}  {_when(row['ts'])}  {_json(row['profile'])}"


def _event_line(row: Row) -> str:
    who = f"{row['identity_key']}={row['identity']}"
    return f"  {who}  {_when(row['ts'])}  {row['evt_name']}  {_json(row['evt_data'])}"


def _token_line(row: Row) -> str:
    return f"  objectId={row['object_id']}  {_when(row['ts'])}  {_json(row['token_data'])}"


def _deletion_line(row: Row) -> str:
    values = row["values"]
    asked = _json(values[:VALUES_SHOWN])
    if len(values) > VALUES_SHOWN:
        asked += f" and {len(values) - VALUES_SHOWN} more"
    removed = (
        f"removed {row['profiles_deleted']} profiles, {row['events_deleted']} events, "
        f"{row['tokens_deleted']} tokens"
    )
    return f"  {row['deleted_at']}  {row['key']} {asked}  {removed}"


def _subscription_line(row: Row) -> str:
    return (
        f"  {row['received_at']}  batch {row['batch']}  {row['status']} {row['type']} "
        f"{row['value']}  ({row['profiles']} profiles)"
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _when(ts: int) -> str:
    try:
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return str(ts)  # far-future timestamps do not fit a datetime
