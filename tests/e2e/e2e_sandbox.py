"""The local CleverTap stand-in as a real process (`clevertap-sandbox` CLI), and what it stored."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target_clevertap.sandbox.store import SandboxStore

ACCOUNT_ID = "SANDBOX-ACCOUNT"  # the sandbox environment of meltano.yml uses these
PASSCODE = "sandbox-passcode"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10
ADMIN_TIMEOUT_SECONDS = 10


def sandbox_executable() -> str:
    """`clevertap-sandbox` from the venv running the tests, else from PATH."""
    beside_python = Path(sys.executable).with_name("clevertap-sandbox")
    found = str(beside_python) if beside_python.exists() else shutil.which("clevertap-sandbox")
    if not found:
        raise RuntimeError(
            "clevertap-sandbox is not installed; run `pip install -e '.[test]'` "
            "(scripts/test.sh does it)"
        )
    return found


@dataclass
class SandboxProcess:
    """One run of the sandbox server on a free loopback port; its database outlives it."""

    workdir: Path
    db: Path
    fail_forever: str | None = None
    fail_match: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.workdir / "sandbox.log"

    def command(self, port_file: Path) -> list[str]:
        command = [
            sandbox_executable(),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--db",
            str(self.db),
            "--account-id",
            ACCOUNT_ID,
            "--passcode",
            PASSCODE,
        ]
        if self.fail_forever:
            command += ["--fail-forever", self.fail_forever]
        if self.fail_match:
            command += ["--fail-match", self.fail_match]
        return command

    def start(self) -> SandboxProcess:
        port_file = self.workdir / "sandbox.port"
        port_file.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(port_file), stdout=log, stderr=subprocess.STDOUT
            )
        self.port = self._wait_for_port(port_file)
        return self

    def _wait_for_port(self, port_file: Path) -> int:
        """Poll until the sandbox wrote its port (it does so once it listens)."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"clevertap-sandbox exited with {self.process.returncode} before listening; "
                    f"log:\n{self.log_file.read_text(errors='replace')}"
                )
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                return int(text)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"clevertap-sandbox wrote no port file within {START_TIMEOUT_SECONDS}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call an admin endpoint (`/_sandbox/...`): POST when there is a body, else GET."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data)
        with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_SECONDS) as response:
            return dict(json.loads(response.read()))

    def set_faults(self, **faults: Any) -> None:
        """Replace the running sandbox's faults (`Faults` fields; none clears them all)."""
        self.admin("/_sandbox/faults", faults)

    def stats(self) -> dict[str, Any]:
        return self.admin("/_sandbox/stats")

    def restarted(self, *, fail_forever: str | None = None, fail_match: str | None = None):
        """Stop this server and start another on the same database (new port)."""
        self.stop()
        return SandboxProcess(
            self.workdir, self.db, fail_forever=fail_forever, fail_match=fail_match
        ).start()


@dataclass(frozen=True)
class Stored:
    """A snapshot of what the sandbox accepted."""

    profiles: dict[str, dict[str, Any]]  # identity -> merged profile and its ts
    events: list[dict[str, Any]]  # in arrival order
    requests_by_status: dict[int, int]  # every upload request the sandbox answered
    deleted: list[str]  # identities (or guids) of every delete call, in order

    @classmethod
    def read(cls, db: Path) -> Stored:
        with SandboxStore(db) as store:
            return cls(
                profiles={row["identity"]: row for row in store.profiles()},
                events=store.events(),
                requests_by_status=dict(store.counts()["requests_by_status"]),
                deleted=[value for row in store.deletions() for value in row["values"]],
            )

    @property
    def requests(self) -> int:
        return sum(self.requests_by_status.values())

    def events_by_id(self) -> dict[str, list[dict[str, Any]]]:
        """Stored events grouped by the `event_id` the sample rows carry in their data."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for event in self.events:
            grouped.setdefault(event["evt_data"].get("event_id"), []).append(event)
        return grouped
