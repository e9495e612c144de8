"""Replay every recorded real CleverTap exchange against the sandbox and compare the answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sandbox_helpers import Client

from target_clevertap.sandbox import Sandbox
from tests import recorded_traffic

ACCOUNT_ID = "fake_account_id"  # the placeholders the recordings were published with
PASSCODE = "fake_passcode"
RECORD_NUMBER = re.compile(r"Skipped record number\s*:\s*(\d+)")
CASES = recorded_traffic.cases()


@pytest.fixture(scope="module")
def recorded_sandbox() -> Iterator[Sandbox]:
    with Sandbox(account_id=ACCOUNT_ID, passcode=PASSCODE) as running:
        yield running


def _path_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _outcome(item: dict[str, Any]) -> tuple[int, int, str]:
    """Code, 1-based record number and whitespace-normalised text of one unprocessed item."""
    number = RECORD_NUMBER.search(item["error"])
    assert number is not None, f"no record number in {item['error']!r}"
    return item["code"], int(number.group(1)), " ".join(item["error"].split())


def test_recordings_cover_both_sources() -> None:
    files = {path.name for path in recorded_traffic.DIRECTORY.glob("*.jsonl")}
    assert files == set(recorded_traffic.FILES)
    assert len(CASES) >= 18


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
def test_sandbox_answers_like_clevertap(case: dict[str, Any], recorded_sandbox: Sandbox) -> None:
    request, expected = case["request"], case["response"]
    wrong_credentials = "with_invalid_credentials" in case["case"]
    client = Client(
        recorded_sandbox.port,
        account_id="not-" + ACCOUNT_ID if wrong_credentials else ACCOUNT_ID,
        passcode=PASSCODE,
    )

    answer = client.post(request["body"], path=_path_of(request["uri"]))
    client.close()

    assert answer.status == expected["status"]
    assert answer.headers["content-type"].startswith("application/json")
    body, want = answer.json, expected["body"]
    assert body["status"] == want["status"]
    assert body.get("processed") == want.get("processed")
    assert (body.get("code"), body.get("error")) == (want.get("code"), want.get("error"))
    got_items, want_items = body.get("unprocessed", []), want.get("unprocessed", [])
    assert [_outcome(item) for item in got_items] == [_outcome(item) for item in want_items]
    for item in got_items:
        sent = request["body"]["d"][_outcome(item)[1] - 1]
        assert item["record"]["type"] == sent["type"]
        assert item["record"]["identity"] == str(sent["identity"])
