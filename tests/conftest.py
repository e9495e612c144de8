"""Shared fixtures: a scripted CleverTap upload endpoint and an in-process run of the target."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests_mock as rm

from target_clevertap.target import TargetClevertap
from tests.upload_api import API_URL, PASSCODE, UPLOAD_URL, RunResult, UploadApi


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
