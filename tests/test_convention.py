"""One signature convention (contract §16) for every public metric and forecast, and one
registered table kernel with the very same signature for each function that runs on tables."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from salesstages import forecast, metrics, presets
from salesstages.metrics import _engine

ROOT = Path(__file__).resolve().parent.parent

#: Public functions that do not read a log (their first argument is not ``events``).
NOT_LOG_READERS = frozenset(
    {
        "metrics.days_until",
        "metrics.fewer_than",
        "metrics.records",
        "metrics.session",
        "metrics.to_pandas",
        "metrics.to_polars",
        "metrics.within",
    }
)

#: The fold itself: it builds the pure-Python engine's input, so it has no table kernel
#: and is not declared with ``@engine``.
THE_FOLD = frozenset({"metrics.histories"})

#: Known exceptions to §16, each mapped to what it still lacks: "positional" (an
#: argument after ``pipeline`` taken positionally), "as_of" (no ``as_of`` although its
#: answer depends on time). Empty: every function follows it (issue 21).
PENDING: dict[str, frozenset[str]] = {}


#: Arguments after ``pipeline`` that the contract itself takes positionally (§21:
#: ``what_if(events, pipeline, alternative, *, as_of=None)``).
POSITIONAL_BY_CONTRACT: dict[str, list[str]] = {"metrics.what_if": ["alternative"]}


def _public() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {}
    for module in (metrics, forecast):
        short = module.__name__.rsplit(".", 1)[-1]
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                out[f"{short}.{name}"] = obj
    return out


PUBLIC = _public()
READERS = {k: v for k, v in PUBLIC.items() if k not in NOT_LOG_READERS}


def _pending(name: str, what: str) -> bool:
    return what in PENDING.get(name, frozenset())


def _shape(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Each parameter's name, kind and default (annotations differ: events vs a table)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_every_listed_function_exists() -> None:
    """The exception lists name only public functions (a renamed one must leave them)."""
    assert NOT_LOG_READERS | THE_FOLD | set(PENDING) <= set(PUBLIC)


@pytest.mark.parametrize("name", sorted(READERS))
def test_events_and_pipeline_then_keywords(name: str) -> None:
    """``f(events, pipeline, *, ...)``: two positional arguments, then keywords only."""
    params = list(inspect.signature(READERS[name]).parameters.values())
    assert [p.name for p in params[:2]] == ["events", "pipeline"]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[:2])
    rest = [p.name for p in params[2:] if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    if _pending(name, "positional"):
        assert rest, f"{name} follows §16 now: take it off PENDING"
    else:
        allowed = POSITIONAL_BY_CONTRACT.get(name, [])
        assert rest == allowed, f"{name}: {rest} must be keyword-only"


@pytest.mark.parametrize("name", sorted(READERS))
def test_as_of_wherever_time_matters(name: str) -> None:
    """Every function reading a log answers "as it stood then": ``as_of=None``, keyword-only."""
    param = inspect.signature(READERS[name]).parameters.get("as_of")
    if _pending(name, "as_of"):
        assert param is None, f"{name} takes as_of now: take it off PENDING"
        return
    assert param is not None, f"{name} has no as_of"
    assert param.kind is inspect.Parameter.KEYWORD_ONLY
    assert param.default is None


@pytest.mark.parametrize("name", sorted(READERS))
def test_shared_names_are_keyword_only(name: str) -> None:
    """``by``, ``stage``, ``start``, ``end``, ``outcome``, ``horizon`` and ``dates`` are
    keyword-only wherever they appear, and nothing is still called ``within``."""
    params = inspect.signature(READERS[name]).parameters
    assert "within" not in params
    assert "attributes" not in params
    if _pending(name, "positional"):
        return
    for shared in ("by", "stage", "start", "end", "outcome", "horizon", "dates"):
        if shared in params:
            assert params[shared].kind is inspect.Parameter.KEYWORD_ONLY, (name, shared)


@pytest.mark.parametrize("name", sorted(set(READERS) - THE_FOLD))
def test_declared_with_its_engines(name: str) -> None:
    """Every log reader is declared with ``@engine``: with a table kernel of the very same
    signature, or as events-only (and then listed in docs/explanation/engines.md)."""
    fn = READERS[name]
    declared = _engine.declared()
    assert fn in declared, f"{name} is not declared with @engine"
    kernels = _engine.table_kernels()
    if declared[fn]:
        assert fn in kernels, f"{name} declares a table engine but none is registered"
        assert _shape(kernels[fn]) == _shape(fn)
    else:
        assert fn not in kernels
        page = (ROOT / "docs" / "explanation" / "engines.md").read_text(encoding="utf-8")
        assert f"`{name}`" in page, f"{name} runs on events only: list it in engines.md"


def test_every_kernel_belongs_to_a_public_function() -> None:
    """No kernel is registered for anything but a public metric or forecast."""
    assert set(_engine.table_kernels()) <= set(READERS.values())


def test_a_kernel_registers_once() -> None:
    """Registering a second kernel for a function, or one for an undeclared function,
    is refused."""
    with pytest.raises(TypeError, match="already has a table kernel"):
        _engine.table_kernel(metrics.funnel)(lambda events, pipeline: None)
    with pytest.raises(TypeError, match="not declared with a table engine"):
        _engine.table_kernel(metrics.histories)(lambda events, pipeline: None)


@pytest.mark.parametrize("name", sorted(set(READERS) - THE_FOLD))
def test_unknown_keyword_lists_the_accepted_ones(name: str) -> None:
    """An unknown keyword is a TypeError listing the accepted keywords, before any work."""
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'nope'; it accepts: events"):
        READERS[name]([], None, nope=1)


_JAN = (date(2026, 1, 1), date(2026, 2, 1))
_JAN_UTC = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
_WEEK = timedelta(days=7)
_PERIOD = {"start": _JAN[0], "end": _JAN[1]}

#: For each planning function (issue 21: arguments checked once, before dispatch): a
#: call (after ``events, pipeline``), the arguments its table kernel receives (checked:
#: dates as aware UTC datetimes, backtest dates sorted, targets as floats), a bad call
#: and the error it raises on both engines.
_CHECKED_ONCE: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = {
    "metrics.movement": (
        {**_PERIOD, "by": "owner"},
        {"start": _JAN_UTC[0], "end": _JAN_UTC[1], "as_of": None, "by": "owner"},
        {"start": _JAN[1], "end": _JAN[0]},
        "lies before start",
    ),
    "metrics.period_status": (
        _PERIOD,
        {"start": _JAN_UTC[0], "end": _JAN_UTC[1], "as_of": None},
        {"start": "2026-01-01", "end": _JAN[1]},
        "start must be a date",
    ),
    "metrics.slippage": (
        _PERIOD,
        {"start": _JAN_UTC[0], "end": _JAN_UTC[1], "as_of": None},
        {"start": _JAN[0]},
        "give both start= and end=",
    ),
    "forecast.categories": (
        _PERIOD,
        {"start": _JAN_UTC[0], "end": _JAN_UTC[1], "as_of": None},
        {"start": _JAN[0], "end": datetime(2026, 2, 1)},  # naive: refused
        "end",
    ),
    "forecast.coverage": (
        {**_PERIOD, "target": {"ana": 10}, "by": "owner"},
        {
            **dict(zip(("start", "end"), _JAN_UTC, strict=True)),
            "target": {"ana": 10.0},
            "as_of": None,
            "by": "owner",
        },
        {**_PERIOD, "target": -1},
        "finite number >= 0",
    ),
    "forecast.backtest": (
        {"dates": [_JAN_UTC[1], _JAN_UTC[0], _JAN_UTC[1]], "horizon": _WEEK},
        {"dates": list(_JAN_UTC), "horizon": _WEEK, "as_of": None},
        {"dates": [], "horizon": _WEEK},
        "at least one date",
    ),
}


@pytest.mark.parametrize("name", sorted(_CHECKED_ONCE))
def test_planning_arguments_checked_before_dispatch(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planning functions check their arguments once, in the public function: the
    table kernel receives them checked, and a bad argument is refused on a table with
    the same error as on events, before the kernel runs."""
    ibis = pytest.importorskip("ibis")
    fn = PUBLIC[name]
    _engine.table_kernels()  # load the kernels before replacing one
    seen: list[dict[str, Any]] = []

    def kernel(events: Any, pipeline: Any, **kwargs: Any) -> str:
        seen.append(kwargs)
        return "kernel"

    monkeypatch.setitem(_engine._KERNELS, fn, kernel)
    table = ibis.memtable({"deal_id": ["D-1"]})
    pipeline = presets.inbound_b2b()
    call, received, bad, message = _CHECKED_ONCE[name]
    assert fn(table, pipeline, **call) == "kernel"
    assert seen == [received]
    assert all(v.tzinfo is UTC for v in seen[0].values() if isinstance(v, datetime))
    errors = []
    for events in ([], table):
        with pytest.raises((ValueError, TypeError), match=message) as raised:
            fn(events, pipeline, **bad)
        errors.append(type(raised.value))
    assert errors[0] is errors[1]
    assert len(seen) == 1
