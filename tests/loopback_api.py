"""A CleverTap stand-in on loopback that answers each request on its own thread and logs when.

For tests of timing between concurrent requests (requests-mock sends one request at a time).
Every endpoint answers success: uploads with CleverTap's batch envelope, others `{"status":
"success"}`; `delay(path, body)` says how long to hold a request before answering.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Delay = Callable[[str, Any], float]


@dataclass
class Request:
    path: str
    body: Any
    started: float
    answered: float

    @property
    def kind(self) -> str:
        return str(self.body["d"][0]["type"])

    @property
    def identities(self) -> set[str]:
        return {record["identity"] for record in self.body["d"]}


class LoopbackApi(http.server.ThreadingHTTPServer):
    """Serve on 127.0.0.1 while used as a context manager."""

    daemon_threads = True

    def __init__(self, delay: Delay = lambda path, body: 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.log: list[Request] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def request_for(self, kind: str, identity: str) -> Request:
        return next(r for r in self.log if r.kind == kind and identity in r.identities)

    def count(self, change: int) -> None:
        with self._lock:
            self.in_flight += change
            self.most_in_flight = max(self.most_in_flight, self.in_flight)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: LoopbackApi

    def do_POST(self) -> None:
        started = time.monotonic()
        self.server.count(+1)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.server.delay(self.path, body))
        self.server.count(-1)
        records = body.get("d") if self.path.startswith("/1/upload") else None
        answer = {"status": "success"}
        if records is not None:
            answer.update(processed=len(records), unprocessed=[])
        text = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)
        self.server.log.append(Request(self.path, body, started, time.monotonic()))

    def log_message(self, format: str, *args: Any) -> None:
        del format, args
