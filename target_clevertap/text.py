"""How values are quoted in messages for people: short, whatever their size."""

from __future__ import annotations

from typing import Any


def shown(value: Any, limit: int = 80) -> str:
    """A value as it appears in a message, cut short so a huge value cannot flood a log."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
