"""How deals really travel: :func:`paths` (variants), :func:`transitions` (the
directly-follows moves with their durations) and :func:`rework` (stages entered
more than once).

A deal's *path* is the tuple of stages it entered, in ``seq`` order (a reopened
deal's path goes on after its lost stage). The three functions read nothing but
the stage entries of the fold, so their counts equal a process-mining tool's
variants, directly-follows graph and rework figures on the stage-entry log (one
event per ``stage_entered``, the stage as the activity).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, overload

import attrs

from ._common import check_by, duration_stats, load, percentile, segmented
from ._engine import Events, engine, is_ibis_table, on_table
from ._types import DurationStats, Keyed, Ratio, _days, _pct, _repr, _table

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ._history import DealHistory

__all__ = [
    "PathCounts",
    "PathRow",
    "Rework",
    "TransitionRow",
    "move_kind",
    "path_rows",
    "paths",
    "rework",
    "rework_rows",
    "transition_rows",
    "transitions",
]

#: What a move A → B is: see :class:`TransitionRow`.
MoveKind: TypeAlias = Literal["forward", "skip", "regress", "reopen", "close"]
#: Per path: ``[deals, won, lost, open, median cycle of its closed deals or None]``.
PathCounts: TypeAlias = "dict[tuple[str, ...], tuple[int, int, int, int, timedelta | None]]"

_ARROW: Final = " → "


def _check_top(top: object) -> int | None:
    if top is None:
        return None
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive whole number of paths or None, got {top!r}")
    return top


# ------------------------------------------------------------------ records
@attrs.frozen(kw_only=True, repr=False)
class PathRow:
    """One distinct path (see :func:`~salesstages.metrics.paths`).

    Attributes:
        path: The stages entered, in order (a stage entered twice appears twice).
        deals: Deals whose path this is.
        share: ``deals`` over every deal counted.
        won: Of those, the deals won at ``as_of``.
        lost: The deals lost at ``as_of``.
        open: The deals still open.
        win_rate: ``won / (won + lost)``.
        median_cycle: The median time from opening to the latest closing of its
            closed deals; ``None`` when none is closed.
    """

    path: tuple[str, ...]
    deals: int
    share: float
    won: int
    lost: int
    open: int
    win_rate: Ratio
    median_cycle: timedelta | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row: ``path`` written ``a → b → won``, the counts, ``win_rate`` as a
        number, ``median_cycle`` a timedelta."""
        return [
            {
                "path": _ARROW.join(self.path),
                "deals": self.deals,
                "share": self.share,
                "won": self.won,
                "lost": self.lost,
                "open": self.open,
                "win_rate": self.win_rate.rate,
                "median_cycle": self.median_cycle,
            }
        ]

    def __str__(self) -> str:
        """``lead → qualified → won: 12 deals (40.0%), won 75.0% (9 of 12), median
        cycle 21.0 days``."""
        return (
            f"{_ARROW.join(self.path)}: {self.deals:,} deals ({_pct(self.share)}), "
            f"won {self.win_rate}, {self.open:,} open, median cycle {_days(self.median_cycle)}"
        )


@attrs.frozen(kw_only=True, repr=False)
class TransitionRow:
    """One observed move A → B (see :func:`~salesstages.metrics.transitions`).

    Attributes:
        from_stage: The stage left (A).
        to_stage: The stage entered (B).
        kind: ``"forward"`` (to the next open stage), ``"skip"`` (to a later open
            stage over at least one), ``"regress"`` (back to an open stage no later
            than A), ``"reopen"`` (out of a lost stage), ``"close"`` (into a won or
            lost stage).
        moves: How many times a deal made this move.
        deals: How many deals made it at least once.
        durations: Of entering B minus entering A, over every move.
    """

    from_stage: str
    to_stage: str
    kind: MoveKind
    moves: int
    deals: int
    durations: DurationStats

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row: the move, its kind and counts, and the durations' columns."""
        d = self.durations
        return [
            {
                "from_stage": self.from_stage,
                "to_stage": self.to_stage,
                "kind": self.kind,
                "moves": self.moves,
                "deals": self.deals,
                "mean": d.mean,
                "median": d.median,
                "p90": d.p90,
                "min": d.min,
                "max": d.max,
            }
        ]

    def __str__(self) -> str:
        """``lead → qualified (forward): 14 moves by 12 deals, median 3.0 days``."""
        return (
            f"{self.from_stage} → {self.to_stage} ({self.kind}): {self.moves:,} moves by "
            f"{self.deals:,} deals, median {_days(self.durations.median)}"
        )


@attrs.frozen(kw_only=True, repr=False)
class Rework:
    """How often deals came back to one stage (see :func:`~salesstages.metrics.rework`).

    Attributes:
        entered: Deals that entered the stage at least once.
        reentered: Deals that entered it twice or more.
        share: ``reentered / entered``; ``None`` when nothing entered it.
        extra_visits: Σ (visits − 1) over the deals that entered it.
    """

    entered: int
    reentered: int
    share: float | None
    extra_visits: int

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [attrs.asdict(self)]

    def __str__(self) -> str:
        """``3 of 12 deals entered it again (25.0%), 4 extra visits``."""
        return (
            f"{self.reentered:,} of {self.entered:,} deals entered it again "
            f"({_pct(self.share)}), {self.extra_visits:,} extra visits"
        )


def paths_table(rows: Sequence[PathRow]) -> str:
    """The rows as a plain-text table (what the report and the how-to print)."""
    return _table(
        ["path", "deals", "share", "win rate", "median cycle"],
        (
            [
                _ARROW.join(r.path),
                f"{r.deals:,}",
                _pct(r.share),
                _pct(r.win_rate.rate),
                _days(r.median_cycle),
            ]
            for r in rows
        ),
    )


# --------------------------------------------------------------- shared rows
def path_rows(counts: PathCounts, top: int | None) -> list[PathRow]:
    """The rows from per-path counts (both engines gather the same counts): most
    deals first, then by path; the first ``top`` when given."""
    total = sum(c[0] for c in counts.values())
    order = sorted(counts, key=lambda p: (-counts[p][0], p))
    if top is not None:
        order = order[:top]
    out: list[PathRow] = []
    for path in order:
        deals, won, lost, open_, median = counts[path]
        closed = won + lost
        out.append(
            PathRow(
                path=path,
                deals=deals,
                share=deals / total,
                won=won,
                lost=lost,
                open=open_,
                win_rate=Ratio(
                    numerator=won, denominator=closed, rate=won / closed if closed else None
                ),
                median_cycle=median,
            )
        )
    return out


def move_kind(position: Mapping[str, int], outcome: Mapping[str, str], a: str, b: str) -> MoveKind:
    """The kind of the move ``a`` → ``b`` (``position``: open stages 0 … n-1)."""
    if outcome[b] != "open":
        return "close"
    if outcome[a] != "open":
        return "reopen"
    i, j = position[a], position[b]
    if j == i + 1:
        return "forward"
    return "skip" if j > i else "regress"


def transition_rows(
    pipeline: Pipeline, moves: Mapping[tuple[str, str], tuple[int, int, DurationStats]]
) -> list[TransitionRow]:
    """The rows from per-move ``(moves, deals, durations)``, in the pipeline's stage
    order of A, then of B."""
    order = {s.name: i for i, s in enumerate(pipeline.stages)}
    position = {s.name: i for i, s in enumerate(pipeline.open_stages)}
    outcome = {s.name: s.outcome for s in pipeline.stages}
    return [
        TransitionRow(
            from_stage=a,
            to_stage=b,
            kind=move_kind(position, outcome, a, b),
            moves=moves[a, b][0],
            deals=moves[a, b][1],
            durations=moves[a, b][2],
        )
        for a, b in sorted(moves, key=lambda m: (order[m[0]], order[m[1]]))
    ]


def rework_rows(
    pipeline: Pipeline, counts: Mapping[str, tuple[int, int, int]]
) -> dict[str, Rework]:
    """Per stage of the pipeline, in order, from ``(entered, reentered, extra_visits)``."""
    out: Keyed[str, Rework] = Keyed("stage")
    for s in pipeline.stages:
        entered, again, extra = counts.get(s.name, (0, 0, 0))
        out[s.name] = Rework(
            entered=entered,
            reentered=again,
            share=again / entered if entered else None,
            extra_visits=extra,
        )
    return out


# ------------------------------------------------------------------ paths
@overload
def paths(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: None = None,
    top: int | None = None,
) -> list[PathRow]: ...


@overload
def paths(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str,
    top: int | None = None,
) -> dict[Hashable, list[PathRow]]: ...


@engine
def paths(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
    top: int | None = None,
) -> list[PathRow] | dict[Hashable, list[PathRow]]:
    """One row per distinct path (the tuple of stages a deal entered, in order):
    its deals, their share, how many are won, lost and open at ``as_of``, the win
    rate and the median cycle (opening to latest closing) of its closed deals;
    most deals first, then by path.

    Args:
        events: Events, a :class:`~salesstages.metrics.Histories`, or an Ibis table.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment by this attribute's value at opening (shares within a segment).
        top: Keep only the first ``top`` paths (of each segment).

    Raises:
        ValueError: ``top`` is not a positive whole number.
        DataError: No deal has the attribute ``by``.
    """
    check_by(by)
    _check_top(top)
    if is_ibis_table(events):
        return on_table(paths)(events, pipeline, as_of=as_of, by=by, top=top)
    hist = load(events, pipeline, as_of)
    return segmented(hist.deals.values(), by, lambda deals: path_rows(_path_counts(deals), top))


def _path_counts(deals: Iterable[DealHistory]) -> PathCounts:
    tally: dict[tuple[str, ...], list[Any]] = {}
    for h in deals:
        path = tuple(stage for _, stage, _ in h.entries)
        row = tally.get(path)
        if row is None:
            row = tally[path] = [0, 0, 0, 0, []]
        row[0] += 1
        if h.outcome == "won":
            row[1] += 1
        elif h.outcome == "lost":
            row[2] += 1
        else:
            row[3] += 1
        if h.outcome != "open":
            row[4].append(h.closed_at - h.opened_at)  # type: ignore[operator]
    return {
        p: (r[0], r[1], r[2], r[3], percentile(sorted(r[4]), 0.5) if r[4] else None)
        for p, r in tally.items()
    }


# ------------------------------------------------------------- transitions
@overload
def transitions(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None, by: None = None
) -> list[TransitionRow]: ...


@overload
def transitions(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None, by: str
) -> dict[Hashable, list[TransitionRow]]: ...


@engine
def transitions(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
) -> list[TransitionRow] | dict[Hashable, list[TransitionRow]]:
    """One row per observed move A → B (every pair of consecutive stage entries of a
    deal, reopenings out of a lost stage included): its kind, how many moves and
    deals, and the durations from entering A to entering B; in stage order of A,
    then of B.

    Args:
        events: Events, a :class:`~salesstages.metrics.Histories`, or an Ibis table.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment by this attribute's value at opening.

    Raises:
        DataError: No deal has the attribute ``by``.
    """
    check_by(by)
    if is_ibis_table(events):
        return on_table(transitions)(events, pipeline, as_of=as_of, by=by)
    hist = load(events, pipeline, as_of)
    return segmented(hist.deals.values(), by, lambda deals: _transitions(pipeline, deals))


def _transitions(pipeline: Pipeline, deals: Iterable[DealHistory]) -> list[TransitionRow]:
    durations: dict[tuple[str, str], list[timedelta]] = {}
    deal_counts: dict[tuple[str, str], int] = {}
    for h in deals:
        seen: set[tuple[str, str]] = set()
        entries = h.entries
        for (a_at, a, _), (b_at, b, _) in pairwise(entries):
            key = (a, b)
            got = durations.get(key)
            if got is None:
                durations[key] = [b_at - a_at]
            else:
                got.append(b_at - a_at)
            if key not in seen:
                seen.add(key)
                deal_counts[key] = deal_counts.get(key, 0) + 1
    moves = {
        key: (len(ds), deal_counts[key], duration_stats(ds, 0)) for key, ds in durations.items()
    }
    return transition_rows(pipeline, moves)


# ------------------------------------------------------------------ rework
@engine
def rework(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None
) -> dict[str, Rework]:
    """Per stage, in the pipeline's order: the deals that entered it, those that
    entered it twice or more, their share, and the extra visits (Σ visits − 1).

    Args:
        events: Events, a :class:`~salesstages.metrics.Histories`, or an Ibis table.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
    """
    if is_ibis_table(events):
        return on_table(rework)(events, pipeline, as_of=as_of)
    hist = load(events, pipeline, as_of)
    counts: dict[str, list[int]] = {}
    for h in hist.deals.values():
        visits: dict[str, int] = {}
        for _, stage, _ in h.entries:
            visits[stage] = visits.get(stage, 0) + 1
        for stage, n in visits.items():
            c = counts.get(stage)
            if c is None:
                c = counts[stage] = [0, 0, 0]
            c[0] += 1
            if n > 1:
                c[1] += 1
                c[2] += n - 1
    return rework_rows(pipeline, {k: (v[0], v[1], v[2]) for k, v in counts.items()})
