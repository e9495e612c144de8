"""Fixtures of the end-to-end tests: real processes only (sandbox, PostgreSQL, Meltano, taps)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import Harness
from e2e_meltano import Meltano
from e2e_postgres import PostgresServer, create_source_tables
from e2e_samples import sample_events, sample_users
from e2e_sandbox import SandboxProcess


@pytest.fixture(scope="session")
def meltano() -> Meltano:
    """Meltano for the repository's project, with its plugins installed."""
    runner = Meltano.for_repo()
    runner.ensure_plugins()
    return runner


_database_numbers = itertools.count(1)


@pytest.fixture
def source_database(postgres: PostgresServer) -> str:
    """A fresh database with users/events tables holding the sample rows PostgreSQL can hold
    (every row with an id: the user without one cannot exist under a primary key)."""
    name = f"source_{next(_database_numbers)}"
    users = [row for row in sample_users() if row.get("id")]
    create_source_tables(postgres, name, users, sample_events())
    return name


def _harness(tmp_path: Path, meltano: Meltano, **faults: str | None) -> Iterator[Harness]:
    workdir = tmp_path / "sandbox"
    workdir.mkdir()
    sandbox = SandboxProcess(workdir, workdir / "sandbox.db", **faults).start()
    harness = Harness(tmp_path, sandbox, meltano, started=[sandbox])
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def harness(tmp_path: Path, meltano: Meltano) -> Iterator[Harness]:
    yield from _harness(tmp_path, meltano)


@pytest.fixture
def failing_events_harness(tmp_path: Path, meltano: Meltano) -> Iterator[Harness]:
    """The sandbox answers 503 to every upload holding an event, forever."""
    yield from _harness(tmp_path, meltano, fail_forever="503", fail_match="type=event")
