"""Shared fixtures: a scripted CleverTap upload endpoint and an in-process run of the target."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock as rm

from target_clevertap.sandbox import Sandbox
from target_clevertap.target import TargetClevertap
from tests.e2e.e2e_postgres import PostgresServer, PostgresUnavailable
from tests.upload_api import (
    API_URL,
    PASSCODE,
    SANDBOX_ACCOUNT,
    UPLOAD_URL,
    RunResult,
    UploadApi,
)


@pytest.fixture
def upload_api() -> Iterator[UploadApi]:
    api = UploadApi()
    with rm.Mocker() as mocker:
        mocker.post(UPLOAD_URL, text=api.answer)
        yield api


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    return {
        "account_id": "acc-1",
        "passcode": PASSCODE,
        "api_url": API_URL,
        "retry_backoff_seconds": 0,
        "rejected_records_path": str(tmp_path / "rejected.jsonl"),
    }


@pytest.fixture
def run_target(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[..., RunResult]:
    """Run the target in-process on Singer input; stdout must hold nothing but state lines."""

    def run(config: dict[str, Any], singer_input: str) -> RunResult:
        target = TargetClevertap(config=config)
        code = target.run(io.StringIO(singer_input))
        out, err = capsys.readouterr()
        states = [json.loads(line) for line in out.splitlines()]
        return RunResult(code, states, err + caplog.text)

    return run


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """The local CleverTap stand-in on loopback, with its own database."""
    with Sandbox(
        account_id=SANDBOX_ACCOUNT, passcode=PASSCODE, db_path=str(tmp_path / "sb.db")
    ) as running:
        yield running


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> dict[str, Any]:
    """A config for the target process against `sandbox`."""
    return {
        "account_id": SANDBOX_ACCOUNT,
        "passcode": PASSCODE,
        "api_url": sandbox.url,
        "retry_backoff_seconds": 0.01,
        "rejected_records_path": str(tmp_path / "rejected.jsonl"),
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server for the session (the end-to-end tests' and the ledger's)."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as missing:
        pytest.skip(f"PostgreSQL tests need the server binaries: {missing}")
    yield server
    server.stop()
