"""Device-token streams (`type: "token"`), the real target process against the sandbox: 100 a
request, per-record answers, local rejections, retries, state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from target_clevertap.sandbox import ALL_TOKEN_TYPES, Faults, Rules, Sandbox
from tests import singer
from tests.process import Finished, run_target, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT, rejected_lines

TOKEN_SCHEMA: dict[str, Any] = {
    "properties": {
        "ctid": {"type": "string"},
        "token": {"type": ["string", "null"]},
        "platform": {"type": ["string", "null"]},
        "keys": {},
    }
}
KEYS = {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u", "auth": "tB"}


def token_config(settings: dict[str, Any], **entry: Any) -> dict[str, Any]:
    stream = {
        "type": "token",
        "identity_type": "objectId",
        "identity_field": "ctid",
        "token_type_field": "platform",
        "token_keys_field": "keys",
        **entry,
    }
    return {**settings, "streams": {"push_tokens": stream}}


def token_rows(count: int, platform: str = "fcm", start: int = 0) -> list[str]:
    return [
        singer.record("push_tokens", {"ctid": f"__g{n}", "token": f"t-{n}", "platform": platform})
        for n in range(start, start + count)
    ]


def run(config: dict[str, Any], tmp_path: Path, *rows: str | list[str]) -> Finished:
    singer_input = singer.lines(singer.schema("push_tokens", TOKEN_SCHEMA), *rows)
    return run_target(["--config", str(write_config(tmp_path, config))], singer_input)


def stored(sandbox: Sandbox) -> list[tuple[str, str, str]]:
    return sorted((t["object_id"], t["token_id"], t["token_type"]) for t in sandbox.tokens())


def test_tokens_are_uploaded_100_a_request_and_state_follows(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    done = run(token_config(settings), tmp_path, token_rows(250), singer.state({"tokens": 250}))

    assert done.exit_code == 0, done.stderr
    assert len(stored(sandbox)) == 250
    assert sorted(r["records"] for r in sandbox.requests()) == [50, 100, 100]
    assert done.states == [{"tokens": 250}]
    assert "Stream 'push_tokens' uploads device tokens: each row's CleverTap ID from 'ctid'." in (
        done.stderr
    )
    assert "Stream 'push_tokens': received 250, sent 250, accepted 250" in done.stderr


def test_a_partial_answer_rejects_only_the_tokens_cleverTap_refused(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    # The sandbox takes fcm, gcm and apns by default: a wns token is refused with 534.
    config = token_config(settings)
    done = run(
        config,
        tmp_path,
        token_rows(2),
        token_rows(1, platform="wns", start=2),
        token_rows(1, start=3),
        singer.state({"tokens": 4}),
    )

    assert done.exit_code == 0, done.stderr
    assert stored(sandbox) == [(f"__g{n}", f"t-{n}", "fcm") for n in (0, 1, 3)]
    [rejected] = rejected_lines(config)
    assert (rejected["record"]["ctid"], rejected["code"], rejected["source"]) == (
        "__g2",
        534,
        "clevertap",
    )
    assert rejected["payload"]["tokenData"] == {"id": "t-2", "type": "wns"}
    assert done.states == [{"tokens": 4}]
    assert "rejected by CleverTap 1 (most frequent reasons: 534 x1)" in done.stderr


def test_rows_that_cannot_be_tokens_are_rejected_here_with_their_reason(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = token_config(settings)
    done = run(
        config,
        tmp_path,
        singer.record("push_tokens", {"ctid": "__g1", "token": None, "platform": "fcm"}),
        singer.record("push_tokens", {"ctid": "__g2", "token": "t-2", "platform": "firebase"}),
        singer.record("push_tokens", {"ctid": "", "token": "t-3", "platform": "fcm"}),
        singer.record("push_tokens", {"ctid": "__g4", "token": "t-4", "platform": "APNS"}),
        singer.state({"tokens": 4}),
    )

    assert done.exit_code == 0, done.stderr
    assert stored(sandbox) == [("__g4", "t-4", "apns")]
    assert [(r["code"], r["source"]) for r in rejected_lines(config)] == [
        ("token_missing", "local"),
        ("token_type_invalid", "local"),
        ("identity_missing", "local"),
    ]
    assert done.states == [{"tokens": 4}]


def test_a_refused_request_is_retried_and_every_token_lands_once(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(sequence=["503", "reset"]))

    done = run(token_config(settings), tmp_path, token_rows(150), singer.state({"tokens": 150}))

    assert done.exit_code == 0, done.stderr
    assert len(stored(sandbox)) == 150
    assert done.states == [{"tokens": 150}]
    by_status = sandbox.stats()["requests_by_status"]
    assert (by_status.get(503), by_status.get(0)) == (1, 1), by_status


def test_a_token_stream_without_object_id_refuses_to_start(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = token_config(settings, identity_type="identity")

    done = run(config, tmp_path, token_rows(1))

    assert done.exit_code != 0
    assert "Stream 'push_tokens' holds device tokens, which CleverTap takes only for a " in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert sandbox.requests() == []


@pytest.fixture
def all_types(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox taking the three older token types (wns, mpns, chrome) too."""
    with Sandbox(
        SANDBOX_ACCOUNT,
        PASSCODE,
        db_path=str(tmp_path / "all.db"),
        rules=Rules(token_types=ALL_TOKEN_TYPES),
    ) as running:
        yield running


def test_a_chrome_token_carries_its_keys_from_json_text_and_others_none(
    all_types: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    config = token_config({**settings, "api_url": all_types.url})
    done = run(
        config,
        tmp_path,
        singer.record(
            "push_tokens",
            {
                "ctid": "__g1",
                "token": "https://push/1",
                "platform": "chrome",
                "keys": json.dumps(KEYS),
            },
        ),
        singer.record(
            "push_tokens", {"ctid": "__g2", "token": "w-2", "platform": "wns", "keys": KEYS}
        ),
        singer.record("push_tokens", {"ctid": "__g3", "token": "c-3", "platform": "chrome"}),
    )

    assert done.exit_code == 0, done.stderr
    by_user = {t["object_id"]: t["token_data"] for t in all_types.tokens()}
    assert by_user == {
        "__g1": {"id": "https://push/1", "type": "chrome", "keys": KEYS},
        "__g2": {"id": "w-2", "type": "wns"},
    }
    assert [r["code"] for r in rejected_lines(config)] == ["token_keys_invalid"]
