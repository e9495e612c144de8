"""The real target process, its CLI and its input handling, against the local sandbox."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.process import run_target, start_with_buffered_users, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT


def test_about_lists_every_setting_without_secrets() -> None:
    done = run_target(["--about", "--format=markdown"])

    assert done.exit_code == 0
    for setting in (
        "account_id",
        "passcode",
        "region",
        "api_url",
        "streams",
        "max_concurrency",
        "dry_run",
    ):
        assert setting in done.stdout


def test_version() -> None:
    done = run_target(["--version"])

    assert done.exit_code == 0
    assert done.stdout.startswith("target-clevertap v")


def test_config_from_environment_and_input_from_file(sandbox: Sandbox, tmp_path: Path) -> None:
    input_file = tmp_path / "input.singer"
    input_file.write_text(
        singer.lines(singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 3))
    )
    env = {
        "TARGET_CLEVERTAP_ACCOUNT_ID": SANDBOX_ACCOUNT,
        "TARGET_CLEVERTAP_PASSCODE": PASSCODE,
        "TARGET_CLEVERTAP_API_URL": sandbox.url,
    }

    done = run_target(["--config", "ENV", "--input", str(input_file)], env=env)

    assert done.exit_code == 0, done.stderr
    assert sorted(p["identity"] for p in sandbox.profiles()) == ["u0", "u1", "u2"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"region": "eu2", "api_url": None}, "'region' is 'eu2'"),
        ({"passcode": None}, "'passcode' is missing"),
        ({"api_url": "http://clevertap.example.com"}, "plain http to 'clevertap.example.com'"),
        ({"max_concurrency": 40}, "'max_concurrency' is 40"),
        (
            {"streams": {"clicks": {"type": "event", "event_name_field": ""}}},
            "neither 'event_name' nor",
        ),
    ],
)
def test_invalid_config_stops_before_reading_input(
    settings: dict, tmp_path: Path, change: dict, named: str
) -> None:
    config = {k: v for k, v in {**settings, **change}.items() if v is not None}

    done = run_target(
        ["--config", str(write_config(tmp_path, config))], singer_input=b"not even json\n"
    )

    assert done.exit_code == 1
    assert named in done.stderr
    assert "Input line" not in done.stderr
    assert PASSCODE not in done.stderr + done.stdout


def test_passcode_of_wrong_type_is_not_quoted(settings: dict, tmp_path: Path) -> None:
    config = {**settings, "passcode": 987654321}

    done = run_target(["--config", str(write_config(tmp_path, config))])

    assert done.exit_code == 1
    assert "987654321" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (b"{not json", "Input line 4: not valid JSON"),
        (b'{"type": "RECORD", "stream": "ghost", "record": {"identity": "x"}}', "Input line 4:"),
        (b'{"type": "HELLO"}', "Input line 4: unknown Singer message type 'HELLO'"),
        (b'{"type": "SCHEMA", "stream": "s"}', "Input line 4:"),
        (
            b'{"type": "STATE", "value": {"a": 1}, "value": {"a": 2}}',
            "Input line 4: key 'value' appears twice",
        ),
        (b"\xff\xfe garbage", "Input line 4: the line is not UTF-8"),
        (b"[" * 1000 + b"]" * 1000, "Input line 4:"),
        (
            b'{"type": "SCHEMA", "stream": "k", "schema": {"properties": {}}, '
            b'"key_properties": ["id"]}\n{"type": "RECORD", "stream": "k", "record": {"a": 1}}',
            "Input line 5: the record lacks one of the key properties",
        ),
    ],
)
def test_bad_input_line_stops_with_its_line_number_and_no_later_state(
    settings: dict, tmp_path: Path, bad_line: bytes, expected: str
) -> None:
    good = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        singer.profiles("users", 1),
        singer.state({"ok": 1}),
    )
    singer_input = good.encode() + bad_line + b"\n" + singer.state({"after": 1}).encode() + b"\n"

    done = run_target(["--config", str(write_config(tmp_path, settings))], singer_input)

    assert done.exit_code == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert {"after": 1} not in done.states


def test_sigterm_drains_buffered_records_and_writes_the_safe_state(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(latency_ms=200))
    process = start_with_buffered_users(settings, tmp_path, count=10)

    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines() == ['{"n": 10}']
    assert len(sandbox.profiles()) == 10


def test_sigterm_with_a_failing_drain_exits_non_zero(
    sandbox: Sandbox, settings: dict, tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(forever="503"))
    config = {**settings, "max_retries": 1}
    process = start_with_buffered_users(config, tmp_path, count=3)

    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 1
    assert stdout == b""
    assert "Stopped on request with 3 records read but not delivered" in stderr.decode()


@pytest.mark.parametrize("passcode", [PASSCODE, "wrong-passcode-0042"])
def test_debug_logging_with_http_details_never_shows_the_passcode(
    settings: dict, tmp_path: Path, passcode: str
) -> None:
    config = {**settings, "passcode": passcode}
    env = {"LOGLEVEL": "DEBUG", "TARGET_CLEVERTAP_LOGLEVEL": "DEBUG"}

    done = run_target(
        ["--config", str(write_config(tmp_path, config))], singer.users_then_state(3, {"n": 3}), env
    )

    assert "DEBUG" in done.stderr
    assert "POST /1/upload" in done.stderr, "urllib3's request lines should be in the debug log"
    assert passcode not in done.stderr + done.stdout


def test_event_stream_without_a_name_field_is_warned_about(settings: dict, tmp_path: Path) -> None:
    config = {**settings, "streams": {"orders": {"type": "event"}}}
    singer_input = singer.lines(
        singer.schema("orders", singer.PROFILE_SCHEMA), singer.profiles("orders", 1)
    )

    done = run_target(["--config", str(write_config(tmp_path, config))], singer_input)

    assert "Stream 'orders' is an event stream, but its SCHEMA has no 'evtName'" in done.stderr
    assert "rejected locally 1" in done.last_log_line
