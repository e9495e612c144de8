"""The clevertap-sandbox command: serve as a subprocess with --port-file, and show."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sandbox_helpers import Client, event, profile, subscription, token, wait_until

from target_clevertap.sandbox import Sandbox, read_profiles
from target_clevertap.sandbox.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "cli-account"
PASSCODE = "cli-SECRET-passcode"


def _start(tmp_path: Path, *arguments: str) -> tuple[subprocess.Popen[str], int]:
    port_file = tmp_path / "sandbox.port"
    environment = {
        **os.environ,
        "CLEVERTAP_SANDBOX_ACCOUNT_ID": ACCOUNT_ID,
        "CLEVERTAP_SANDBOX_PASSCODE": PASSCODE,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "target_clevertap.sandbox",
            *("--port", "0", "--port-file", str(port_file)),
            *arguments,
        ],
        cwd=REPOSITORY,
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(
        lambda: port_file.exists() or process.poll() is not None, "the port file", timeout=15
    )
    assert process.poll() is None, process.communicate()[1]
    return process, int(port_file.read_text())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_serve_writes_its_port_logs_each_request_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    database = tmp_path / "cli.db"
    process, port = _start(tmp_path, "--db", str(database))

    answer = Client(port, ACCOUNT_ID, PASSCODE).upload(profile(Name="Ana"), event("Signed Up"))
    refused = Client(port, ACCOUNT_ID, "wrong-" + PASSCODE).upload(profile())
    while_running = read_profiles(database)
    process.send_signal(stop_signal)
    _, log = process.communicate(timeout=10)

    assert (answer.status, refused.status) == (200, 401)
    assert [row["profile"] for row in while_running] == [{"Name": "Ana"}]
    assert process.returncode == 0
    assert "POST /1/upload 200 records=2 processed=2" in log
    assert "POST /1/upload 401 records=0 processed=0" in log
    assert f"listening on http://127.0.0.1:{port}" in log
    assert PASSCODE not in log
    assert "stopped" in log


def test_serve_takes_faults_from_flags(tmp_path: Path) -> None:
    process, port = _start(
        tmp_path, "--memory", "--quiet", "--fail", "503,200", "--fail-match", "type=event"
    )
    client = Client(port, ACCOUNT_ID, PASSCODE)

    statuses = [client.upload(profile()).status] + [client.upload(event()).status for _ in "ab"]
    process.terminate()
    _, log = process.communicate(timeout=10)

    assert statuses == [200, 503, 200]
    assert "POST /1/upload" not in log


def test_serve_refuses_a_bad_fault_entry_with_a_readable_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--memory", "--port", "0", "--fail", "503,bogus"])

    assert code == 2
    assert "Unknown fault 'bogus'" in capsys.readouterr().err


def test_show_prints_counts_and_the_newest_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.db"
    process, port = _start(tmp_path, "--db", str(database), "--quiet")
    client = Client(port, ACCOUNT_ID, PASSCODE)
    client.upload(profile("u-1", ts=1700000000, Name="Ana"), profile("u-2", Name="Bo"))
    client.upload({**event("Charged", Amount=5), "ts": 1700000000}, event("Viewed"))
    client.upload(event("App Launched"))
    process.terminate()
    process.communicate(timeout=10)

    code = main(["show", "--db", str(database), "--limit", "1"])

    output = capsys.readouterr().out
    assert code == 0
    assert output.splitlines()[:12] == [
        f"Sandbox database {database}",
        "profiles: 2",
        "events: 2",
        "  Charged: 1",
        "  Viewed: 1",
        "tokens: 0",
        "deletions: 0",
        "subscriptions: 0",
        "requests: 3",
        "  HTTP 200: 3",
        "",
        "Newest 1 profiles:",
    ]
    assert "  identity=u-2  " in output
    assert '{"Name": "Bo"}' in output
    assert "Newest 1 events:" in output
    assert "Z  Viewed  {}" in output


def test_show_lists_the_newest_deletions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.db"
    with Sandbox(ACCOUNT_ID, PASSCODE, db_path=database) as sandbox:
        client = Client(sandbox.port, ACCOUNT_ID, PASSCODE)
        client.upload(profile("u-1"), profile("u-2"), event(identity="u-1"))
        client.delete({"guid": "__nobody"})
        client.delete({"identity": ["u-1", "u-2", *(f"x-{n}" for n in range(5))]})
    sandbox.close()

    code = main(["show", "--db", str(database), "--limit", "1"])

    output = capsys.readouterr().out
    lines = output.splitlines()
    assert code == 0
    assert "deletions: 2" in lines
    assert "profiles: 0" in lines
    newest = lines[lines.index("Newest 1 deletions:") + 1]
    assert re.fullmatch(
        r'  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00  identity \["u-1", "u-2", "x-0", '
        r'"x-1", "x-2"\] and 2 more  removed 2 profiles, 1 events, 0 tokens',
        newest,
    )
    assert "__nobody" not in output


def test_show_lists_the_newest_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "cli.db"
    with Sandbox(ACCOUNT_ID, PASSCODE, db_path=database) as sandbox:
        client = Client(sandbox.port, ACCOUNT_ID, PASSCODE)
        client.upload(
            token("__g1", id="t-1", type="fcm"),
            {**token("__g2", id="t-2", type="apns"), "ts": 1700000000},
        )
    sandbox.close()

    code = main(["show", "--db", str(database), "--limit", "1"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "tokens: 2" in lines
    assert lines[lines.index("Newest 1 tokens:") + 1] == (
        '  objectId=__g2  2023-11-14 22:13:20Z  {"id": "t-2", "type": "apns"}'
    )


def test_show_lists_the_newest_subscriptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.db"
    with Sandbox(ACCOUNT_ID, PASSCODE, db_path=database) as sandbox:
        client = Client(sandbox.port, ACCOUNT_ID, PASSCODE)
        client.upload(profile("u-1", Phone="+14155550100"))
        client.subscribe(subscription("ana@example.com"))
        client.subscribe(subscription("+14155550100", "Resubscribe", "phone"))
    sandbox.close()

    code = main(["show", "--db", str(database), "--limit", "1"])

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "subscriptions: 2" in lines
    assert re.fullmatch(
        r"  \d{4}-\d\d-\d\dT[0-9:.]+\+00:00  batch 2  Resubscribe phone \+14155550100  "
        r"\(1 profiles\)",
        lines[lines.index("Newest 1 subscriptions:") + 1],
    )


def test_serve_takes_the_delete_budget_from_a_flag(tmp_path: Path) -> None:
    process, port = _start(
        tmp_path, "--memory", "--quiet", "--max-concurrent-other", "1", "--latency-ms", "600"
    )
    admin = Client(port)

    def deletes_in_flight() -> int:
        return int(admin.request("GET", "/_sandbox/stats").json["other_apis"]["in_flight"])

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(Client(port, ACCOUNT_ID, PASSCODE).delete, {"identity": "u-1"})
        wait_until(lambda: deletes_in_flight() == 1, "one delete in flight", timeout=10)
        second = Client(port, ACCOUNT_ID, PASSCODE).delete({"identity": "u-2"})
        first = held.result()
    process.terminate()
    process.communicate(timeout=10)

    assert (first.status, second.status) == (200, 429)


def test_show_explains_a_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["show", "--db", str(tmp_path / "none.db")])

    assert code == 2
    assert "No sandbox database at" in capsys.readouterr().err
