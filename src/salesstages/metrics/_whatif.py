"""What would a rule have done? (CONTRACT §21): :func:`what_if`.

Each deal's history is replayed through an ``alternative`` pipeline (the same
stage names, other entry criteria or allowed moves); the events are never
changed. A deal is *stopped* at its first move that the alternative refuses
(its entry criteria evaluated as in §4 on the deal's events before that move,
or the move not allowed) while the current pipeline took it. The stopped and
the passed deals are then summed up: how many, how they ended (win rate with a
Wilson interval), the amount they won and their median cycle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import PipelineError, SalesStagesError
from .._events import Event
from .._stats import wilson_interval
from .._time import to_utc
from ._common import load, percentile
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory, Histories
from ._planning import amount_at
from ._types import _amount, _days, _fields_row, _pct, _repr, _table

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "StoppedDeal",
    "WhatIf",
    "WhatIfGroup",
    "check_alternative",
    "stopped_moves",
    "summarise_groups",
    "what_if",
]

#: The replay rules that stop a deal: the move's entry criteria, or the move itself.
STOPPING_RULES: Final = frozenset({"entry_criteria", "move_not_allowed"})


@attrs.frozen(kw_only=True, repr=False)
class StoppedDeal:
    """A deal the alternative would have stopped (see :func:`what_if`).

    Attributes:
        deal_id: The deal.
        seq: The ``seq`` of the first move the alternative refuses.
        stage: The stage (or sub-state's stage) that move entered.
        unmet: Why the alternative refuses it: the unmet entry criteria, or
            that the move is not allowed.
        outcome: How the deal actually stands at ``as_of``: ``"won"``,
            ``"lost"`` or ``"open"``.
        amount: Its amount (at winning for a won deal, else now).
    """

    deal_id: str
    seq: int
    stage: str
    unmet: str
    outcome: str
    amount: float

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [_fields_row(self)]

    def __str__(self) -> str:
        return f"{self.deal_id} at seq {self.seq} → {self.stage}: {self.unmet} ({self.outcome})"


@attrs.frozen(kw_only=True, repr=False)
class WhatIfGroup:
    """The stopped, or the passed, deals summed up.

    Attributes:
        deals: How many deals.
        won: Of those, won at ``as_of``.
        lost: Lost at ``as_of``.
        win_rate: ``won / (won + lost)``; ``None`` when none closed.
        low: The lower end of the 95 % Wilson interval of ``win_rate``.
        high: Its upper end.
        won_amount: The amount they won (each at its amount at winning).
        median_cycle: The median time from opening to winning of the won ones;
            ``None`` when none won.
    """

    deals: int
    won: int
    lost: int
    win_rate: float | None
    low: float | None
    high: float | None
    won_amount: float
    median_cycle: timedelta | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [_fields_row(self)]

    def __str__(self) -> str:
        return (
            f"{self.deals:,} deals, {self.won:,} won, {self.lost:,} lost, win rate "
            f"{_pct(self.win_rate)} ({_pct(self.low)}–{_pct(self.high)}), won "
            f"{_amount(self.won_amount)}, median cycle {_days(self.median_cycle)}"
        )


@attrs.frozen(kw_only=True, repr=False)
class WhatIf:
    """What the alternative pipeline would have done to the log (see :func:`what_if`).

    Attributes:
        stopped: The deals it would have stopped, summed up.
        passed: The other deals, summed up.
        stopped_deals: One :class:`StoppedDeal` per stopped deal, by deal id.
        won_share: The share of the won amount that came from deals it would
            have stopped; ``None`` when nothing was won.
        note: On a table: how many deals' events were read to replay them
            (the others made no move, so nothing could stop them); else ``None``.
    """

    stopped: WhatIfGroup
    passed: WhatIfGroup
    stopped_deals: tuple[StoppedDeal, ...]
    won_share: float | None
    note: str | None = None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row per group (``group``: ``"stopped"`` or ``"passed"``)."""
        return [
            {"group": "stopped", **_fields_row(self.stopped)},
            {"group": "passed", **_fields_row(self.passed)},
        ]

    def __str__(self) -> str:
        lines = [
            f"stopped: {self.stopped}",
            f"passed:  {self.passed}",
            f"share of the won amount from deals it would have stopped: {_pct(self.won_share)}",
        ]
        if self.note:
            lines.append(self.note)
        if self.stopped_deals:
            lines.append("")
            lines.append(
                _table(
                    ["deal", "seq", "stage", "outcome", "unmet"],
                    [
                        [d.deal_id, str(d.seq), d.stage, d.outcome, d.unmet]
                        for d in self.stopped_deals
                    ],
                )
            )
        return "\n".join(lines)


def check_alternative(pipeline: Pipeline, alternative: object) -> Pipeline:
    """``alternative`` must be a pipeline with the same stage names (both engines).

    Raises:
        PipelineError: It is not a pipeline, or its stage names differ.
    """
    from .._pipeline import Pipeline

    if not isinstance(alternative, Pipeline):
        raise PipelineError(
            f"alternative must be a Pipeline, got {alternative!r} ({type(alternative).__name__})"
        )
    mine = [s.name for s in pipeline.stages]
    theirs = [s.name for s in alternative.stages]
    if set(mine) != set(theirs):
        missing = sorted(set(mine) - set(theirs))
        extra = sorted(set(theirs) - set(mine))
        said = "; ".join(
            part
            for part in (
                f"it lacks {', '.join(missing)}" if missing else "",
                f"it adds {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise PipelineError(
            f"the alternative pipeline {alternative.name!r} must have the same stage names as "
            f"{pipeline.name!r} ({said}); a what-if changes entry criteria or allowed moves, "
            "not the stages"
        )
    return alternative


def _unmet(message: str, deal_id: str, seq: int) -> str:
    return message.removeprefix(f"deal {deal_id!r}, seq {seq}: ")


def stopped_moves(
    events: Sequence[Event], pipeline: Pipeline, alternative: Pipeline
) -> dict[str, tuple[int, str, str]]:
    """Per stopped deal, ``(seq, stage, unmet)`` of the first move the alternative
    refuses while the current pipeline takes it (both engines)."""
    taken = {
        (p.deal_id, p.seq, p.rule)
        for p in pipeline.check(events, guards=True)
        if p.rule in STOPPING_RULES
    }
    stages = {(e.deal_id, e.seq): e.stage for e in events}
    out: dict[str, tuple[int, str, str]] = {}
    refused = alternative.check(events, guards=True)
    for p in sorted(refused, key=lambda p: (p.deal_id, -1 if p.seq is None else p.seq)):
        if p.rule not in STOPPING_RULES or p.seq is None or p.deal_id in out:
            continue
        if (p.deal_id, p.seq, p.rule) in taken:
            continue
        stage = stages.get((p.deal_id, p.seq)) or ""
        out[p.deal_id] = (p.seq, stage, _unmet(p.message, p.deal_id, p.seq))
    return out


def _group(deals: Iterable[tuple[str, float, timedelta | None]]) -> WhatIfGroup:
    """A group from ``(outcome, won amount, cycle)`` per deal."""
    rows = list(deals)
    won = [r for r in rows if r[0] == "won"]
    lost = sum(1 for r in rows if r[0] == "lost")
    closed = len(won) + lost
    low = high = None
    if closed:
        low, high = wilson_interval(len(won), closed)
    cycles = [c for _, _, c in won if c is not None]
    return WhatIfGroup(
        deals=len(rows),
        won=len(won),
        lost=lost,
        win_rate=len(won) / closed if closed else None,
        low=low,
        high=high,
        won_amount=math.fsum(a for _, a, _ in won),
        median_cycle=percentile(sorted(cycles), 0.5) if cycles else None,
    )


def summarise_groups(
    deals: Iterable[tuple[str, str, float, timedelta | None]],
    stopped: dict[str, tuple[int, str, str]],
    note: str | None = None,
) -> WhatIf:
    """The :class:`WhatIf` from ``(deal_id, outcome, amount, cycle)`` per deal and the
    stopped moves (both engines)."""
    rows = list(deals)
    out = {d: (o, a, c) for d, o, a, c in rows if d in stopped}
    kept = [(o, a, c) for d, o, a, c in rows if d not in stopped]
    s = _group(out.values())
    p = _group(kept)
    total = s.won_amount + p.won_amount
    return WhatIf(
        stopped=s,
        passed=p,
        stopped_deals=tuple(
            StoppedDeal(
                deal_id=d,
                seq=seq,
                stage=stage,
                unmet=unmet,
                outcome=out[d][0] if d in out else "open",
                amount=out[d][1] if d in out else 0.0,
            )
            for d, (seq, stage, unmet) in sorted(stopped.items())
        ),
        won_share=s.won_amount / total if total else None,
        note=note,
    )


def _row(h: DealHistory) -> tuple[str, str, float, timedelta | None]:
    if h.outcome == "won" and h.closed_at is not None:
        return h.deal_id, "won", amount_at(h, h.closed_at), h.closed_at - h.opened_at
    return h.deal_id, h.outcome, amount_at(h, h.last_at), None


@engine
def what_if(
    events: Events,
    pipeline: Pipeline,
    alternative: Pipeline,
    *,
    as_of: datetime | None = None,
) -> WhatIf:
    """Replay each deal's history through ``alternative``: which deals would it have
    stopped, and how did they end?

    ``alternative`` has the pipeline's stage names with other entry criteria or
    allowed moves (a qualification rule to try on the past). Each deal is stopped
    at its first move that ``alternative`` refuses given the deal's events before
    that move (entry criteria evaluated as in §4, or a move it does not allow),
    where the current pipeline took it; the events are never changed. So with
    ``alternative = pipeline`` nothing is stopped. For the stopped deals and for
    the others: how many, won, lost, the win rate with its Wilson interval, the
    amount won (at winning) and the median cycle of the won ones; and the share
    of the won amount that came from deals the rule would have stopped.

    The replay needs the events themselves (activities and attributes): pass
    events or a table, not a :class:`Histories`.

    Raises:
        PipelineError: ``alternative`` is not a pipeline with the same stage names.
        SalesStagesError: ``events`` is a :class:`Histories`.
        NaiveTimeError: ``as_of`` is naive.
    """
    check_alternative(pipeline, alternative)
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
    if is_ibis_table(events):
        return on_table(what_if)(events, pipeline, alternative, as_of=as_of)
    if isinstance(events, Histories):
        raise SalesStagesError(
            "what_if replays the events themselves (activities and attributes), which a "
            "Histories no longer holds: pass the events"
        )
    evs = list(events)
    hist = load(evs, pipeline, as_of)
    cut = hist.as_of
    kept = evs if cut is None else [e for e in evs if e.at <= cut]
    stopped = stopped_moves(kept, pipeline, alternative)
    return summarise_groups((_row(h) for h in hist.deals.values()), stopped)
