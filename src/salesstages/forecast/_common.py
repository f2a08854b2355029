"""What every forecast shares: units, checks, reprs and Σ amount × probability."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from ..metrics._common import amount_of, load
from ..metrics._engine import Events
from ..metrics._history import DealHistory, Histories

if TYPE_CHECKING:
    from .._pipeline import Pipeline


_US: Final = timedelta(microseconds=1)

_ZERO: Final = timedelta(0)

_DAY_US: Final = 86_400_000_000

_DAY: Final = timedelta(days=1)

#: The methods :func:`backtest` compares, in report order.
METHODS: Final = ("weighted", "markov", "conditional")


def _us(td: timedelta) -> int:
    """A duration in whole microseconds (exact, unlike ``total_seconds()``)."""
    return td // _US


def _td(us: float) -> timedelta:
    return _US * round(us)


def _open_amount(h: DealHistory) -> float:
    value = h.attributes.get("amount")
    if value.__class__ is float:  # the usual case, without amount_of's checks
        return value
    return amount_of(value)


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def _fields_repr(obj: Any, names: Sequence[str], extra: str = "") -> str:
    inner = ", ".join(f"{n}={_show(getattr(obj, n))}" for n in names)
    return f"{type(obj).__name__}({inner}{extra})"


def _check_horizon(horizon: Any, what: str = "horizon") -> timedelta:
    if not isinstance(horizon, timedelta) or horizon < _ZERO:
        raise ValueError(f"{what} must be a non-negative timedelta, got {horizon!r}")
    return horizon


def _hist(events: Events, pipeline: Pipeline, as_of: datetime | None) -> Histories:
    return load(events, pipeline, as_of)


def _stage_probabilities(pipeline: Pipeline) -> dict[str, float]:
    """Each open stage's configured probability (0 when it has none)."""
    return {s.name: s.probability or 0.0 for s in pipeline.open_stages}


def _expected_value(hist: Histories, prob: Mapping[str, float]) -> float:
    """Σ amount × probability of the open deal's current stage, over open deals
    (exactly rounded: the same whatever order the deals come in)."""
    return math.fsum(
        _open_amount(h) * prob[h.stage]
        for h in hist.deals.values()
        if h.outcome == "open" and prob[h.stage]
    )


def _frozen_map(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))
