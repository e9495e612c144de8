"""The Singer line reader: fast parsing, and duplicate keys refused whatever the spacing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_clevertap.messages import InputError, LineCountingReader


@pytest.mark.parametrize(
    "line",
    [
        '{"a":1,"a":2}',
        '{"a": 1, "a" : 2}',
        '{"a": 1, "a"\t:2}',
        '{"a":{"b":1,"b" :2}}',
        '{"a" :1,"b": [{"c":1}, {"c" :2,"c":3}]}',
        '{"type": "RECORD", "stream": "s", "record": {"id": 1, "id": 2}}',
        '{"type":"RECORD","record":{"a":{"b":1,"b":2}}}',
        '{"a":1,\t"a":2}',
    ],
)
def test_duplicate_keys_are_refused_however_they_are_spaced(line: str) -> None:
    with pytest.raises(InputError, match="appears twice"):
        LineCountingReader().deserialize_json(line)


def test_a_message_lacking_required_keys_is_refused_naming_them() -> None:
    reader = LineCountingReader()
    reader.assert_line_requires({"type": "RECORD", "stream": "s", "record": {}}, {"stream"})

    with pytest.raises(InputError, match="the 'RECORD' message lacks 'record', 'stream', which"):
        reader.assert_line_requires({"type": "RECORD"}, {"stream", "record"})


def test_colons_inside_strings_are_not_mistaken_for_keys() -> None:
    line = '{"a": "x\\":y", "b": "\\" :", "c": [1.5]}'

    assert LineCountingReader().deserialize_json(line) == {
        "a": 'x":y',
        "b": '" :',
        "c": [Decimal("1.5")],
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(message=st.dictionaries(st.text(max_size=6), json_values, max_size=5), spaced=st.booleans())
def test_any_object_without_duplicates_reads_back_unchanged(
    message: dict[str, Any], spaced: bool
) -> None:
    separators = (" , ", " : ") if spaced else (",", ":")

    assert (
        LineCountingReader().deserialize_json(json.dumps(message, separators=separators)) == message
    )
