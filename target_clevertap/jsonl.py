"""JSON for the target's own outputs: state lines and rejected records.

Numbers keep their exact digits (the Singer reader gives Decimals; stdlib json cannot write them),
and dates are written as ISO-8601 text. NaN and infinities are written as the `NaN`, `Infinity`
and `-Infinity` they were read from (Python's JSON reader takes them): a rejected record is kept
as the tap wrote it, and refusing them here would stop the run instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import simplejson


def dumps_exact(value: Any) -> str:
    """One line of JSON; Decimals written digit for digit."""
    return str(
        simplejson.dumps(
            value, use_decimal=True, default=_default, ensure_ascii=False, allow_nan=True
        )
    )


def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)
