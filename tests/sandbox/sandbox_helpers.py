"""Helpers shared by the sandbox tests: a tiny stdlib HTTP client and record builders."""

from __future__ import annotations

import http.client
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Sandbox

DELETE_PATH = "/1/delete/profiles.json"
SUBSCRIBE_PATH = "/1/subscribe"
ACCOUNT_ID = "acc-123"
PASSCODE = "pass-SECRET-9f8e"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive connection to a sandbox, sending CleverTap's auth headers."""

    def __init__(self, port: int, account_id: str = ACCOUNT_ID, passcode: str = PASSCODE):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.auth = {"X-CleverTap-Account-Id": account_id, "X-CleverTap-Passcode": passcode}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self.connection.request(method, path, body=body, headers=headers or {})
        answer = self.connection.getresponse()
        headers_lower = {name.lower(): value for name, value in answer.getheaders()}
        return Response(answer.status, headers_lower, answer.read())

    def post(
        self,
        body: Any,
        path: str = "/1/upload",
        headers: dict[str, str] | None = None,
    ) -> Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **self.auth, **(headers or {})}
        return self.request("POST", path, raw, all_headers)

    def upload(self, *records: Any, path: str = "/1/upload") -> Response:
        return self.post({"d": list(records)}, path=path)

    def delete(self, body: Any) -> Response:
        """``POST /1/delete/profiles.json`` with ``body`` (e.g. ``{"identity": ["u-1"]}``)."""
        return self.post(body, path=DELETE_PATH)

    def subscribe(self, *records: Any, query: str = "") -> Response:
        """``POST /1/subscribe`` with ``{"d": records}``; ``query`` e.g. ``?dryRun=1``."""
        return self.post({"d": list(records)}, path=SUBSCRIBE_PATH + query)

    def close(self) -> None:
        self.connection.close()


def profile(identity: Any = "u-1", ts: Any = None, **profile_data: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"type": "profile", "identity": identity, "profileData": profile_data}
    if ts is not None:
        record["ts"] = ts
    return record


def event(name: str = "Signed Up", identity: Any = "u-1", **evt_data: Any) -> dict[str, Any]:
    return {"type": "event", "identity": identity, "evtName": name, "evtData": evt_data}


def token(object_id: Any = "__abc123", **token_data: Any) -> dict[str, Any]:
    return {"type": "token", "objectId": object_id, "tokenData": token_data}


def subscription(
    value: Any = "ana@example.com", status: Any = "Unsubscribe", channel: Any = "email"
) -> dict[str, Any]:
    return {"type": channel, "value": value, "status": status}


def database_without(tmp_path: Path, table: str) -> Path:
    """A sandbox database holding one profile, made as by a sandbox from before `table` was kept."""
    db = tmp_path / "old.db"
    with Sandbox(ACCOUNT_ID, PASSCODE, db_path=db) as sandbox:
        Client(sandbox.port).upload(profile())
    sandbox.close()
    old = sqlite3.connect(db)
    with old:
        old.execute(f"DROP TABLE {table}")
    old.close()
    return db


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll until ``condition`` holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
