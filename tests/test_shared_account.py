"""Several target processes share one account's budget of requests in flight (issue 15 §2).

Each process is allowed 15 requests in flight, the account only a few: every process must still
finish, with nothing failed and every record stored. How evenly and how fast they share it is
the benchmark's business (benchmarks/multiprocess.py), not this test's.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from target_clevertap.sandbox import Faults, Sandbox
from tests import singer
from tests.process import TARGET, assert_no_passcode, write_config

PROCESSES = 3
RECORDS = 600  # per process
DEADLINE_SECONDS = 60  # catches a hang, not a slow run


def test_processes_sharing_a_small_budget_all_finish_with_every_record_stored(
    sandbox: Sandbox, settings: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.set_faults(Faults(latency_ms=50, max_concurrent=2))
    # The default retry wait (1 s, doubling): with the test's 0.01 s, a process whose requests
    # keep finding the account full would give up after `max_retries` within a second or two.
    config = {**settings, "max_concurrency": 15, "batch_size_rows": 20}
    del config["retry_backoff_seconds"]
    running = []
    for number in range(PROCESSES):
        directory = tmp_path / f"process-{number}"
        directory.mkdir()
        config_path = write_config(
            directory, {**config, "rejected_records_path": str(directory / "rejected.jsonl")}
        )
        input_path = directory / "input.jsonl"
        input_path.write_text(
            singer.lines(
                singer.schema("users", singer.PROFILE_SCHEMA),
                singer.profiles("users", RECORDS, start=number * RECORDS),
                singer.state({"process": number, "done": RECORDS}),
            )
        )
        with input_path.open("rb") as singer_input:
            running.append(
                subprocess.Popen(
                    [TARGET, "--config", str(config_path)],
                    stdin=singer_input,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )

    for number, process in enumerate(running):
        out, err = process.communicate(timeout=DEADLINE_SECONDS)
        assert_no_passcode(out.decode(), err.decode(errors="replace"))
        assert process.returncode == 0, err.decode(errors="replace")[-2000:]
        assert json.loads(out.decode().splitlines()[-1]) == {"process": number, "done": RECORDS}
        assert not (tmp_path / f"process-{number}" / "rejected.jsonl").exists()

    stored = {row["identity"] for row in sandbox.profiles()}
    assert stored == {f"u{i}" for i in range(PROCESSES * RECORDS)}
    assert sandbox.stats()["requests_by_status"].get(429, 0) > 0  # the budget was really shared
