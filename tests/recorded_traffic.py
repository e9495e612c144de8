"""Real CleverTap request/response pairs, kept with the tests in fixtures/recorded-traffic/ (its
README says where each came from and what it shows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).resolve().parent / "fixtures" / "recorded-traffic"
FILES = ("clevertap-ruby-2018.jsonl", "rudder-server-2024-513.jsonl")


def cases(*files: str) -> list[dict[str, Any]]:
    """Every recorded exchange of the given files (all of them by default), in file order."""
    return [
        json.loads(line)
        for name in files or FILES
        for line in (DIRECTORY / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
