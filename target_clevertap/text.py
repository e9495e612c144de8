"""Text for people: values quoted short, whatever their size; a secret never shown.

`without_secret` is the one place network text (answer bodies, headers) loses the passcode, in
every form a server or proxy may echo it: as sent, JSON-escaped and URL-encoded.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_plus

HIDDEN = "(passcode)"


def shown(value: Any, limit: int = 80) -> str:
    """A value as it appears in a message, cut short so a huge value cannot flood a log."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def json_mistake(error: json.JSONDecodeError, *, with_line: bool = False) -> str:
    """Where and how JSON text went wrong, e.g. "Expecting value at line 2, column 14"."""
    where = f"line {error.lineno}, column {error.colno}" if with_line else f"column {error.colno}"
    # Some of the parser's messages already end in "at" ("Unterminated string starting at").
    joint = " " if error.msg.endswith(" at") else " at "
    return f"{error.msg}{joint}{where}"


def why_unreadable(error: OSError | UnicodeDecodeError) -> str:
    """Why a text file could not be read, for a message: the system's reason, or not UTF-8."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return "it is not UTF-8 text"


def secret_forms(secret: str) -> tuple[str, ...]:
    """The ways a secret can appear in text echoed back, longest first: as sent, and escaped
    once or twice (JSON, URL), as a server may echo headers inside a JSON string it escapes."""
    forms = {secret}
    for _ in range(2):
        forms |= {escaped for form in forms for escaped in _escapes(form)}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def _escapes(text: str) -> tuple[str, ...]:
    return (
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        quote(text, safe=""),
        quote(text),
        quote_plus(text),
    )


def without_secret(text: str, forms: tuple[str, ...]) -> str:
    """The text with every form of the secret replaced by a marker."""
    for form in forms:
        if form in text:
            text = text.replace(form, HIDDEN)
    return text
