"""Rejected records never exist only as a count: in a file (by default in the working
directory, owner-only), or logged at WARNING; a chosen place that cannot be written stops the
target before it reads input."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from target_clevertap import rejects
from target_clevertap.config import DEFAULT_REJECTED_RECORDS_PATH
from target_clevertap.sandbox import Sandbox
from tests import singer
from tests.process import Finished, run_target, write_config

GOOD = {"identity": "g1", "name": "Good"}
NO_IDENTITY = {"identity": "", "name": "Nameless"}
HUGE = {"identity": "h1", "bio": "x" * 10_000_000}


def run_in(directory: Path, config: dict[str, Any], *records: dict[str, Any]) -> Finished:
    """Run the target process in `directory` on users holding the records, then a STATE."""
    singer_input = singer.lines(
        singer.schema("users", singer.PROFILE_SCHEMA),
        [singer.record("users", record) for record in records],
        singer.state({"done": True}),
    )
    return run_target(
        ["--config", str(write_config(directory, config))], singer_input, cwd=directory
    )


@pytest.fixture
def unset(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings without `rejected_records_path`."""
    return {k: v for k, v in settings.items() if k != "rejected_records_path"}


def test_by_default_rejected_records_go_to_an_owner_only_file_in_the_working_directory(
    sandbox: Sandbox, unset: dict[str, Any], tmp_path: Path
) -> None:
    done = run_in(tmp_path, unset, GOOD, NO_IDENTITY)

    assert done.exit_code == 0, done.stderr
    rejects = tmp_path / DEFAULT_REJECTED_RECORDS_PATH
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    [line] = [json.loads(text) for text in rejects.read_text().splitlines()]
    assert (line["stream"], line["record"], line["code"]) == (
        "users",
        NO_IDENTITY,
        "identity_missing",
    )
    assert done.states == [{"done": True}]


def test_a_run_without_rejections_leaves_no_file(
    sandbox: Sandbox, unset: dict[str, Any], tmp_path: Path
) -> None:
    done = run_in(tmp_path, unset, GOOD)

    assert done.exit_code == 0, done.stderr
    assert not (tmp_path / DEFAULT_REJECTED_RECORDS_PATH).exists()


def test_an_empty_path_logs_each_rejected_record_at_warning_cut_at_2_kb(
    sandbox: Sandbox, unset: dict[str, Any], tmp_path: Path
) -> None:
    done = run_in(tmp_path, {**unset, "rejected_records_path": ""}, GOOD, NO_IDENTITY, HUGE)

    assert done.exit_code == 0, done.stderr
    assert list(tmp_path.glob("*.jsonl")) == []
    logged = [line for line in done.stderr.splitlines() if "record rejected" in line]
    assert len(logged) == 2
    assert "WARNING" in logged[0]
    assert "Stream 'users': record rejected (identity_missing: " in logged[0]
    assert logged[0].endswith('{"identity": "", "name": "Nameless"}')
    assert "Stream 'users': record rejected (value_too_long: " in logged[1]
    assert logged[1].endswith(f"... ({len(json.dumps(HUGE))} characters)")
    assert len(logged[1]) < 3000
    assert [p["identity"] for p in sandbox.profiles()] == ["g1"]


def test_a_default_place_that_cannot_be_written_falls_back_to_the_log(
    sandbox: Sandbox, unset: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / DEFAULT_REJECTED_RECORDS_PATH).mkdir()  # where the file would go: unwritable

    done = run_in(tmp_path, unset, GOOD, NO_IDENTITY, {**NO_IDENTITY, "name": "Other"})

    assert done.exit_code == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "cannot be written" in line]
    assert len(warnings) == 1, "said once"
    assert (
        f"{tmp_path / DEFAULT_REJECTED_RECORDS_PATH}' cannot be written (Is a directory)"
        in (warnings[0])
    )
    assert done.stderr.count("record rejected (identity_missing: ") == 2
    assert done.states == [{"done": True}]


@pytest.mark.parametrize(
    ("make_place", "problem"),
    [
        pytest.param(lambda tmp: tmp.joinpath("rejects").mkdir(), "Is a directory", id="directory"),
        pytest.param(
            lambda tmp: tmp.joinpath("rejects").write_text("a file"),
            "part of its directory's path is a file",
            id="under-a-file",
        ),
    ],
)
def test_a_chosen_place_that_cannot_be_written_stops_before_reading_input(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path, make_place: Any, problem: str
) -> None:
    make_place(tmp_path)
    chosen = (
        tmp_path / "rejects" if problem == "Is a directory" else tmp_path / "rejects" / "r.jsonl"
    )

    done = run_in(tmp_path, {**settings, "rejected_records_path": str(chosen)}, GOOD)

    assert done.exit_code != 0
    assert (
        f"Setting 'rejected_records_path' is '{chosen}', where no file can be written "
        f'({problem}): give a writable file path, or "" to log rejected records instead.'
    ) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.states == []
    assert sandbox.profiles() == [], "no input was read"


def test_a_chosen_path_gets_its_directories(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    chosen = tmp_path / "out" / "rejects" / "r.jsonl"

    done = run_in(tmp_path, {**settings, "rejected_records_path": str(chosen)}, NO_IDENTITY)

    assert done.exit_code == 0, done.stderr
    assert json.loads(chosen.read_text())["record"] == NO_IDENTITY


def test_a_record_rejected_for_its_size_is_kept_once(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    done = run_in(tmp_path, settings, HUGE)

    assert done.exit_code == 0, done.stderr
    text = Path(settings["rejected_records_path"]).read_text()
    line = json.loads(text)
    assert (line["record"], line["payload"], line["code"]) == (HUGE, None, "value_too_long")
    assert len(text) < len(json.dumps(HUGE)) + 1000


def test_the_start_check_never_creates_nor_removes_the_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two jobs started together on one rejects file: were the check to create and remove the
    # path, the other job could open it in between and write its rejected records to a file
    # no longer there.
    path = tmp_path / "rejected.jsonl"
    touched: list[str] = []
    real_open, real_unlink = rejects.os.open, rejects.os.unlink

    def watched_open(name: Any, flags: int, *args: Any) -> int:
        touched.append(str(name))
        return real_open(name, flags, *args)

    def watched_unlink(name: Any, *args: Any, **kwargs: Any) -> None:
        touched.append(str(name))
        real_unlink(name, *args, **kwargs)

    monkeypatch.setattr(rejects.os, "open", watched_open)
    monkeypatch.setattr(rejects.os, "unlink", watched_unlink)

    assert rejects._why_unwritable(path, create_parents=False) is None
    assert str(path) not in touched
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # nothing left behind
