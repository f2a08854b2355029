"""The report's JSON layout (``salesstages._json``): the same value as ``json.dumps``,
encoded by the C encoder container by container (issue 24)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesstages._json import dumps_indented

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_keys = (
    st.text()
    | st.integers()
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=30,
)


@given(_values)
def test_same_value_as_json_dumps(value: Any) -> None:
    assert json.loads(dumps_indented(value)) == json.loads(json.dumps(value))


def test_layout() -> None:
    """Containers of containers are spread over lines; flat ones stay on one line."""
    value = {"a": 1, "curve": [1, 2.5], "rows": [{"x": "é", "y": None}], "e": {}}
    assert dumps_indented(value) == (
        '{\n  "a": 1,\n  "curve": [1, 2.5],\n  "rows": [\n    {"x": "é", "y": null}\n  ],\n'
        '  "e": {}\n}'
    )
    assert dumps_indented({1: [[]], None: 0}, indent=1) == '{\n "1": [\n  []\n ],\n "null": 0\n}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        dumps_indented({"a": [{"b": bad}]})


def test_unencodable_refused() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"a": [{"b": object()}]})
