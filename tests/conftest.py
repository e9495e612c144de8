"""Shared fixtures: a scripted CleverTap upload endpoint and an in-process run of the target."""

from __future__ import annotations

import io
import json
import os
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

# skip_policy: the run fails when a test is skipped without a named reason (see the module).
pytest_plugins = ["pytester", "tests.skip_policy"]


@pytest.fixture(autouse=True, scope="session")
def working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Runs, in-process or not, write their default rejected-records file here, never into the
    repository."""
    previous = Path.cwd()
    directory = tmp_path_factory.mktemp("cwd")
    os.chdir(directory)
    yield directory
    os.chdir(previous)


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
        # Imported here: the module is a plugin (below), which pytest must import first.
        from tests.skip_policy import skip_reason

        pytest.skip(skip_reason("postgresql-unavailable", str(missing)))
    yield server
    server.stop()
