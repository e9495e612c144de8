"""A server or proxy that echoes the request's headers never makes the passcode appear anywhere.

A loopback endpoint answers with the request headers in its body (JSON, JSON-escaped and
URL-encoded, and in an HTML page), for each kind of answer the target reads; the real process
runs at DEBUG with urllib3's logging, and stdout, stderr and the rejects file are searched.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import singer
from tests.process import run_target, write_config

PASSCODE = 'pc"echo/+ 7731é'  # characters JSON and URLs escape


class EchoingApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: str) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.answer = answer


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    server: EchoingApi

    def do_POST(self) -> None:
        records = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["d"]
        headers = dict(self.headers.items())
        passcode = headers.get("X-CleverTap-Passcode", "")
        echo = f"{passcode} {json.dumps(headers)} {quote(str(headers))} {headers}"
        status, content_type, body = self._answer(records, headers, echo)
        text = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def _answer(
        self, records: list[Any], headers: dict[str, str], echo: str
    ) -> tuple[int, str, str]:
        kind = self.server.answer
        if kind == "502html":
            return 502, "text/html", f"<html><body><pre>{echo}</pre></body></html>"
        if kind == "200partial":
            unprocessed = [
                {"status": "fail", "code": 509, "error": f"{echo} Skipped record number : 1"}
            ]
            body = {"status": "partial", "processed": len(records) - 1, "unprocessed": unprocessed}
            return 200, "application/json", json.dumps(body)
        status = int(kind)
        return (
            status,
            "application/json",
            json.dumps({"status": "fail", "error": echo, "code": status, "headers": headers}),
        )

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture(params=["400", "401", "429", "500", "502html", "200partial"])
def echoing(request: pytest.FixtureRequest) -> Iterator[EchoingApi]:
    server = EchoingApi(request.param)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kept_in", ["file", "log"])
def test_no_output_holds_the_passcode_whatever_the_server_echoes(
    echoing: EchoingApi, tmp_path: Path, kept_in: str
) -> None:
    rejects = tmp_path / "rejected.jsonl"
    config = {
        "account_id": "acc-echo",
        "passcode": PASSCODE,
        "api_url": f"http://127.0.0.1:{echoing.server_address[1]}",
        "max_retries": 1,
        "retry_backoff_seconds": 0.01,
        "rejected_records_path": str(rejects) if kept_in == "file" else "",
    }
    env = {"LOGLEVEL": "DEBUG", "TARGET_CLEVERTAP_LOGLEVEL": "DEBUG"}

    done = run_target(
        ["--config", str(write_config(tmp_path, config))], singer.users_then_state(2, {"n": 2}), env
    )

    outputs = done.stdout + done.stderr + (rejects.read_text() if rejects.exists() else "")
    assert "(passcode)" in outputs, "the echo should have reached some output, scrubbed"
    as_latin1 = PASSCODE.encode().decode("latin-1")
    for form in (PASSCODE, json.dumps(PASSCODE)[1:-1], quote(PASSCODE, safe=""), as_latin1):
        assert form not in outputs
    # Not even part of it, in any encoding; decimal numbers aside, since a logged duration
    # (a metric's 0.00148773193359375 seconds) can hold those digits by chance.
    assert "7731" not in re.sub(r"\d+\.\d+", "", outputs), "not even part of it"
