"""Helpers shared by the metrics: argument checks, segmentation, summary statistics."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .._errors import DataError, DataTypeError
from .._pipeline import Pipeline
from .._time import to_utc
from ._engine import Events
from ._history import DealHistory, Histories, histories
from ._segments import signature, typed_segments
from ._types import DurationStats, Keyed

__all__ = [
    "amount_of",
    "amount_sum",
    "check_attribute",
    "check_by",
    "check_choice",
    "check_stage",
    "check_substate_stage",
    "duration_stats",
    "load",
    "percentile",
    "segmented",
    "unknown_attribute",
]

T = TypeVar("T")
_ZERO = timedelta(0)


def load(events: Events, pipeline: Pipeline, as_of: datetime | None) -> Histories:
    """Check the common arguments and fold the log, or take a log already folded.

    A :class:`Histories` is used as it is (no second fold) when it was built
    for ``pipeline`` and ``as_of`` is ``None`` or its own cut-off.
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            f"pipeline must be a salesstages.Pipeline, got {type(pipeline).__name__}; "
            "metrics take (events, pipeline, ...)"
        )
    if isinstance(events, Histories):
        return _folded(events, pipeline, as_of)
    if isinstance(events, str | bytes) or not isinstance(events, Iterable):
        raise TypeError(f"events must be an iterable of Event, got {type(events).__name__}")
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
    return histories(events, pipeline, as_of=as_of)


def _folded(hist: Histories, pipeline: Pipeline, as_of: datetime | None) -> Histories:
    if hist.pipeline is not pipeline and hist.pipeline != pipeline:
        raise DataError(
            f"these histories were folded for pipeline {hist.pipeline.name!r}, not for "
            f"{pipeline.name!r}; fold the log again with metrics.histories(events, pipeline)"
        )
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
        if as_of != hist.as_of:
            folded = "no cut-off (an empty log)" if hist.as_of is None else hist.as_of.isoformat()
            raise DataError(
                f"as_of={as_of.isoformat()} differs from the as_of these histories were "
                f"folded for ({folded}); leave as_of out, or fold again with "
                f"metrics.histories(events, pipeline, as_of={as_of.isoformat()!r})"
            )
    return hist


def check_by(by: object) -> str | None:
    """``by`` must be ``None`` or an attribute name."""
    if by is not None and (not isinstance(by, str) or not by):
        raise TypeError(f"by must be an attribute name (a non-empty string) or None, got {by!r}")
    return by


def unknown_attribute(name: str, known: Iterable[str], what: str = "by") -> DataError:
    """The error for an attribute name no deal holds, with a "did you mean" when one
    of ``known`` is close (shared by every metric taking ``by=``, both engines and
    the command line)."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(names) if names else "none"
    return DataError(
        f"no deal has the attribute {name!r}; {hint}the deals' attributes are: {listed}",
        field=what,
    )


def check_attribute(
    deals: Sequence[DealHistory], name: str, what: str = "by", *, opened: bool = True
) -> None:
    """``name`` must be an attribute some deal holds (at opening, or with ``opened``
    false as of its last event); an empty log passes."""
    seen: set[str] = set()
    for h in deals:
        attributes = h.opened_attributes if opened else h.attributes
        if name in attributes:
            return
        seen.update(attributes)
    if deals:
        raise unknown_attribute(name, seen, what)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` must be one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_substate_stage(pipeline: Pipeline, stage: object) -> tuple[str, tuple[str, ...]]:
    """``stage`` must be a stage of ``pipeline`` with sub-states: its name and sub-states."""
    name = check_stage(pipeline, stage, "stage")
    substates = pipeline.stage(name).substates
    if not substates:
        with_subs = [s.name for s in pipeline.stages if s.substates]
        raise ValueError(
            f"stage {name!r} has no sub-states; stages with sub-states: "
            + (", ".join(with_subs) if with_subs else "none")
        )
    return name, substates


def check_stage(pipeline: Pipeline, name: object, what: str, *, open_only: bool = False) -> str:
    """``name`` must be a stage of ``pipeline`` (an open one with ``open_only``)."""
    stage = pipeline.stage(name)  # type: ignore[arg-type]
    if open_only and not stage.is_open:
        raise ValueError(
            f"{what} must be an open stage; {stage.name!r} is a {stage.outcome} stage "
            f"(open stages: {', '.join(s.name for s in pipeline.open_stages)})"
        )
    return stage.name


def _hashable(value: Any, by: str, deal_id: str) -> Hashable:
    if isinstance(value, list):
        return tuple(value)
    try:
        hash(value)
    except TypeError:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise DataTypeError(
            f"by={by!r}: deal {deal_id!r} has {by}={shown}, a {type(value).__name__}, which "
            "cannot name a segment; segment on an attribute holding a string, number or "
            "boolean",
            field=by,
        ) from None
    return value  # type: ignore[no-any-return]


def segmented(
    deals: Iterable[DealHistory],
    by: str | None,
    compute: Callable[[list[DealHistory]], T],
) -> T | dict[Hashable, T]:
    """``compute(all deals)``, or with ``by`` a dict from each value of attribute
    ``by`` at opening (``None`` when absent) to ``compute`` over those deals,
    keys sorted (``None`` last; in order of appearance when they don't sort).

    Raises:
        DataError: No deal has the attribute ``by`` at opening (a typo, most
            likely: the message suggests the closest name).
    """
    if by is None:
        return compute(list(deals))
    listed = deals if isinstance(deals, list) else list(deals)
    check_attribute(listed, by)
    # grouped by value *and* type: 1, True and 1.0 are three segments (typed_segments)
    groups: dict[Hashable, tuple[Hashable, list[DealHistory]]] = {}
    for h in listed:
        key = h.opened_attributes.get(by)
        try:
            typed: Hashable = signature(key) if isinstance(key, tuple) else (key.__class__, key)
            entry = groups.get(typed)
        except TypeError:
            key = _hashable(key, by, h.deal_id)
            typed = signature(key)
            entry = groups.get(typed)
        if entry is None:
            groups[typed] = (key, [h])
        else:
            entry[1].append(h)
    pairs = typed_segments(groups.values())
    return Keyed(by, {k: compute(deals) for k, deals in pairs})


def amount_sum(values: Iterable[float]) -> float:
    """The exactly rounded sum of ``values`` (:func:`math.fsum`), whatever their order.

    Where ``fsum`` overflows part-way (``1e308 + 1e308 - 1e308``) the sum is taken
    exactly, in fractions; a sum beyond the largest float (about 1.8e308) is a
    :class:`DataError`, never an ``OverflowError`` or ``inf``.
    """
    listed = values if isinstance(values, list | tuple) else list(values)
    try:
        result = math.fsum(listed)
    except OverflowError:
        result = _exact_sum(listed)
    if math.isinf(result) and all(math.isfinite(v) for v in listed):
        raise _too_large()
    return result


def _exact_sum(values: Sequence[float]) -> float:
    from fractions import Fraction

    try:
        return float(sum((Fraction(v) for v in values), Fraction(0)))
    except OverflowError:
        raise _too_large() from None


def _too_large() -> DataError:
    return DataError(
        "the amounts add up to more than the largest number a float holds (about 1.8e308); "
        "check the log for amounts entered wrongly",
        field="amount",
    )


def amount_of(value: Any) -> float:
    """An ``amount`` attribute as a number: missing, ``None`` or not a number count as 0."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def percentile(ordered: Sequence[timedelta], q: float) -> timedelta:
    """The ``q`` quantile of non-empty sorted durations, by linear interpolation
    (numpy's default): position ``(n - 1) * q`` between the two nearest values."""
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    frac = h - lo
    low = ordered[lo]
    if frac == 0 or lo + 1 >= len(ordered):
        return low
    return low + (ordered[lo + 1] - low) * frac


def duration_stats(durations: list[timedelta], open_count: int) -> DurationStats:
    """Summarise ``durations`` (sorted in place)."""
    n = len(durations)
    if n == 0:
        return DurationStats(
            count=0, open_count=open_count, mean=None, median=None, p90=None, min=None, max=None
        )
    durations.sort()
    return DurationStats(
        count=n,
        open_count=open_count,
        mean=sum(durations, _ZERO) / n,
        median=percentile(durations, 0.5),
        p90=percentile(durations, 0.9),
        min=durations[0],
        max=durations[-1],
    )
