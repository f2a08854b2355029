"""Visits and time in stage: :func:`visits`, :func:`stage_durations`, and the same
for sub-states."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime, timedelta
from typing import Literal, overload

from .._pipeline import Pipeline
from ._common import (
    check_by,
    check_choice,
    check_stage,
    check_substate_stage,
    duration_stats,
    load,
    segmented,
)
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory, visit_records
from ._types import DurationStats, Keyed, SubstateVisit, Visit, _fast_init

__all__ = ["stage_durations", "substate_durations", "substate_visits", "visits"]

_PER = ("visit", "deal")


@engine
def visits(events: Events, pipeline: Pipeline, *, as_of: datetime | None = None) -> list[Visit]:
    """One :class:`Visit` per stay of a deal in an open stage.

    A stay starts with the deal's ``stage_entered`` event for the stage and
    ends with its next ``stage_entered`` (into any stage, closed ones
    included); a re-entered stage gives a new visit. A visit still running at
    ``as_of`` has ``exited_at`` and ``next_stage`` ``None``, ``is_open`` True,
    and ``duration = as_of - entered_at``. Time spent in won or lost stages is
    not a visit.

    Visits come deal by deal (in order of each deal's first event in
    ``events``), and in time order within a deal.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.

    Raises:
        NaiveTimeError: ``as_of`` has no timezone.
        InvalidLogError: An event names a stage the pipeline does not define.
    """
    if is_ibis_table(events):
        return on_table(visits)(events, pipeline, as_of=as_of)
    return visit_records(load(events, pipeline, as_of))


def _visit_durations(
    deals: list[DealHistory],
    opens: frozenset[str],
    names: tuple[str, ...],
    as_of: datetime | None,
    include_open: bool,
) -> dict[str, DurationStats]:
    durations: dict[str, list[timedelta]] = {n: [] for n in names}
    appends = {n: durations[n].append for n in names}
    get_append = appends.get
    open_count = dict.fromkeys(names, 0)
    for h in deals:
        entries = iter(h.entries)
        prev_at, prev_stage, _ = next(entries)
        for at, stage, _ in entries:
            append = get_append(prev_stage)
            if append is not None:
                append(at - prev_at)
            prev_at = at
            prev_stage = stage
        if prev_stage in opens:
            open_count[prev_stage] += 1
            if include_open:
                appends[prev_stage](as_of - prev_at)  # type: ignore[operator]
    return Keyed("stage", {n: duration_stats(durations[n], open_count[n]) for n in names})


def _deal_durations(
    deals: list[DealHistory],
    opens: frozenset[str],
    names: tuple[str, ...],
    as_of: datetime | None,
    include_open: bool,
) -> dict[str, DurationStats]:
    durations: dict[str, list[timedelta]] = {n: [] for n in names}
    open_count = dict.fromkeys(names, 0)
    for h in deals:
        total: dict[str, timedelta] = {}
        entries = h.entries
        prev_at, prev_stage, _ = entries[0]
        for at, stage, _ in entries[1:]:
            if prev_stage in opens:
                d = at - prev_at
                total[prev_stage] = total[prev_stage] + d if prev_stage in total else d
            prev_at, prev_stage = at, stage
        current = None
        if prev_stage in opens:
            current = prev_stage
            open_count[current] += 1
            d = as_of - prev_at  # type: ignore[operator]
            total[current] = total[current] + d if current in total else d
        for stage, d in total.items():
            if stage != current or include_open:
                durations[stage].append(d)
    return Keyed("stage", {n: duration_stats(durations[n], open_count[n]) for n in names})


@overload
def stage_durations(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    include_open: bool = False,
    per: Literal["visit", "deal"] = "visit",
    by: None = None,
) -> dict[str, DurationStats]: ...


@overload
def stage_durations(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    include_open: bool = False,
    per: Literal["visit", "deal"] = "visit",
    by: str,
) -> dict[Hashable, dict[str, DurationStats]]: ...


@engine
def stage_durations(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    include_open: bool = False,
    per: Literal["visit", "deal"] = "visit",
    by: str | None = None,
) -> dict[str, DurationStats] | dict[Hashable, dict[str, DurationStats]]:
    """Time spent in each open stage, as :class:`DurationStats` keyed by stage
    (every open stage, in pipeline order).

    ``per="visit"`` summarises each visit on its own; ``per="deal"`` first adds
    up each deal's visits to a stage (its cumulative time there). With
    ``include_open=False`` only completed visits count (with ``per="deal"``,
    only deals no longer in the stage); with ``include_open=True`` open ones
    count too, at their age at ``as_of``. ``open_count`` counts the open
    visits (deals in the stage now) either way. ``mean`` is rounded to the
    microsecond; ``median`` and ``p90`` interpolate linearly (numpy's default).

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
        include_open: Count open visits at their current age.
        per: ``"visit"`` or ``"deal"``.
        by: Segment by this attribute's value at opening: returns
            ``{value: {stage: DurationStats}}``.

    Raises:
        ValueError: ``per`` is not ``"visit"`` or ``"deal"``.
        NaiveTimeError: ``as_of`` has no timezone.
    """
    check_choice("per", per, _PER)
    check_by(by)
    if is_ibis_table(events):
        return on_table(stage_durations)(
            events, pipeline, as_of=as_of, include_open=include_open, per=per, by=by
        )
    hist = load(events, pipeline, as_of)
    names = tuple(s.name for s in pipeline.open_stages)
    opens = frozenset(names)
    fn = _visit_durations if per == "visit" else _deal_durations

    def compute(deals: list[DealHistory]) -> dict[str, DurationStats]:
        return fn(deals, opens, names, hist.as_of, bool(include_open))

    return segmented(hist.deals.values(), by, compute)


_make_substate_visit = _fast_init(SubstateVisit)


def _substate_visits(
    deals: Iterable[DealHistory], as_of: datetime | None, stage: str | None
) -> list[SubstateVisit]:
    out: list[SubstateVisit] = []
    make = _make_substate_visit
    for h in deals:
        subs = h.substates
        if not subs:
            continue
        entries = h.entries
        last = len(subs) - 1
        for i, (at, st, sub, idx) in enumerate(subs):
            if stage is not None and st != stage:
                continue
            end: datetime | None
            if i < last and subs[i + 1][3] == idx:
                end = subs[i + 1][0]
            elif idx + 1 < len(entries):
                end = entries[idx + 1][0]
            else:
                end = None
            if end is None:
                out.append(make(h.deal_id, st, sub, at, None, as_of - at, True))  # type: ignore[operator]
            else:
                out.append(make(h.deal_id, st, sub, at, end, end - at, False))
    return out


@engine
def substate_visits(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str | None = None,
    as_of: datetime | None = None,
) -> list[SubstateVisit]:
    """One :class:`SubstateVisit` per stay of a deal in a sub-state.

    A sub-state visit runs from its ``substate_entered`` event to the next
    sub-state entered during the same stay in the stage, or else to the end
    of that stay (the next ``stage_entered``), or else it is still open and
    lasts until ``as_of``. Time in a stage before its first sub-state is not
    part of any sub-state visit.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        stage: Only this stage's sub-states (all stages when ``None``).
        as_of: Ignore later events; defaults to the latest event time.

    Raises:
        UnknownStageError: ``stage`` is not a stage of the pipeline.
    """
    if stage is not None:
        stage = check_stage(pipeline, stage, "stage")
    if is_ibis_table(events):
        return on_table(substate_visits)(events, pipeline, stage=stage, as_of=as_of)
    hist = load(events, pipeline, as_of)
    return _substate_visits(hist.deals.values(), hist.as_of, stage)


@overload
def substate_durations(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    as_of: datetime | None = None,
    include_open: bool = False,
    by: None = None,
) -> dict[str, DurationStats]: ...


@overload
def substate_durations(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    as_of: datetime | None = None,
    include_open: bool = False,
    by: str,
) -> dict[Hashable, dict[str, DurationStats]]: ...


@engine(positional=("stage",))
def substate_durations(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    as_of: datetime | None = None,
    include_open: bool = False,
    by: str | None = None,
) -> dict[str, DurationStats] | dict[Hashable, dict[str, DurationStats]]:
    """Time spent in each sub-state of ``stage``, as :class:`DurationStats` keyed by
    sub-state (every sub-state, in order), one duration per sub-state visit
    (see :func:`substate_visits`): for example how long proposals sit in
    review compared with negotiation.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        stage: An open stage with sub-states.
        as_of: Ignore later events; defaults to the latest event time.
        include_open: Count open sub-state visits at their current age.
        by: Segment by this attribute's value at opening.

    Raises:
        UnknownStageError: ``stage`` is not a stage of the pipeline.
        ValueError: ``stage`` has no sub-states.
    """
    name, substates = check_substate_stage(pipeline, stage)
    check_by(by)
    if is_ibis_table(events):
        return on_table(substate_durations)(
            events, pipeline, stage=name, as_of=as_of, include_open=include_open, by=by
        )
    hist = load(events, pipeline, as_of)

    def compute(deals: list[DealHistory]) -> dict[str, DurationStats]:
        durations: dict[str, list[timedelta]] = {s: [] for s in substates}
        open_count = dict.fromkeys(substates, 0)
        for v in _substate_visits(deals, hist.as_of, name):
            if v.is_open:
                open_count[v.substate] += 1
                if not include_open:
                    continue
            durations[v.substate].append(v.duration)
        return Keyed(
            "substate", {s: duration_stats(durations[s], open_count[s]) for s in substates}
        )

    return segmented(hist.deals.values(), by, compute)
