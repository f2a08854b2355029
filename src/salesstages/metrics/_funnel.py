"""How deals move down the pipeline: :func:`funnel`, :func:`conversion`,
:func:`period_conversion` and :func:`skips_and_regressions`."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime, timedelta
from typing import Literal, overload

from .._pipeline import Pipeline
from .._time import to_utc
from ._common import check_by, check_choice, check_stage, check_substate_stage, load, segmented
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory, Histories
from ._planning import period_bounds, period_view
from ._types import FunnelRow, Ratio, StageFlow

__all__ = ["conversion", "funnel", "period_conversion", "skips_and_regressions"]

_SKIPS = ("touched", "imputed", "ordered")


def _rate(num: float, den: float) -> float | None:
    return num / den if den else None


def _funnel_rows(deals: list[DealHistory], pipeline: Pipeline, skips: str) -> list[FunnelRow]:
    names = [s.name for s in pipeline.open_stages]
    n = len(names)
    # position of every stage on the funnel: open stages 0..n-1, won stages n
    position = {name: i for i, name in enumerate(names)}
    for s in pipeline.won_stages:
        position[s.name] = n
    get = position.get
    # per outcome, how many deals reached each level ("touched"), or how many
    # deals reached exactly the levels 0 .. top-1 (the other two policies)
    counts = {"won": [0] * (n + 2), "lost": [0] * (n + 2), "open": [0] * (n + 2)}
    for h in deals:
        row = counts[h.outcome]
        if skips == "imputed":
            top = 0
            for _, st, _ in h.entries:
                j = get(st, -1)
                if j >= top:
                    top = j + 1
            row[top] += 1
        elif skips == "ordered":
            touched = {get(st, -1) for _, st, _ in h.entries}
            top = 0
            while top <= n and top in touched:
                top += 1
            row[top] += 1
        else:
            for j in {get(st, -1) for _, st, _ in h.entries}:
                if j >= 0:
                    row[j] += 1
    return funnel_from_counts(counts, names, skips)


def _substate_funnel_rows(
    deals: list[DealHistory], pipeline: Pipeline, stage: str, skips: str
) -> list[FunnelRow]:
    """The funnel over the sub-states of ``stage``: level ``i`` is sub-state ``i``,
    the level after the last is "moved on" (a later open stage or a won stage
    entered after the stage)."""
    names = list(pipeline.stage(stage).substates)
    n = len(names)
    position = {name: i for i, name in enumerate(names)}
    index = pipeline.index(stage)
    beyond = {
        s.name
        for s in pipeline.stages
        if s.outcome == "won" or (s.is_open and pipeline.index(s.name) > index)
    }
    counts = {"won": [0] * (n + 2), "lost": [0] * (n + 2), "open": [0] * (n + 2)}
    for h in deals:
        first = next((i for i, (_, st, _) in enumerate(h.entries) if st == stage), -1)
        if first < 0:
            continue
        touched = {position[sub] for _, st, sub, _ in h.substates if st == stage}
        if any(st in beyond for _, st, _ in h.entries[first + 1 :]):
            touched.add(n)
        row = counts[h.outcome]
        if skips == "imputed":
            row[max(touched, default=-1) + 1] += 1
        elif skips == "ordered":
            top = 0
            while top <= n and top in touched:
                top += 1
            row[top] += 1
        else:
            for j in touched:
                row[j] += 1
    return funnel_from_counts(counts, names, skips)


def funnel_from_counts(
    counts: dict[str, list[int]], names: list[str], skips: str
) -> list[FunnelRow]:
    """The funnel rows from per-outcome counts (shared with the Ibis engine).

    ``counts[outcome]`` has ``len(names) + 2`` cells: under ``"touched"`` the
    deals that entered each level, otherwise the deals whose top level is
    exactly each index (0: none reached).
    """
    n = len(names)
    if skips != "touched":
        # suffix sums: row[i] becomes the number of deals whose top is ≥ i, so
        # level i was reached by the deals counted in row[i + 1]
        for key, row in counts.items():
            for i in range(n, -1, -1):
                row[i] += row[i + 1]
            counts[key] = row[1:]
    won, lost, still = counts["won"], counts["lost"], counts["open"]
    reached = [won[i] + lost[i] + still[i] for i in range(n + 1)]
    return [
        FunnelRow(
            stage=names[i],
            reached=reached[i],
            conversion_rate=_rate(reached[i + 1], reached[i]),
            win_rate=_rate(won[i], won[i] + lost[i]),
        )
        for i in range(n)
    ]


@overload
def funnel(
    events: Events,
    pipeline: Pipeline,
    *,
    skips: Literal["touched", "imputed", "ordered"] = "imputed",
    by: None = None,
    as_of: datetime | None = None,
    stage: str | None = None,
) -> list[FunnelRow]: ...


@overload
def funnel(
    events: Events,
    pipeline: Pipeline,
    *,
    skips: Literal["touched", "imputed", "ordered"] = "imputed",
    by: str,
    as_of: datetime | None = None,
    stage: str | None = None,
) -> dict[Hashable, list[FunnelRow]]: ...


@engine
def funnel(
    events: Events,
    pipeline: Pipeline,
    *,
    skips: Literal["touched", "imputed", "ordered"] = "imputed",
    by: str | None = None,
    as_of: datetime | None = None,
    stage: str | None = None,
) -> list[FunnelRow] | dict[Hashable, list[FunnelRow]]:
    """One :class:`FunnelRow` per open stage, in order: how many deals reached it,
    the conversion to the next, and the win rate of those that reached it.

    With ``stage=`` (a stage with sub-states), one row per sub-state of that
    stage instead, over the deals that entered the stage: ``FunnelRow.stage``
    is the sub-state, and the level after the last sub-state is "moved on"
    (a later open stage or a won stage entered after it), so the last row's
    ``conversion_rate`` is the share that left the stage forward.

    Deals skip stages, so which deals *reached* a stage is a policy:

    - ``"touched"``: deals that entered the stage.
    - ``"imputed"``: deals that entered the stage, any later open stage, or a
      won stage (a skipped stage counts as passed). ``reached`` never grows
      down the funnel.
    - ``"ordered"``: deals that entered the stage and every open stage before it.

    A won stage counts as the stage after the last open one, by the same rule.
    ``conversion_rate`` is reached(next open stage, or won after the last) /
    reached(this); under ``"touched"`` it can exceed 1. ``win_rate`` is
    won / (won + lost) by outcome now, among the deals that reached the stage.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        skips: ``"touched"``, ``"imputed"`` or ``"ordered"``.
        by: Segment by this attribute's value at opening.
        as_of: Ignore later events; defaults to the latest event time.
        stage: The funnel over this stage's sub-states.

    Raises:
        ValueError: ``skips`` is not one of the three policies, or ``stage``
            is unknown or has no sub-states.
    """
    check_choice("skips", skips, _SKIPS)
    check_by(by)
    if stage is not None:
        name, _ = check_substate_stage(pipeline, stage)
    if is_ibis_table(events):
        return on_table(funnel)(events, pipeline, skips=skips, by=by, as_of=as_of, stage=stage)
    hist = load(events, pipeline, as_of)
    if stage is not None:
        return segmented(
            hist.deals.values(),
            by,
            lambda deals: _substate_funnel_rows(deals, pipeline, name, skips),
        )
    return segmented(hist.deals.values(), by, lambda deals: _funnel_rows(deals, pipeline, skips))


def _conversion(deals: list[DealHistory], from_stage: str, to_stage: str) -> Ratio:
    entered = converted = 0
    for h in deals:
        first = -1
        for i, (_, stage, _) in enumerate(h.entries):
            if first < 0:
                if stage == from_stage:
                    first = i
                    entered += 1
            elif stage == to_stage:
                converted += 1
                break
    return Ratio(numerator=converted, denominator=entered, rate=_rate(converted, entered))


@overload
def conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    from_stage: str,
    to_stage: str,
    by: None = None,
    as_of: datetime | None = None,
) -> Ratio: ...


@overload
def conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    from_stage: str,
    to_stage: str,
    by: str,
    as_of: datetime | None = None,
) -> dict[Hashable, Ratio]: ...


@engine(positional=("from_stage", "to_stage"))
def conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    from_stage: str,
    to_stage: str,
    by: str | None = None,
    as_of: datetime | None = None,
) -> Ratio | dict[Hashable, Ratio]:
    """Cohort conversion: deals that entered ``from_stage`` and, after their first
    entry into it, entered ``to_stage``, over deals that entered ``from_stage``.

    Any two stages may be given (``to_stage`` may be a won stage). Deals still
    on their way count in the denominator, so a young cohort's rate rises as
    it matures; see :func:`period_conversion` for a calendar-window rate.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        from_stage: The stage the cohort entered.
        to_stage: The stage they went on to.
        by: Segment by this attribute's value at opening.
        as_of: Ignore later events; defaults to the latest event time.

    Raises:
        UnknownStageError: A stage name the pipeline does not define.
    """
    a = check_stage(pipeline, from_stage, "from_stage")
    b = check_stage(pipeline, to_stage, "to_stage")
    check_by(by)
    if is_ibis_table(events):
        return on_table(conversion)(events, pipeline, from_stage=a, to_stage=b, by=by, as_of=as_of)
    hist = load(events, pipeline, as_of)
    return segmented(hist.deals.values(), by, lambda deals: _conversion(deals, a, b))


@overload
def period_conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    to_stage: str | None = None,
    by: None = None,
) -> Ratio: ...


@overload
def period_conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    to_stage: str | None = None,
    by: str,
) -> dict[Hashable, Ratio]: ...


@engine(positional=("stage",))
def period_conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    to_stage: str | None = None,
    by: str | None = None,
) -> Ratio | dict[Hashable, Ratio]:
    """Period conversion: of the deals in ``stage`` at some moment of the window
    ``[start, end)``, the share that moved out of it forward within the window.

    The denominator counts deals with a visit to ``stage`` that overlaps the
    window (entered before its closing instant, not left before ``start``);
    the numerator, those among them with a move out of ``stage`` during the
    window to a later open stage or a won stage (to ``to_stage`` when given).
    The window closes at ``min(end, as_of⁺)`` (§17): events at or after
    ``end``, and after ``as_of``, are never read.

    This is the rate a manager reads for "this month" while it is happening.
    It differs from the cohort rate of :func:`conversion`, which follows the
    deals that *entered* the stage until they convert, whenever that is: the
    period rate mixes deals that entered in earlier months with new ones,
    counts a deal that converts next month as not converted this month, and
    moves with the pipeline's volume (a surge of new entries late in the
    window lowers it before they had time to move).

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        stage: An open stage.
        start: The window's start (a date, midnight UTC, or an aware datetime; included).
        end: The window's end (the same; excluded).
        as_of: Ignore later events (the window then closes just after it).
        to_stage: Count only moves into this stage.
        by: Segment by this attribute's value at opening.

    Raises:
        UnknownStageError: A stage name the pipeline does not define.
        ValueError: ``stage`` is not open, or ``end`` is not after ``start``.
        NaiveTimeError: ``start`` or ``end`` has no timezone.
    """
    name = check_stage(pipeline, stage, "stage", open_only=True)
    target = None if to_stage is None else check_stage(pipeline, to_stage, "to_stage")
    lo, hi = period_bounds(start, end)
    if hi <= lo:
        raise ValueError(
            f"end ({hi.isoformat()}) must be after start ({lo.isoformat()}); "
            "the window is [start, end)"
        )
    check_by(by)
    if is_ibis_table(events):
        return on_table(period_conversion)(
            events, pipeline, stage=name, start=lo, end=hi, as_of=as_of, to_stage=target, by=by
        )
    if isinstance(events, Histories):
        hist = period_view(load(events, pipeline, as_of), hi)
    else:
        last = hi - timedelta(microseconds=1)
        hist = load(events, pipeline, last if as_of is None else min(to_utc(as_of, "as_of"), last))
    if hist.as_of is not None:
        hi = min(hi, hist.as_of + timedelta(microseconds=1))
    forward = {s.name for s in pipeline.won_stages}
    opens = [s.name for s in pipeline.open_stages]
    forward.update(opens[opens.index(name) + 1 :])

    def compute(deals: list[DealHistory]) -> Ratio:
        present = moved = 0
        if hi <= lo:  # as_of lies before the window: nothing in it yet
            return Ratio(numerator=0, denominator=0, rate=None)
        for h in deals:
            entries = h.entries
            last = len(entries) - 1
            was_present = did_move = False
            for i, (at, st, _) in enumerate(entries):
                if st != name or at >= hi:
                    continue
                if i < last:
                    out_at, nxt = entries[i + 1][0], entries[i + 1][1]
                    if out_at < lo:
                        continue
                    was_present = True
                    if out_at < hi and (nxt == target if target is not None else nxt in forward):
                        did_move = True
                else:
                    was_present = True
            present += was_present
            moved += did_move
        return Ratio(numerator=moved, denominator=present, rate=_rate(moved, present))

    return segmented(hist.deals.values(), by, compute)


@engine
def skips_and_regressions(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[StageFlow]:
    """Per open stage, in order: how many deals entered it, skipped it (jumped over
    it from an earlier open stage to a later open stage or a won stage),
    moved backward out of it, and came back into it from a lost stage.

    Deal counts count each deal once per stage; ``skip_moves`` and
    ``regress_moves`` count every move. A deal that skipped a stage and
    entered it later counts as both skipped and entered.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
    """
    if is_ibis_table(events):
        return on_table(skips_and_regressions)(events, pipeline, as_of=as_of)
    hist = load(events, pipeline, as_of)
    names = [s.name for s in pipeline.open_stages]
    n = len(names)
    position = {name: i for i, name in enumerate(names)}
    for s in pipeline.won_stages:
        position[s.name] = n
    lost = {s.name for s in pipeline.lost_stages}
    entered = [0] * n
    skipped = [0] * n
    skip_moves = [0] * n
    regressed = [0] * n
    regress_moves = [0] * n
    reopened = [0] * n
    for h in hist.deals.values():
        d_entered: set[int] = set()
        d_skipped: set[int] = set()
        d_regressed: set[int] = set()
        d_reopened: set[int] = set()
        prev: str | None = None
        for _, st, _ in h.entries:
            j = position.get(st)
            if j is not None and j < n:
                d_entered.add(j)
            if prev is not None:
                i = position.get(prev)
                if i is not None and j is not None:
                    for k in range(i + 1, j):
                        skip_moves[k] += 1
                        d_skipped.add(k)
                    if j < i:
                        regress_moves[i] += 1
                        d_regressed.add(i)
                elif prev in lost and j is not None and j < n:
                    d_reopened.add(j)
            prev = st
        for counts, marks in (
            (entered, d_entered),
            (skipped, d_skipped),
            (regressed, d_regressed),
            (reopened, d_reopened),
        ):
            for k in marks:
                counts[k] += 1
    return [
        StageFlow(
            stage=names[k],
            entered=entered[k],
            skipped=skipped[k],
            skip_moves=skip_moves[k],
            regressed=regressed[k],
            regress_moves=regress_moves[k],
            reopened=reopened[k],
        )
        for k in range(n)
    ]
