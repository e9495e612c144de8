"""A person's mistakes in the settings or the input: one sentence naming the file, variable, setting
or input line, a non-zero exit, never a traceback. Settings are read before any input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import Finished, run_target, write_config
from tests.upload_api import PASSCODE, SANDBOX_ACCOUNT

UNREAD_INPUT = b"not even json\n"  # complained about only if the target got as far as reading


def assert_stopped(done: Finished, sentence: str) -> None:
    assert done.exit_code == 1
    assert sentence in done.stderr
    assert "Traceback" not in done.stderr


def assert_stopped_before_input(done: Finished, sentence: str) -> None:
    assert_stopped(done, sentence)
    assert "Input line" not in done.stderr


# --- config files ---------------------------------------------------------------------------


def test_a_config_file_that_is_not_json_is_named_with_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    config.write_text('{"account_id": "a",\n "passcode": secret}\n')

    done = run_target(["--config", str(config)], UNREAD_INPUT)

    assert_stopped_before_input(
        done, f"Config file '{config}' is not valid JSON (Expecting value at line 2, column 14)."
    )
    assert "secret" not in done.stderr


def test_a_config_file_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"

    done = run_target(["--config", str(missing)], UNREAD_INPUT)

    assert_stopped_before_input(
        done,
        f"Config file '{missing}' does not exist: give the path of a JSON settings file, or "
        "--config ENV to read TARGET_CLEVERTAP_* variables.",
    )


def test_of_several_config_files_the_bad_one_is_named(settings: dict, tmp_path: Path) -> None:
    good = write_config(tmp_path, settings)
    bad = tmp_path / "override.json"
    bad.write_text('{"max_concurrency": 5,}')

    done = run_target(["--config", str(good), "--config", str(bad)], UNREAD_INPUT)

    assert_stopped_before_input(
        done,
        f"Config file '{bad}' is not valid JSON (Expecting property name enclosed in double "
        "quotes at line 1, column 23).",
    )


def test_a_config_file_holding_a_list_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "list.json"
    config.write_text('[{"account_id": "a"}]')

    done = run_target(["--config", str(config)], UNREAD_INPUT)

    assert_stopped_before_input(done, f"Config file '{config}' holds [{{'account_id': 'a'}}], not")


def test_later_config_files_override_earlier_ones(sandbox: Sandbox, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    first.write_text(
        '{"account_id": "wrong", "passcode": "wrong", "api_url": "http://127.0.0.1:9"}'
    )
    second = tmp_path / "second.json"
    second.write_text(
        f'{{"account_id": "{SANDBOX_ACCOUNT}", "passcode": "{PASSCODE}", '
        f'"api_url": "{sandbox.url}"}}'
    )
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 2)
    )

    done = run_target(["--config", str(first), "--config", str(second)], singer_input)

    assert done.exit_code == 0, done.stderr
    assert len(sandbox.profiles()) == 2


# --- environment variables (--config ENV) ---------------------------------------------------


def _environment(sandbox: Sandbox, **more: str) -> dict[str, str]:
    return {
        "TARGET_CLEVERTAP_ACCOUNT_ID": SANDBOX_ACCOUNT,
        "TARGET_CLEVERTAP_PASSCODE": PASSCODE,
        "TARGET_CLEVERTAP_API_URL": sandbox.url,
        **more,
    }


@pytest.mark.parametrize(
    ("variable", "value", "sentence"),
    [
        (
            "TARGET_CLEVERTAP_MAX_CONCURRENCY",
            "abc",
            "Environment variable TARGET_CLEVERTAP_MAX_CONCURRENCY is 'abc'; setting "
            "'max_concurrency' takes a whole number.",
        ),
        (
            "TARGET_CLEVERTAP_REQUEST_TIMEOUT",
            "soon",
            "Environment variable TARGET_CLEVERTAP_REQUEST_TIMEOUT is 'soon'; setting "
            "'request_timeout' takes a number.",
        ),
        (
            "TARGET_CLEVERTAP_DRY_RUN",
            "ture",
            "Environment variable TARGET_CLEVERTAP_DRY_RUN is 'ture'; setting 'dry_run' takes "
            "true or false (or 1/0, yes/no, on/off).",
        ),
        (
            "TARGET_CLEVERTAP_STREAMS",
            '{"users": {"type": "profile"}',
            "Environment variable TARGET_CLEVERTAP_STREAMS is not valid JSON (Expecting ',' "
            "delimiter at column 30); setting 'streams' takes JSON text.",
        ),
    ],
)
def test_an_environment_setting_of_the_wrong_type_names_its_variable(
    sandbox: Sandbox, variable: str, value: str, sentence: str
) -> None:
    done = run_target(
        ["--config", "ENV"], UNREAD_INPUT, env=_environment(sandbox, **{variable: value})
    )

    assert_stopped_before_input(done, sentence)
    assert sandbox.requests() == []


def test_environment_numbers_and_booleans_are_read_as_a_config_file_gives_them(
    sandbox: Sandbox,
) -> None:
    env = _environment(
        sandbox,
        TARGET_CLEVERTAP_REQUEST_TIMEOUT="30",
        TARGET_CLEVERTAP_RETRY_BACKOFF_SECONDS="0.01",
        TARGET_CLEVERTAP_DRY_RUN="no",
    )
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA), singer.profiles("users", 2)
    )

    done = run_target(["--config", "ENV"], singer_input, env=env)

    assert done.exit_code == 0, done.stderr
    assert len(sandbox.profiles()) == 2  # not a dry run: "no" is false


# --- wording ----------------------------------------------------------------------------------

CLAMPED = (
    "Setting 'batch_size_rows' is 2500, above the 1000 records CleverTap takes in one request: "
    "requests hold 1000 records."
)


@pytest.mark.parametrize(("batch_size_rows", "says_clamped"), [(2500, True), (1000, False)])
def test_batch_size_rows_above_1000_says_it_was_clamped(
    settings: dict, tmp_path: Path, batch_size_rows: int, says_clamped: bool
) -> None:
    config = write_config(tmp_path, {**settings, "batch_size_rows": batch_size_rows})

    done = run_target(["--config", str(config)], singer.users_then_state(3, {"done": 1}))

    assert done.exit_code == 0, done.stderr
    assert done.stderr.count(CLAMPED) == (1 if says_clamped else 0)  # test_delivery: the sizes


@pytest.mark.parametrize("schema", [{}, {"type": "object"}, 5])
def test_a_schema_without_properties_names_its_stream(
    settings: dict, tmp_path: Path, schema: object
) -> None:
    message = {"type": "SCHEMA", "stream": "users", "schema": schema, "key_properties": []}

    done = run_target(
        ["--config", str(write_config(tmp_path, settings))], json.dumps(message) + "\n"
    )

    assert_stopped(done, "Input line 1: the SCHEMA for stream 'users' has no 'properties'")


def test_an_unterminated_string_says_where_it_starts_once(settings: dict, tmp_path: Path) -> None:
    done = run_target(["--config", str(write_config(tmp_path, settings))], b'{"type": "STA\n')

    assert_stopped(
        done, "Input line 1: not valid JSON (Unterminated string starting at column 10)."
    )
    assert "at at" not in done.stderr
