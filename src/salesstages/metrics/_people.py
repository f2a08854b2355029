"""Who moves deals: :func:`handovers` (an attribute changing hands on open deals)
and :func:`scorecard` (each owner's stage conversion, shrunk toward the team's).

Both read the attribute (``owner`` by default) as it stood at each event: a
stage visit is credited to its value at the visit's entry, a closing to its
value at the closing. The fold (:class:`~salesstages.metrics.Histories`) keeps
only the attributes at opening and at the end, so these two functions read the
events themselves (on a table, the backend does).

The shrinkage is the beta-binomial one of contract §20: per stage, with team
rate ``p = Σadvanced / Σentered``, ``n̄`` the mean of ``entered`` over owners,
``s² = Σ entered·(rate − p)² / Σ entered`` and ``τ² = s² − p(1 − p)/n̄``, the prior
strength is ``k = p(1 − p)/τ² − 1`` clipped to [0, 1000] (1000 when ``τ² <= 0``:
owners differ no more than chance says) unless given, and an owner's shrunk rate
is ``(advanced + k·p) / (entered + k)``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs

from .._errors import DataError, DataTypeError
from .._replay import group_events
from .._stats import wilson_interval, z_value
from .._time import to_utc
from ._common import amount_of, load, percentile, unknown_attribute
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory, Histories
from ._types import _days, _label, _pct, _repr, _table

if TYPE_CHECKING:
    from .._events import Event
    from .._pipeline import Pipeline

__all__ = [
    "Handover",
    "Scorecard",
    "ScorecardRow",
    "VisitFacts",
    "cards",
    "check_attribute_name",
    "check_prior",
    "handover_rows",
    "handovers",
    "period",
    "prior_of",
    "scorecard",
    "scorecard_rows",
]

#: The cap of the prior strength (and its value when owners differ no more than chance).
MAX_PRIOR: Final = 1000.0


# ------------------------------------------------------------------ records
@attrs.frozen(kw_only=True, repr=False)
class Handover:
    """Deals handed from one value of the attribute to another in one stage (see
    :func:`~salesstages.metrics.handovers`).

    Attributes:
        from_value: The attribute's value before the change (``None``: unset).
        to_value: Its value after.
        stage: The open stage the deal was in.
        count: How many such changes there were.
        waiting: Of those, how many are still waiting for the deal's next move.
        median_wait: The median time from the change to the deal's next stage
            entry, over the changes followed by one; ``None`` when none was.
    """

    from_value: Any
    to_value: Any
    stage: str
    count: int
    waiting: int
    median_wait: timedelta | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [attrs.asdict(self)]

    def __str__(self) -> str:
        """``ana → bob in discovery: 3 handovers, next move after 2.0 days (median)``."""
        waiting = f", {self.waiting:,} still waiting" if self.waiting else ""
        return (
            f"{_label(self.from_value)} → {_label(self.to_value)} in {self.stage}: "
            f"{self.count:,} handovers, next move after {_days(self.median_wait)} "
            f"(median){waiting}"
        )


@attrs.frozen(kw_only=True, repr=False)
class ScorecardRow:
    """One owner in one stage (see :func:`~salesstages.metrics.scorecard`).

    Attributes:
        owner: The attribute's value at the visits' entry (``None``: unset).
        stage: The open stage.
        entered: Visits to the stage credited to the owner.
        advanced: Of those, the visits that left to a later open stage or a won stage.
        rate: ``advanced / entered``.
        low, high: The Wilson interval of ``rate`` at the asked level.
        shrunk: The rate shrunk toward the team's (see the module docstring).
        rank: 1 for the highest ``shrunk`` in the stage (ties by owner).
        team_rate: The stage's rate over every owner.
        prior_strength: The ``k`` used in the stage.
        median_time: The median time of the owner's completed visits to the stage.
        team_median_time: The same over every owner.
        win_rate: Of the deals the owner held when they closed (in the period),
            the share won; ``None`` when none closed.
        median_cycle: The median opening-to-closing time of those won.
        mean_won: The mean amount at closing of those won.
    """

    owner: Any
    stage: str
    entered: int
    advanced: int
    rate: float
    low: float
    high: float
    shrunk: float
    rank: int
    team_rate: float
    prior_strength: float
    median_time: timedelta | None
    team_median_time: timedelta | None
    win_rate: float | None
    median_cycle: timedelta | None
    mean_won: float | None

    __repr__ = _repr

    @property
    def differs(self) -> bool:
        """Whether the team's rate lies outside the owner's interval."""
        return not self.low <= self.team_rate <= self.high

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [attrs.asdict(self)]

    def __str__(self) -> str:
        """``#1 ana in discovery: shrunk 58.1%, 62.5% (5 of 8) [30.6%, 86.3%], team
        45.0%: not different from the team``."""
        verdict = "above the team" if self.low > self.team_rate else "below the team"
        if not self.differs:
            verdict = "not different from the team"
        return (
            f"#{self.rank} {_label(self.owner)} in {self.stage}: shrunk {_pct(self.shrunk)}, "
            f"{_pct(self.rate)} ({self.advanced:,} of {self.entered:,}) "
            f"[{_pct(self.low)}, {_pct(self.high)}], team {_pct(self.team_rate)}: {verdict}"
        )


class Scorecard(list[ScorecardRow]):
    """The rows of :func:`~salesstages.metrics.scorecard` (a plain list in every
    other way) that print as a leaderboard per stage."""

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        """One row per owner and stage."""
        return [row for r in self for row in r.to_records()]

    def __str__(self) -> str:
        """Per stage, the owners by shrunk rate, each marked when its interval holds
        the team's rate ("not different from the team")."""
        if not self:
            return "(no visits)"
        blocks: list[str] = []
        stages = list(dict.fromkeys(r.stage for r in self))
        for stage in stages:
            rows = [r for r in self if r.stage == stage]
            head = (
                f"{stage}: team {_pct(rows[0].team_rate)}, prior strength "
                f"{rows[0].prior_strength:,.1f}"
            )
            table = _table(
                ["rank", "owner", "shrunk", "rate", "interval", "visits", "vs team"],
                (
                    [
                        str(r.rank),
                        _label(r.owner),
                        _pct(r.shrunk),
                        _pct(r.rate),
                        f"{_pct(r.low)} – {_pct(r.high)}",
                        f"{r.advanced:,} of {r.entered:,}",
                        ("above" if r.low > r.team_rate else "below")
                        if r.differs
                        else "not different from the team",
                    ]
                    for r in rows
                ),
            )
            blocks.append(f"{head}\n{table}")
        return "\n\n".join(blocks)


# --------------------------------------------------------------- arguments
def check_attribute_name(attribute: object) -> str:
    """``attribute`` must be a non-empty string."""
    if not isinstance(attribute, str) or not attribute:
        raise DataTypeError(
            f"attribute must be an attribute name (a non-empty string), got {attribute!r}",
            field="attribute",
        )
    return attribute


def check_prior(prior_strength: object) -> float | None:
    """``prior_strength`` must be ``None`` or a finite number ≥ 0."""
    if prior_strength is None:
        return None
    if isinstance(prior_strength, bool) or not isinstance(prior_strength, int | float):
        raise DataTypeError(
            f"prior_strength must be a number of pseudo-visits (≥ 0) or None, got "
            f"{prior_strength!r}",
            field="prior_strength",
        )
    if not math.isfinite(prior_strength) or prior_strength < 0:
        raise DataError(
            f"prior_strength must be a finite number ≥ 0 (how many visits at the team's "
            f"rate each owner starts with; None estimates it), got {prior_strength!r}",
            field="prior_strength",
        )
    return float(prior_strength)


def _bound(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value, what)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise DataTypeError(
        f"{what} must be a date (midnight UTC), a timezone-aware datetime or None, got {value!r}",
        field=what,
    )


def period(start: object, end: object) -> tuple[datetime | None, datetime | None]:
    """``start`` and ``end`` as aware UTC datetimes or ``None`` (a date is midnight UTC)."""
    lo, hi = _bound(start, "start"), _bound(end, "end")
    if lo is not None and hi is not None and hi < lo:
        raise DataError(
            f"end={hi.isoformat()} lies before start={lo.isoformat()}; a period runs from "
            "start to a later (or the same) end",
            field="end",
        )
    return lo, hi


def prior_of(entered: Sequence[int], advanced: Sequence[int], given: float | None) -> float:
    """The prior strength ``k`` of one stage from each owner's counts (§20)."""
    if given is not None:
        return given
    total = sum(entered)
    p = sum(advanced) / total
    n_bar = total / len(entered)
    s2 = sum(n * (a / n - p) ** 2 for n, a in zip(entered, advanced, strict=True)) / total
    tau2 = s2 - p * (1 - p) / n_bar
    if tau2 <= 0:
        return MAX_PRIOR
    return min(max(p * (1 - p) / tau2 - 1, 0.0), MAX_PRIOR)


# ------------------------------------------------------------------ the walk
#: One visit as both engines gather it: ``(owner, stage, advanced, time in stage or
#: None while open)``.
VisitFacts: TypeAlias = tuple[Hashable, str, bool, "timedelta | None"]
#: One closing: ``(owner, won, cycle, amount at closing)``.
CloseFacts: TypeAlias = tuple[Hashable, bool, timedelta, float]


class _Walk:
    """The events of every deal folded, read with the attribute's value at each entry."""

    def __init__(self, events: Events, pipeline: Pipeline, attribute: str, as_of: Any) -> None:
        if isinstance(events, Histories):
            raise DataError(
                "handovers and scorecard read the attribute's changes, which a Histories "
                "does not keep (only the attributes at opening and now): pass the events"
            )
        evs: list[Event] = list(events) if not isinstance(events, list) else events
        self.hist = load(evs, pipeline, as_of)
        self.attribute = attribute
        self.groups = group_events(evs) if self.hist.deals else {}
        self._check()

    def _check(self) -> None:
        seen: set[str] = set()
        name = self.attribute
        for evs in self.groups.values():
            for e in evs:
                if e.kind in ("opened", "updated"):
                    if name in e.data:
                        return
                    seen.update(e.data)
        if self.hist.deals:
            raise unknown_attribute(name, seen, "attribute")

    def deals(
        self,
    ) -> Iterable[tuple[DealHistory, list[Hashable], list[tuple[datetime, Any, Any, int]]]]:
        """Per deal kept: its history, the attribute's value at each stage entry, and
        each change while open: ``(at, old, new, index of the entry it happened in)``."""
        cut = self.hist.as_of
        name = self.attribute
        opens = {s.name for s in self.hist.pipeline.open_stages}
        for deal_id, h in self.hist.deals.items():
            value: Any = None
            at_entry: list[Hashable] = []
            changes: list[tuple[datetime, Any, Any, int]] = []
            stage: str | None = None
            for e in self.groups[deal_id]:
                if cut is not None and e.at > cut:
                    break
                if e.kind == "stage_entered":
                    at_entry.append(_key(value))
                    stage = e.stage
                elif e.kind in ("opened", "updated") and name in e.data:
                    new = e.data[name]
                    if new != value and stage in opens and at_entry:
                        changes.append((e.at, _key(value), _key(new), len(at_entry) - 1))
                    value = new
            yield h, at_entry, changes


def _key(value: Any) -> Hashable:
    if isinstance(value, list):
        return tuple(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value  # type: ignore[no-any-return]


def _sort_key(value: Any) -> tuple[bool, str]:
    return (value is None, str(value))


# ------------------------------------------------------------------ handovers
@engine
def handovers(
    events: Events,
    pipeline: Pipeline,
    *,
    attribute: str = "owner",
    as_of: datetime | None = None,
) -> list[Handover]:
    """Every change of ``attribute`` on an open deal, grouped by the value before, the
    value after and the stage the deal was in: how many, and the median time the deal
    then waited for its next stage entry. Most changes first, then by stage order.

    Args:
        events: Events or an Ibis table (a Histories does not keep the changes).
        pipeline: The pipeline the events follow.
        attribute: The attribute that changes hands (``"owner"``).
        as_of: Ignore later events; defaults to the latest event time.

    Raises:
        DataError: No deal holds ``attribute`` (the message suggests a close name),
            or ``events`` is a Histories.
    """
    check_attribute_name(attribute)
    if is_ibis_table(events):
        return on_table(handovers)(events, pipeline, attribute=attribute, as_of=as_of)
    walk = _Walk(events, pipeline, attribute, as_of)
    facts: list[tuple[Hashable, Hashable, str, timedelta | None]] = []
    for h, _, changes in walk.deals():
        entries = h.entries
        for at, old, new, idx in changes:
            wait = entries[idx + 1][0] - at if idx + 1 < len(entries) else None
            facts.append((old, new, entries[idx][1], wait))
    return handover_rows(pipeline, facts)


def handover_rows(
    pipeline: Pipeline, facts: Iterable[tuple[Hashable, Hashable, str, timedelta | None]]
) -> list[Handover]:
    """The rows from each change's ``(from, to, stage, wait or None)``."""
    groups: dict[tuple[Hashable, Hashable, str], list[timedelta | None]] = {}
    for old, new, stage, wait in facts:
        groups.setdefault((old, new, stage), []).append(wait)
    order = {s.name: i for i, s in enumerate(pipeline.stages)}
    out = []
    for (old, new, stage), waits in groups.items():
        done = sorted(w for w in waits if w is not None)
        out.append(
            Handover(
                from_value=old,
                to_value=new,
                stage=stage,
                count=len(waits),
                waiting=len(waits) - len(done),
                median_wait=percentile(done, 0.5) if done else None,
            )
        )
    out.sort(
        key=lambda r: (-r.count, order[r.stage], _sort_key(r.from_value), _sort_key(r.to_value))
    )
    return out


# ------------------------------------------------------------------ scorecard
@engine
def scorecard(
    events: Events,
    pipeline: Pipeline,
    *,
    attribute: str = "owner",
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    as_of: datetime | None = None,
    level: float = 0.95,
    prior_strength: float | None = None,
) -> Scorecard:
    """Per owner and open stage: the visits entered in ``[start, end)`` credited to the
    owner at the entry, those that advanced (left to a later open stage or a won
    stage), the raw rate with its Wilson interval, the rate shrunk toward the team's
    (beta-binomial, see the module docstring) and the rank by it; the median time in
    the stage beside the team's; and per owner the win rate, median won cycle and
    mean won amount of the deals they held at closing (closed in the period).
    Rows in stage order, then by rank.

    Args:
        events: Events or an Ibis table (a Histories does not keep the changes).
        pipeline: The pipeline the events follow.
        attribute: Who is credited (``"owner"``).
        start, end: Count visits entered (and closings) in ``[start, end)``; a date
            is midnight UTC; ``None`` leaves that side open.
        as_of: Ignore later events; defaults to the latest event time.
        level: The confidence level of the intervals, in (0, 1).
        prior_strength: The ``k`` of the shrinkage (pseudo-visits at the team's
            rate); ``None`` estimates it per stage.

    Raises:
        ValueError: ``prior_strength`` is negative or not finite, ``level`` is not
            in (0, 1), or ``end`` lies before ``start``.
        DataError: No deal holds ``attribute``, or ``events`` is a Histories.
    """
    check_attribute_name(attribute)
    k = check_prior(prior_strength)
    z_value(level)
    lo, hi = period(start, end)
    if is_ibis_table(events):
        return on_table(scorecard)(
            events,
            pipeline,
            attribute=attribute,
            start=lo,
            end=hi,
            as_of=as_of,
            level=level,
            prior_strength=k,
        )
    walk = _Walk(events, pipeline, attribute, as_of)
    position = {s.name: i for i, s in enumerate(pipeline.open_stages)}
    n_open = len(position)
    for s in pipeline.won_stages:
        position[s.name] = n_open
    visits: list[VisitFacts] = []
    closings: list[CloseFacts] = []
    for h, at_entry, _ in walk.deals():
        entries = h.entries
        last = len(entries) - 1
        for i, (at, stage, _) in enumerate(entries):
            here = position.get(stage)
            if here is None or here >= n_open or not _inside(at, lo, hi):
                continue
            if i < last:
                nxt_at, nxt, _ = entries[i + 1]
                to = position.get(nxt)
                visits.append((at_entry[i], stage, to is not None and to > here, nxt_at - at))
            else:
                visits.append((at_entry[i], stage, False, None))
        if h.outcome != "open" and _inside(h.closed_at, lo, hi):  # type: ignore[arg-type]
            closings.append(
                (
                    at_entry[last],
                    h.outcome == "won",
                    h.closed_at - h.opened_at,  # type: ignore[operator]
                    amount_of(h.closed_amount),
                )
            )
    return scorecard_rows(pipeline, visits, closings, level, k)


def _inside(at: datetime, lo: datetime | None, hi: datetime | None) -> bool:
    return (lo is None or at >= lo) and (hi is None or at < hi)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _median(values: list[timedelta]) -> timedelta | None:
    return percentile(sorted(values), 0.5) if values else None


def scorecard_rows(
    pipeline: Pipeline,
    visits: Iterable[VisitFacts],
    closings: Iterable[CloseFacts],
    level: float,
    prior_strength: float | None,
) -> Scorecard:
    """The rows from each visit's and each closing's facts (the pure-Python engine)."""
    cells: dict[tuple[str, Hashable], list[Any]] = {}
    for owner, stage, advanced, time in visits:
        cell = cells.get((stage, owner))
        if cell is None:
            cell = cells[stage, owner] = [0, 0, []]
        cell[0] += 1
        cell[1] += advanced
        if time is not None:
            cell[2].append(time)
    per_owner: dict[Hashable, list[Any]] = {}
    for owner, won, cycle, amount in closings:
        mine = per_owner.setdefault(owner, [0, 0, [], []])
        mine[0] += 1
        if won:
            mine[1] += 1
            mine[2].append(cycle)
            mine[3].append(amount)
    team: dict[str, timedelta | None] = {}
    for s in pipeline.open_stages:
        team[s.name] = _median([t for (st, _), c in cells.items() if st == s.name for t in c[2]])
    return cards(
        pipeline,
        {key: (c[0], c[1], _median(c[2])) for key, c in cells.items()},
        team,
        {o: (c[0], c[1], _median(c[2]), _mean(c[3])) for o, c in per_owner.items()},
        level,
        prior_strength,
    )


#: Per (stage, owner): ``(entered, advanced, median time of the completed visits)``.
Cells: TypeAlias = "dict[tuple[str, Hashable], tuple[int, int, timedelta | None]]"
#: Per owner: ``(closed, won, median won cycle, mean won amount)``.
Owners: TypeAlias = "dict[Hashable, tuple[int, int, timedelta | None, float | None]]"


def cards(
    pipeline: Pipeline,
    cells: Cells,
    team_times: dict[str, timedelta | None],
    owners_closed: Owners,
    level: float,
    prior_strength: float | None,
) -> Scorecard:
    """The rows from the counts both engines gather."""
    out = Scorecard()
    for s in pipeline.open_stages:
        owners = sorted((o for st, o in cells if st == s.name), key=_sort_key)
        if not owners:
            continue
        entered = [cells[s.name, o][0] for o in owners]
        moved = [cells[s.name, o][1] for o in owners]
        p = sum(moved) / sum(entered)
        k = prior_of(entered, moved, prior_strength)
        shrunk = {o: (a + k * p) / (n + k) for o, n, a in zip(owners, entered, moved, strict=True)}
        ranked = sorted(owners, key=lambda o: -shrunk[o])  # stable: ties keep the owners' order
        for rank, o in enumerate(ranked, 1):
            n, a, median_time = cells[s.name, o]
            low, high = wilson_interval(a, n, level)
            closed = owners_closed.get(o)
            out.append(
                ScorecardRow(
                    owner=o,
                    stage=s.name,
                    entered=n,
                    advanced=a,
                    rate=a / n,
                    low=low,
                    high=high,
                    shrunk=shrunk[o],
                    rank=rank,
                    team_rate=p,
                    prior_strength=k,
                    median_time=median_time,
                    team_median_time=team_times.get(s.name),
                    win_rate=closed[1] / closed[0] if closed else None,
                    median_cycle=closed[2] if closed else None,
                    mean_won=closed[3] if closed else None,
                )
            )
    return out
