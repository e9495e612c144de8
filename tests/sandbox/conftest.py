from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_helpers import ACCOUNT_ID, PASSCODE, Client

from target_clevertap.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(account_id=ACCOUNT_ID, passcode=PASSCODE) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    connection = Client(sandbox.port)
    yield connection
    connection.close()
