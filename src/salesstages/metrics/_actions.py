"""Which activities move deals forward: :func:`action_conversion`.

For each open stage, the deals whose first visit to it started by ``as_of``
are split by whether they recorded an activity during that first visit; each
side's share of deals that advanced (entered a later open stage or a won
stage within ``horizon`` of that first entry) is compared as a ratio, the lift.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import DataError, DataTypeError
from ._common import load
from ._engine import Events, engine, is_ibis_table, on_table
from ._types import _one_row, _pct, _repr

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ._history import Histories

__all__ = ["ActionRow", "action_conversion", "action_rows", "check_horizon", "rows_from_counts"]

_ZERO: Final = timedelta(0)


@attrs.frozen(kw_only=True, repr=False)
class ActionRow:
    """How the deals that recorded one activity in a stage advanced, beside the rest.

    Attributes:
        stage: The open stage.
        activity: The activity's name.
        deals_with: Deals whose first visit to ``stage`` started by ``as_of`` and
            that recorded ``activity`` during that visit.
        advanced_with: Of those, the deals that advanced: entered a later open
            stage or a won stage within ``horizon`` of that first entry.
        deals_without: The other deals whose first visit to ``stage`` started by
            ``as_of``.
        advanced_without: Of those, the deals that advanced.
        rate_with: ``advanced_with / deals_with``; ``None`` when ``deals_with`` is 0.
        rate_without: ``advanced_without / deals_without``; ``None`` when
            ``deals_without`` is 0.
        lift: ``rate_with / rate_without``; ``None`` when either is ``None`` or
            ``rate_without`` is 0.
    """

    stage: str
    activity: str
    deals_with: int
    advanced_with: int
    deals_without: int
    advanced_without: int
    rate_with: float | None
    rate_without: float | None
    lift: float | None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``discovery, demo: 60.0% advanced with it (6 of 10), 40.0% without (4 of 10),
        lift 1.50``."""
        lift = "–" if self.lift is None else f"{self.lift:.2f}"
        return (
            f"{self.stage}, {self.activity}: {_pct(self.rate_with)} advanced with it "
            f"({self.advanced_with:,} of {self.deals_with:,}), {_pct(self.rate_without)} "
            f"without ({self.advanced_without:,} of {self.deals_without:,}), lift {lift}"
        )


def check_horizon(horizon: object) -> timedelta:
    """``horizon`` must be a positive ``timedelta``."""
    if not isinstance(horizon, timedelta):
        raise DataTypeError(
            f"horizon must be a timedelta (for example timedelta(days=30)), got {horizon!r}",
            field="horizon",
        )
    if horizon <= _ZERO:
        raise DataError(
            f"horizon must be a positive timedelta (how long after entering a stage a deal "
            f"may take to advance and still count, for example timedelta(days=30)), "
            f"got {horizon!r}",
            field="horizon",
        )
    return horizon


@engine(renamed={"within": "horizon"})
def action_conversion(
    events: Events,
    pipeline: Pipeline,
    *,
    horizon: timedelta,
    as_of: datetime | None = None,
) -> list[ActionRow]:
    """For each open stage and each activity recorded in it, how the deals that
    recorded it during their first visit advanced, beside the deals that did not.

    A deal counts in a stage when its first visit to the stage started at or
    before ``as_of``. It is "with" the activity when it recorded it during that
    first visit (after entering, before its next stage entry), "without"
    otherwise. It "advanced" when, after that first entry and within ``horizon``
    of it (inclusive), it entered a later open stage or a won stage. One row per
    stage and activity recorded in the stage at least once (in any visit), in
    stage order, then by activity name.

    Raises:
        DataTypeError: ``horizon`` is not a ``timedelta``.
        DataError: ``horizon`` is zero or negative.
    """
    check_horizon(horizon)
    if is_ibis_table(events):
        return on_table(action_conversion)(events, pipeline, horizon=horizon, as_of=as_of)
    return action_rows(load(events, pipeline, as_of), horizon)


def action_rows(hist: Histories, horizon: timedelta) -> list[ActionRow]:
    """:func:`action_conversion` over a fold."""
    pipeline = hist.pipeline
    opens = [s.name for s in pipeline.open_stages]
    rank = {name: i for i, name in enumerate(opens)}
    won = {s.name for s in pipeline.won_stages}
    n_open = len(opens)
    for name in won:
        rank[name] = n_open
    # per open stage: deals counted, deals advanced, and per activity the
    # deals with it and how many of those advanced
    deals = [0] * n_open
    advanced = [0] * n_open
    with_: list[dict[str, list[int]]] = [{} for _ in opens]
    for h in hist.deals.values():
        entries = h.entries
        first: dict[int, int] = {}  # stage rank → index of its first entry
        for i, (_, stage, _) in enumerate(entries):
            r = rank.get(stage)
            if r is not None and r < n_open and r not in first:
                first[r] = i
        if not first:
            continue
        acts = h.activities
        per_entry: dict[int, set[str]] = {}
        for _, name, idx in acts:
            stage_rank = rank.get(entries[idx][1])
            if stage_rank is None or stage_rank >= n_open:
                continue
            table = with_[stage_rank]
            if name not in table:
                table[name] = [0, 0]
            if first[stage_rank] == idx:
                got = per_entry.get(idx)
                if got is None:
                    per_entry[idx] = {name}
                else:
                    got.add(name)
        last = len(entries)
        for r, i in first.items():
            start = entries[i][0]
            deadline = start + horizon
            moved = False
            for j in range(i + 1, last):
                at, stage, _ = entries[j]
                if at > deadline:
                    break
                later = rank.get(stage)
                if later is not None and later > r:
                    moved = True
                    break
            deals[r] += 1
            if moved:
                advanced[r] += 1
            names = per_entry.get(i)
            if names:
                table = with_[r]
                for name in names:
                    counts = table[name]
                    counts[0] += 1
                    if moved:
                        counts[1] += 1
    return rows_from_counts(
        opens,
        dict(zip(opens, deals, strict=True)),
        dict(zip(opens, advanced, strict=True)),
        dict(zip(opens, with_, strict=True)),
    )


def rows_from_counts(
    opens: list[str],
    deals: dict[str, int],
    advanced: dict[str, int],
    with_: dict[str, dict[str, list[int]]],
) -> list[ActionRow]:
    """The rows from the counts both engines gather: per open stage the deals counted
    and those that advanced; per stage and activity recorded in it the deals with it
    and those of them that advanced (``[0, 0]`` when recorded only in later visits)."""
    out: list[ActionRow] = []
    for stage in opens:
        table = with_.get(stage) or {}
        for name in sorted(table):
            dw, aw = table[name]
            n, a = deals.get(stage, 0), advanced.get(stage, 0)
            out.append(_row(stage, name, dw, aw, n - dw, a - aw))
    return out


def _rate(advanced: int, deals: int) -> float | None:
    return advanced / deals if deals else None


def _row(stage: str, activity: str, dw: int, aw: int, dwo: int, awo: int) -> ActionRow:
    rate_with = _rate(aw, dw)
    rate_without = _rate(awo, dwo)
    lift: Any = None
    if rate_with is not None and rate_without:
        lift = rate_with / rate_without
    return ActionRow(
        stage=stage,
        activity=activity,
        deals_with=dw,
        advanced_with=aw,
        deals_without=dwo,
        advanced_without=awo,
        rate_with=rate_with,
        rate_without=rate_without,
        lift=lift,
    )
