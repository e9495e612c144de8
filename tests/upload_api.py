"""A scripted CleverTap upload endpoint for in-process tests (requests-mock underneath)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_URL = "http://127.0.0.1:9"
UPLOAD_URL = f"{API_URL}/1/upload"
PASSCODE = "pc-s3cr3t-7731"
SANDBOX_ACCOUNT = "acc-sandbox"

Responder = Callable[[list[dict[str, Any]]], tuple[int, Any]]


def accept_all(records: list[dict[str, Any]]) -> tuple[int, Any]:
    return 200, {"status": "success", "processed": len(records), "unprocessed": []}


@dataclass
class UploadApi:
    """Answers uploads from a script of responders, then with `default`; records every request."""

    script: list[Responder] = field(default_factory=list)
    default: Responder = accept_all
    requests: list[Any] = field(default_factory=list)

    def answer(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        records = json.loads(request.body)["d"]
        status, body = (self.script.pop(0) if self.script else self.default)(records)
        context.status_code = status
        if isinstance(body, str):
            context.headers["Content-Type"] = "text/html"
            return body
        return json.dumps(body)

    @property
    def bodies(self) -> list[list[dict[str, Any]]]:
        return [json.loads(r.body)["d"] for r in self.requests]


@dataclass
class RunResult:
    exit_code: int
    states: list[Any]
    log: str


def rejected_lines(config: dict[str, Any]) -> list[dict[str, Any]]:
    path = Path(config["rejected_records_path"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
