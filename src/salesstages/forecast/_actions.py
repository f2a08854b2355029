"""What to do next with an open deal: :func:`next_actions`.

A first-order chain over actions: a deal's state is its stage and the last
activity recorded in its current visit (``None`` before the first). The
closed deals that were ever in the same state, and then recorded another
activity in that visit, back that next activity; how many of them were won
(with a 95 % Wilson interval) ranks the advice.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._deal import Deal, UnknownDealError
from .._errors import DataError, DataTypeError
from .._stats import wilson_interval
from .._time import to_utc
from ..metrics._common import load
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._types import _one_row, _pct
from ._common import _fields_repr

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ..metrics._history import Histories

__all__ = [
    "ActionAdvice",
    "State",
    "check_deal",
    "check_min_support",
    "closed",
    "deal_state",
    "next_actions",
    "ranked",
    "unknown_deal",
]

#: The interval's confidence level.
_LEVEL: Final = 0.95
#: A deal's state in the chain: its stage and the last activity of its current visit.
State = tuple[str, "str | None"]


@attrs.frozen(kw_only=True, repr=False)
class ActionAdvice:
    """One candidate next activity for a deal, and how the deals that took it ended.

    Attributes:
        activity: The activity's name.
        support: The closed deals that were once in the deal's state and
            recorded this activity next in the same visit.
        win_rate: The share of them won at ``as_of``.
        low: The lower end of the 95 % Wilson interval of ``win_rate``.
        high: Its upper end.
    """

    activity: str
    support: int
    win_rate: float
    low: float
    high: float

    def __repr__(self) -> str:
        return _fields_repr(self, ("activity", "support", "win_rate", "low", "high"))

    to_records = _one_row

    def __str__(self) -> str:
        """``demo: 62.5% won (40.9%–80.0%) of 16 deals``."""
        return (
            f"{self.activity}: {_pct(self.win_rate)} won ({_pct(self.low)}–{_pct(self.high)}) "
            f"of {self.support:,} deals"
        )


@engine(positional=("deal",))
def next_actions(
    events: Events,
    pipeline: Pipeline,
    *,
    deal: Deal | str,
    as_of: datetime | None = None,
    min_support: int = 10,
) -> list[ActionAdvice]:
    """The activities that, recorded next from ``deal``'s state, went with the most wins.

    ``deal``'s state is its stage and the last activity recorded in its current
    visit to that stage (``None`` before the first). Every deal closed at
    ``as_of`` that was ever in that state and then recorded another activity in
    the same visit backs that next activity. ``support`` counts the distinct
    deals behind an activity, ``win_rate`` the share of them won at ``as_of``,
    ``low``/``high`` its 95 % Wilson interval. Only activities with
    ``support >= min_support``, highest ``low`` first, then by name.

    ``deal`` is a live :class:`~salesstages.Deal` (its state is read from its own
    events, up to ``as_of`` when given) or the id of a deal open in ``events``
    at ``as_of``.

    Raises:
        UnknownDealError: ``deal`` is an id no deal in ``events`` has by ``as_of``.
        DataError: ``deal`` is closed (won or lost) at ``as_of``.
        DataTypeError: ``deal`` is neither a ``Deal`` nor an id, or
            ``min_support`` is not a whole number.
        DataError: ``min_support`` is negative.
    """
    support = check_min_support(min_support)
    check_deal(deal)
    if is_ibis_table(events):
        return on_table(next_actions)(events, pipeline, deal=deal, as_of=as_of, min_support=support)
    hist = load(events, pipeline, as_of)
    state = _state(hist, pipeline, deal, as_of)
    return advice(hist, state, support)


def check_min_support(min_support: object) -> int:
    if not isinstance(min_support, int) or isinstance(min_support, bool):
        raise DataTypeError(
            f"min_support must be a whole number of deals (for example 10), got {min_support!r}",
            field="min_support",
        )
    if min_support < 0:
        raise DataError(
            f"min_support must be 0 or more (the fewest deals an activity needs behind it "
            f"to be advised, for example 10), got {min_support!r}",
            field="min_support",
        )
    return min_support


def check_deal(deal: object) -> None:
    """``deal`` must be a live Deal or a deal id."""
    if not isinstance(deal, Deal | str):
        raise DataTypeError(
            f"deal must be a salesstages.Deal or the id of a deal open in events, got "
            f"{type(deal).__name__}",
            field="deal",
        )


def unknown_deal(deal: str, as_of: datetime | None) -> UnknownDealError:
    """No deal ``deal`` in the events by ``as_of`` (the fold's cut-off)."""
    when = "" if as_of is None else f" by {as_of.isoformat()}"
    return UnknownDealError(
        f"no deal {deal!r} in events{when}; pass the id of a deal open in events, "
        f"or the live Deal itself"
    )


def _state(hist: Histories, pipeline: Pipeline, deal: Deal | str, as_of: datetime | None) -> State:
    """The deal's state: its stage and the last activity of its current visit."""
    if isinstance(deal, str):
        h = hist.deals.get(deal)
        if h is None:
            raise unknown_deal(deal, hist.as_of)
        if h.outcome != "open":
            raise closed(deal, h.stage, h.outcome)
        last_visit = len(h.entries) - 1
        last: str | None = None
        for _, name, idx in reversed(h.activities):
            if idx == last_visit:
                last = name
            break
        return h.stage, last
    return deal_state(pipeline, deal, as_of)


def deal_state(pipeline: Pipeline, deal: Deal, as_of: datetime | None) -> State:
    """A live deal's state, read from its own events up to ``as_of``."""
    cutoff = None if as_of is None else to_utc(as_of, "as_of")
    stage: str | None = None
    last = None
    for e in deal.events:
        if cutoff is not None and e.at > cutoff:
            break
        if e.kind == "stage_entered":
            stage = e.stage
            last = None
        elif e.kind == "activity" and stage is not None:
            last = e.name
    if stage is None:
        raise UnknownDealError(
            f"deal {deal.id!r} had entered no stage by {cutoff.isoformat() if cutoff else as_of}; "
            f"pass an as_of after it opened, or leave as_of out"
        )
    outcome = pipeline.stage(stage).outcome
    if outcome != "open":
        raise closed(deal.id, stage, outcome)
    return stage, last


def closed(deal_id: str, stage: str, outcome: str) -> DataError:
    return DataError(
        f"deal {deal_id!r} is {outcome} (in stage {stage!r}); next_actions advises open "
        f"deals: pass an open deal, or an as_of before it closed",
        field="deal",
    )


def advice(hist: Histories, state: State, min_support: int) -> list[ActionAdvice]:
    """:func:`next_actions` over a fold, for a deal in ``state``."""
    stage, previous = state
    backers: dict[str, set[str]] = {}
    won: set[str] = set()
    for deal_id, h in hist.deals.items():
        if h.outcome == "open":
            continue
        acts = h.activities
        if not acts:
            continue
        entries = h.entries
        visit = -1
        current: str | None = None
        for _, name, idx in acts:
            if idx != visit:  # the first activity of a visit
                visit = idx
                current = None
            if entries[idx][1] == stage and current == previous:
                lst = backers.get(name)
                if lst is None:
                    backers[name] = {deal_id}
                else:
                    lst.add(deal_id)
            current = name
        if h.outcome == "won":
            won.add(deal_id)
    return ranked({name: (len(ids), len(ids & won)) for name, ids in backers.items()}, min_support)


def ranked(counts: dict[str, tuple[int, int]], min_support: int) -> list[ActionAdvice]:
    """The advice from each next activity's backing deals and wins (both engines)."""
    out: list[ActionAdvice] = []
    for name, (n, wins) in counts.items():
        if n < min_support:
            continue
        low, high = wilson_interval(wins, n, _LEVEL)
        out.append(ActionAdvice(activity=name, support=n, win_rate=wins / n, low=low, high=high))
    out.sort(key=_rank)
    return out


def _rank(a: ActionAdvice) -> Any:
    return (-a.low, a.activity)
