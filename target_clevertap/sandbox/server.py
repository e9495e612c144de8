"""The HTTP side of the sandbox: routing, keep-alive, logging, and the :class:`Sandbox` object.

Endpoints: ``POST /1/upload``, ``POST /1/delete/profiles.json`` and ``POST /1/subscribe``
(CleverTap's API),
``GET``/``POST /_sandbox/faults`` and ``GET /_sandbox/stats`` (admin; no authentication, so bind
to loopback only). Other methods on a
known path get 405, other paths 404, always in CleverTap's JSON error envelope.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from target_clevertap.sandbox.delete import DELETE_PATH, DeleteService
from target_clevertap.sandbox.faults import Faults, FaultState
from target_clevertap.sandbox.service import ApiRequest, Credentials, Reply, encode_json, fail_reply
from target_clevertap.sandbox.stats import Stats
from target_clevertap.sandbox.store import MEMORY, Row, SandboxStore, StoreWriter
from target_clevertap.sandbox.subscribe import SUBSCRIBE_PATH, SubscribeService
from target_clevertap.sandbox.upload import UploadService
from target_clevertap.sandbox.validation import Rules

DEFAULT_ACCOUNT_ID = "sandbox-account"
DEFAULT_PASSCODE = "sandbox-passcode"
DEFAULT_MAX_CONCURRENT = 15
DEFAULT_MAX_CONCURRENT_OTHER = 3  # CleverTap's budget for its APIs other than upload
UPLOAD_PATH = "/1/upload"

logger = logging.getLogger("target_clevertap.sandbox")


class Sandbox:
    """A local stand-in for CleverTap's upload, delete and subscribe APIs, served from a daemon
    thread.

    ``db_path`` is a SQLite file (created when missing) or ``None``/``":memory:"`` for an in-memory
    store; ``store=False`` keeps nothing. ``stop()`` (also on leaving a ``with`` block) stops
    serving and keeps the store readable; ``close()`` also closes the store.
    """

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        passcode: str = DEFAULT_PASSCODE,
        *,
        db_path: str | os.PathLike[str] | None = None,
        store: bool = True,
        latency_ms: int = 0,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        max_concurrent_other: int = DEFAULT_MAX_CONCURRENT_OTHER,
        host: str = "127.0.0.1",
        port: int = 0,
        rules: Rules | None = None,
        faults: Faults | None = None,
    ) -> None:
        for name, limit in [
            ("max_concurrent", max_concurrent),
            ("max_concurrent_other", max_concurrent_other),
        ]:
            if limit < 1:
                raise ValueError(f"{name} must be at least 1, not {limit}")
        self.account_id = account_id
        self.host = host
        self.rules = rules or Rules()
        initial = faults or Faults()
        if latency_ms:
            initial = replace(initial, latency_ms=latency_ms)
        self._faults = FaultState(initial)
        self._stats = Stats()
        self._other_stats = Stats()  # the APIs other than upload share one budget
        self._store = StoreWriter(db_path or MEMORY) if store else None
        credentials = Credentials(account_id, passcode)
        self._upload = UploadService(
            credentials=credentials,
            rules=self.rules,
            faults=self._faults,
            stats=self._stats,
            store=self._store,
            max_concurrent=max_concurrent,
        )
        other_apis: dict[str, Any] = {
            "credentials": credentials,
            "rules": self.rules,
            "faults": self._faults,
            "stats": self._other_stats,
            "store": self._store,
            "max_concurrent": max_concurrent_other,
        }
        self._delete = DeleteService(**other_apis)
        self._subscribe = SubscribeService(**other_apis)
        self._requested_port = port
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("The sandbox is already running")
        self._server = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"clevertap-sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def close(self) -> None:
        self.stop()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The sandbox is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self._faults.current

    def set_faults(self, faults: Faults) -> None:
        """Replace every fault setting at once; a new ``sequence`` starts from its first entry."""
        self._faults.replace(faults)

    def stats(self) -> dict[str, Any]:
        """Counters of ``/1/upload`` requests since start.

        ``requests_by_status`` maps HTTP status to count (0 = connection reset on purpose);
        ``max_in_flight_seen`` counts rejected requests too, so a value above the limit means
        clients sent more concurrent requests than allowed; ``records_accepted`` counts records
        that passed validation outside dry runs (stored, unless the store is off).

        ``other_apis`` holds the same counters for the APIs other than upload (deletes and
        subscribes together), which share their own in-flight limit (``max_concurrent_other``);
        there ``records_received`` counts the identities or guids asked for and the subscribe
        records sent, ``records_accepted`` those of deletes applied and the subscribe records
        applied."""
        return {**self._stats.snapshot(), "other_apis": self._other_stats.snapshot()}

    @property
    def store(self) -> SandboxStore:
        if self._store is None:
            raise RuntimeError("This sandbox keeps nothing: it was created with store=False")
        return self._store

    def profiles(self) -> list[Row]:
        return self.store.profiles()

    def profile(self, identity: str, identity_key: str = "identity") -> dict[str, Any] | None:
        """The stored properties of one profile as CleverTap would hold them after every
        accepted update (``$add``/``$remove`` applied to lists, ``$incr``/``$decr`` to numbers,
        category keys merged), or ``None`` when there is none. ``identity_key`` is
        ``identity``, ``objectId``, ``FBID`` or ``GPID``; a numeric identity is looked up as
        text (``"42"``)."""
        return self.store.profile(identity, identity_key)

    def events(self) -> list[Row]:
        return self.store.events()

    def tokens(self) -> list[Row]:
        """Stored device tokens, one per objectId and token id (a later upload of the same pair
        replaces it), oldest first: ``object_id``, ``token_id``, ``token_type``, ``token_data``
        (the ``tokenData`` as sent, with ``keys`` for chrome) and ``ts``."""
        return self.store.tokens()

    def requests(self) -> list[Row]:
        return self.store.requests()

    def deletions(self) -> list[Row]:
        """Applied deletes, oldest first: ``deleted_at``, ``key`` (``identity`` or ``guid``),
        ``values`` as sent, ``profiles_deleted``, ``events_deleted``, ``tokens_deleted``."""
        return self.store.deletions()

    def subscriptions(self) -> list[Row]:
        """Applied ``/1/subscribe`` records, oldest first, one row each (a retried request adds
        its records again): ``batch`` (1 for the first applied subscribe request, 2 for the
        next, ...: rows of one request share it), ``received_at``, ``type`` (``email`` or
        ``phone``), ``value`` and ``status`` as sent (``Unsubscribe`` or ``Resubscribe``), and
        ``profiles``, the number of stored profiles whose ``Email`` / ``Phone`` equalled the
        value then. Refused records are not kept."""
        return self.store.subscriptions()

    def subscription_status(self, channel: str, value: str) -> str | None:
        """``Unsubscribe`` or ``Resubscribe``: the status of the newest applied subscribe record
        for that ``channel`` (``email`` or ``phone``) and value, or ``None`` when there is none."""
        return self.store.subscription_status(channel, value)

    def counts(self) -> dict[str, Any]:
        return self.store.counts()

    def handle_upload(self, request: ApiRequest) -> Reply:
        """Answer one ``/1/upload`` request without HTTP (the HTTP handler calls this)."""
        return self._upload.handle(request)

    def handle_delete(self, request: ApiRequest) -> Reply:
        """Answer one ``/1/delete/profiles.json`` request without HTTP."""
        return self._delete.handle(request)

    def handle_subscribe(self, request: ApiRequest) -> Reply:
        """Answer one ``/1/subscribe`` request without HTTP."""
        return self._subscribe.handle(request)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        """End kept-alive connections, whose threads would otherwise go on serving them."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup, which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("Client %s went away", client_address)
        else:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    server_version = "clevertap-sandbox"
    # Headers and body leave in two writes; with Nagle on, the body waits for a delayed ACK.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        reply = fail_reply(411, "Send the body with a valid Content-Length header, not chunked")
        if body is not None:
            path, _, query = self.path.partition("?")
            reply = self._route(path, query, body)
        self._write(reply)
        logger.info(
            "%s %s %s records=%d processed=%d latency_ms=%d",
            self.command,
            self.path,
            "reset" if reply.reset else reply.status,
            reply.records,
            reply.processed,
            round((time.monotonic() - started) * 1000),
        )

    def _read_body(self) -> bytes | None:
        """The request body, or ``None`` when it cannot be delimited (the connection is closed)."""
        length = self.headers.get("Content-Length", "0")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
            self.close_connection = True
            return None
        return self.rfile.read(int(length))

    def _route(self, path: str, query: str, body: bytes) -> Reply:
        methods = ROUTES.get(path)
        if methods is None:
            return fail_reply(404, "Not found")
        endpoint = methods.get(self.command)
        if endpoint is None:
            allowed = (("Allow", ", ".join(methods)),)
            return replace(fail_reply(405, "Method not allowed"), headers=allowed)
        return endpoint(self, query, body)

    def _api_request(self, query: str, body: bytes) -> ApiRequest:
        return ApiRequest(
            account_id=self.headers.get("X-CleverTap-Account-Id"),
            passcode=self.headers.get("X-CleverTap-Passcode"),
            query=query,
            body=body,
            host=self.headers.get("Host", ""),
        )

    def _upload(self, query: str, body: bytes) -> Reply:
        return self.server.sandbox.handle_upload(self._api_request(query, body))

    def _delete_profiles(self, query: str, body: bytes) -> Reply:
        return self.server.sandbox.handle_delete(self._api_request(query, body))

    def _subscribe(self, query: str, body: bytes) -> Reply:
        return self.server.sandbox.handle_subscribe(self._api_request(query, body))

    def _get_stats(self, query: str, body: bytes) -> Reply:
        return Reply(200, encode_json(self.server.sandbox.stats()))

    def _get_faults(self, query: str, body: bytes) -> Reply:
        return Reply(200, encode_json(self.server.sandbox.faults.to_dict()))

    def _set_faults(self, query: str, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("Send the faults as a JSON object")
            faults = Faults.from_dict(data)
        except (ValueError, TypeError) as exc:
            return fail_reply(400, str(exc))
        self.server.sandbox.set_faults(faults)
        return Reply(200, encode_json({"status": "success", "faults": faults.to_dict()}))

    def _write(self, reply: Reply) -> None:
        if reply.reset:
            self._abort_connection()
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _abort_connection(self) -> None:
        # Linger 0: closing sends a TCP reset instead of a clean end of stream.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by the one line per request logged in ``_serve``."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


Endpoint = Callable[[_Handler, str, bytes], Reply]

ROUTES: dict[str, dict[str, Endpoint]] = {
    UPLOAD_PATH: {"POST": _Handler._upload},
    DELETE_PATH: {"POST": _Handler._delete_profiles},
    SUBSCRIBE_PATH: {"POST": _Handler._subscribe},
    "/_sandbox/faults": {"GET": _Handler._get_faults, "POST": _Handler._set_faults},
    "/_sandbox/stats": {"GET": _Handler._get_stats},
}
