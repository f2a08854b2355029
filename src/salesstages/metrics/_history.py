"""One pass over an event log: each deal folded into a compact :class:`DealHistory`.

Everything in :mod:`salesstages.metrics` and :mod:`salesstages.forecast` is
computed from the result of :func:`histories`, never from the raw events.

Interface (stable; other modules build on it):

``histories(events, pipeline, *, as_of=None) -> Histories``
    Groups ``events`` (any iterable, any order) by deal, puts each deal in
    ``seq`` order, drops the events later than ``as_of`` and folds each deal
    into a :class:`DealHistory`. ``Histories.deals`` maps deal id to history
    (deals in order of first appearance); ``Histories.as_of`` is the
    effective cut-off: ``as_of`` when given (normalised to UTC), else the
    latest event time kept, ``None`` for an empty log. A deal with no stage
    entry at or before ``as_of`` (for example one opened later) is left out.

``DealHistory`` (slotted; treat as read-only)
    ``deal_id``; ``opened_at``; ``opened_attributes`` (the ``opened`` event's
    data: what ``by=`` segments on); ``attributes`` (as of the deal's last
    kept event); ``entries``: every ``stage_entered`` as ``(at, stage,
    data)`` in order (never empty; ``data`` holds a lost stage's
    ``"reason"``); ``substates``: every ``substate_entered`` as ``(at, stage,
    substate, entry_index)`` where ``entry_index`` points into ``entries``;
    ``last_at`` (last kept event of any kind); ``stage``, ``substate`` and
    ``outcome`` (``"open"``, ``"won"`` or ``"lost"``) now; ``closed_at``,
    ``closed_amount`` (the ``amount`` attribute then) and ``lost_reason``
    (``None`` for a win) of the deal's *latest* closing, kept after a
    reopening (check ``outcome``); all ``None`` when it never closed;
    ``events``: how many of its events were kept (at or before ``as_of``);
    ``amounts``: ``None`` while no ``updated`` event set ``amount``, else every
    ``(at, amount)`` the deal had, in order, the opening's first;
    ``activities``: every ``activity`` recorded after the first stage entry as
    ``(at, name, entry_index)`` in order (``entry_index`` points into
    ``entries``: the stage visit it was recorded in); empty when none.
    ``close_dates``: the same for the ``close_date`` attribute (``None`` while no
    ``updated`` event set it).

``rewind(hist, as_of) -> Histories``
    The fold as it stood at an earlier ``as_of``, derived from a later one with
    no pass over the events (what a backtest asks at each of its dates). Stage
    and sub-state entries, outcome, closing and the ``amount`` attribute are
    exact (activities too); a deal with no event after ``as_of`` is shared as the
    fold has it (no copy); any other deal's ``attributes`` holds the opening's
    attributes with the amount and the close date then,
    and its ``last_at``/``events`` count stage entries only.

``stays(history, open_stages) -> list[(stage, entered_at, exited_at, next_stage)]``
    The deal's stays in open stages (``exited_at`` and ``next_stage`` are
    ``None`` for the stay that is still open); :func:`visit_records` turns a
    whole :class:`Histories` into :class:`~salesstages.metrics.Visit` records.

The fast path: events that already come grouped by deal in ``seq`` order (as
every store's ``events()`` yields them) are folded as they stream by, with no
grouping dictionary and no sorting. The first event that shows otherwise
switches to grouping all events by deal (in C, one ``dict`` lookup and one
``list.append`` an event) and sorting each deal's short list by ``seq``.
Either way the result is the same. Folding allocates many small records;
a host folding a large log may pause the cyclic garbage collector around it
(:func:`salesstages.bulk`, opt-in).

Helpers in :mod:`salesstages.metrics._common` (``load``, ``check_stage``,
``amount_of``, ``segmented``, ``duration_stats``) sit on top of this and are
shared with :mod:`salesstages.forecast`.

The fold trusts the log (check it with :meth:`Pipeline.check`): it does not
re-apply the stage graph's rules. An event naming a stage the pipeline does
not define raises :class:`~salesstages.InvalidLogError`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from itertools import chain
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from .._errors import InvalidLogError
from .._events import Event
from .._replay import group_events
from .._time import to_utc
from ._types import Visit, _fast_init

if TYPE_CHECKING:
    from .._pipeline import Outcome, Pipeline

__all__ = [
    "ActivityEntry",
    "DealHistory",
    "Histories",
    "StageEntry",
    "SubstateEntry",
    "histories",
    "rewind",
    "stay_cells",
    "stays",
    "visit_records",
]

#: ``(at, stage, data)`` of one ``stage_entered`` event.
StageEntry: TypeAlias = tuple[datetime, str, Mapping[str, Any]]
#: ``(at, stage, substate, entry_index)`` of one ``substate_entered`` event.
SubstateEntry: TypeAlias = tuple[datetime, str, str, int]
#: ``(at, name, entry_index)`` of one ``activity`` event.
ActivityEntry: TypeAlias = tuple[datetime, str, int]
#: One stay in an open stage: ``(stage, entered_at, exited_at, next_stage)``.
Stay: TypeAlias = tuple[str, datetime, "datetime | None", "str | None"]

_T = TypeVar("_T")
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_NO_ACTIVITIES: Final[Sequence[ActivityEntry]] = ()
_DEAL_ID: Final = attrgetter("deal_id")
_SEQ: Final = attrgetter("seq")
_BY_SEQ: Final = partial(sorted, key=_SEQ)


class DealHistory:
    """One deal's log folded into what the metrics need (see the module docstring)."""

    __slots__ = (
        "activities",
        "amounts",
        "attributes",
        "close_dates",
        "closed_amount",
        "closed_at",
        "deal_id",
        "entries",
        "events",
        "last_at",
        "lost_reason",
        "opened_at",
        "opened_attributes",
        "outcome",
        "stage",
        "substate",
        "substates",
    )

    def __init__(
        self,
        deal_id: str,
        opened_at: datetime,
        opened_attributes: Mapping[str, Any],
        attributes: Mapping[str, Any],
        entries: list[StageEntry],
        substates: list[SubstateEntry],
        last_at: datetime,
        stage: str,
        substate: str | None,
        outcome: Outcome,
        closed_at: datetime | None,
        closed_amount: Any,
        lost_reason: str | None,
        events: int,
        amounts: list[tuple[datetime, Any]] | None = None,
        activities: Sequence[ActivityEntry] = _NO_ACTIVITIES,
        close_dates: list[tuple[datetime, Any]] | None = None,
    ) -> None:
        self.deal_id = deal_id
        self.opened_at = opened_at
        self.opened_attributes = opened_attributes
        self.attributes = attributes
        self.entries = entries
        self.substates = substates
        self.last_at = last_at
        self.stage = stage
        self.substate = substate
        self.outcome: Outcome = outcome
        self.closed_at = closed_at
        self.closed_amount = closed_amount
        self.lost_reason = lost_reason
        self.events = events
        self.amounts = amounts
        self.activities = activities
        self.close_dates = close_dates

    @property
    def first_entered_at(self) -> datetime:
        """When the deal entered its first stage."""
        return self.entries[0][0]

    @property
    def is_open(self) -> bool:
        """True when the deal is in an open stage now."""
        return self.outcome == "open"

    def __repr__(self) -> str:
        path = " → ".join(stage for _, stage, _ in self.entries)
        return (
            f"DealHistory({self.deal_id!r}, opened_at={self.opened_at.isoformat()}, "
            f"{path}, outcome={self.outcome!r})"
        )


class Histories:
    """Every deal of a log folded by :func:`histories`.

    Attributes:
        pipeline: The pipeline the log follows.
        deals: Deal id → :class:`DealHistory`, in order of first appearance.
        as_of: The effective cut-off: the ``as_of`` asked for, else the latest
            event time kept; ``None`` when no deal is left.
        grouped: True when the input came grouped by deal in ``seq`` order and
            the fast path folded it without grouping or sorting.
    """

    __slots__ = ("_derived", "as_of", "deals", "grouped", "pipeline")

    def __init__(
        self,
        pipeline: Pipeline,
        deals: dict[str, DealHistory],
        as_of: datetime | None,
        grouped: bool,
    ) -> None:
        self.pipeline = pipeline
        self.deals = deals
        self.as_of = as_of
        self.grouped = grouped
        self._derived: dict[Hashable, Any] = {}

    def _derive(self, key: Hashable, make: Callable[[Histories], _T]) -> _T:
        """``make(self)``, computed on the first call for ``key`` and kept for the next ones.

        What every forecast derives from the same fold (stays counted by day,
        open amounts by stage and age, binned win tables) is computed once per
        :class:`Histories` this way, however many forecasts and backtest dates
        ask for it. The fold is read-only, so what was derived stays true.
        """
        try:
            return self._derived[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._derived[key] = make(self)
            return value

    def __repr__(self) -> str:
        as_of = self.as_of.isoformat() if self.as_of is not None else None
        return f"Histories({len(self.deals)} deals, as_of={as_of})"

    def to_records(self) -> list[dict[str, Any]]:
        """One row per deal, in order of first appearance: ``deal_id``, ``stage``,
        ``substate``, ``outcome``, ``opened_at``, ``closed_at`` (of its latest
        closing, ``None`` while open), ``amount`` (its ``amount`` attribute at
        ``as_of``), ``lost_reason``, ``events`` (how many were folded)."""
        return [
            {
                "deal_id": h.deal_id,
                "stage": h.stage,
                "substate": h.substate,
                "outcome": h.outcome,
                "opened_at": h.opened_at,
                "closed_at": h.closed_at,
                "amount": h.attributes.get("amount"),
                "lost_reason": h.lost_reason,
                "events": h.events,
            }
            for h in self.deals.values()
        ]

    def __str__(self) -> str:
        """``7 deals as of 2026-01-17 09:00: 3 open, 2 won, 2 lost``."""
        counts = Counter(h.outcome for h in self.deals.values())
        as_of = "" if self.as_of is None else f" as of {self.as_of.strftime('%Y-%m-%d %H:%M')}"
        return (
            f"{len(self.deals):,} deals{as_of}: {counts['open']:,} open, {counts['won']:,} won, "
            f"{counts['lost']:,} lost"
        )


def histories(
    events: Iterable[Event], pipeline: Pipeline, *, as_of: datetime | None = None
) -> Histories:
    """Fold ``events`` (any order) into one :class:`DealHistory` per deal.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore events later than this (aware) moment; ``None`` keeps all.

    Raises:
        NaiveTimeError: ``as_of`` has no timezone.
        InvalidLogError: An event names a stage the pipeline does not define.
    """
    cutoff = None if as_of is None else to_utc(as_of, "as_of")
    outcomes: dict[str, Outcome] = {s.name: s.outcome for s in pipeline.stages}
    evs: Sequence[Event] = events if isinstance(events, list | tuple) else list(events)
    deals = _fold(evs, outcomes, cutoff, True)
    grouped = deals is not None
    if deals is None:
        deals = _fold(_grouped(evs), outcomes, cutoff, False)
        assert deals is not None
    latest: datetime | None = cutoff
    if cutoff is None and deals:
        latest = max(h.last_at for h in deals.values())
    return Histories(pipeline, deals, latest, grouped)


def _grouped(events: Sequence[Event]) -> Iterable[Event]:
    """The events grouped by deal (in order of first appearance), each deal in
    ``seq`` order: :func:`salesstages._replay.group_events`, chained."""
    return chain.from_iterable(group_events(events).values())


def _fold(
    events: Iterable[Event],
    outcomes: dict[str, Outcome],
    cutoff: datetime | None,
    check: bool,
) -> dict[str, DealHistory] | None:
    """Fold events that come grouped by deal in ``seq`` order.

    With ``check`` return ``None`` as soon as an event shows the input is not
    grouped that way (a deal seen before, or ``seq`` not increasing).
    """
    out: dict[str, DealHistory] = {}
    cut: set[str] = set()  # deals met so far with no event kept (all after the cut-off)
    new = DealHistory
    cur = ""
    prev_seq = -1
    # the current deal's fold state
    opened_at: datetime | None = None
    opened_attrs: Mapping[str, Any] = _EMPTY
    attributes: Mapping[str, Any] = _EMPTY
    entries: list[StageEntry] = []
    subs: list[SubstateEntry] = []
    last_at: datetime | None = None
    stage: str | None = None
    sub: str | None = None
    outcome: Outcome = "open"
    closed_at: datetime | None = None
    closed_amount: Any = None
    reason: str | None = None
    kept = 0  # events kept (at or before the cut-off)
    amounts: list[tuple[datetime, Any]] | None = None  # set once an update changes "amount"
    acts: list[ActivityEntry] | None = None  # set at the first activity
    closes: list[tuple[datetime, Any]] | None = None  # the same for "close_date"

    def flush() -> None:
        """Store the summary of the deal folded so far (reads the fold state above)."""
        out[cur] = new(
            cur,
            opened_at or entries[0][0],
            opened_attrs,
            attributes,
            entries,
            subs,
            last_at,  # type: ignore[arg-type]
            stage,  # type: ignore[arg-type]
            sub,
            outcome,
            closed_at,
            closed_amount,
            reason,
            kept,
            amounts,
            acts or _NO_ACTIVITIES,
            closes,
        )

    for e in events:
        if e.deal_id != cur:
            if not entries:
                if cur:
                    cut.add(cur)
            else:
                flush()
            cur = e.deal_id
            if check and (cur in out or cur in cut):
                return None
            prev_seq = e.seq
            opened_at = None
            opened_attrs = attributes = _EMPTY
            entries = []
            subs = []
            last_at = stage = sub = closed_at = closed_amount = reason = None
            outcome = "open"
            kept = 0
            amounts = acts = closes = None
        elif check:
            if e.seq <= prev_seq:
                return None
            prev_seq = e.seq
        at = e.at
        if cutoff is not None and at > cutoff:
            continue
        last_at = at
        kept += 1
        kind = e.kind
        if kind == "stage_entered":
            st = e.stage
            try:
                oc = outcomes[st]  # type: ignore[index]
            except KeyError:
                raise _unknown_stage(e, outcomes) from None
            entries.append((at, st, e.data))  # type: ignore[arg-type]
            stage = st
            sub = None
            if oc != "open":
                outcome = oc
                closed_at = at
                closed_amount = attributes.get("amount")
                reason = e.data.get("reason") if oc == "lost" else None
            else:
                outcome = "open"
        elif kind == "opened":
            opened_at = at
            opened_attrs = attributes = e.data
        elif kind == "substate_entered":
            if entries:
                sub = e.name
                subs.append((at, entries[-1][1], sub, len(entries) - 1))  # type: ignore[arg-type]
        elif kind == "updated":
            data = e.data
            if "amount" in data:
                if amounts is None:
                    amounts = [(opened_at or at, attributes.get("amount"))]
                amounts.append((at, data["amount"]))
            if "close_date" in data:
                if closes is None:
                    closes = [(opened_at or at, attributes.get("close_date"))]
                closes.append((at, data["close_date"]))
            attributes = {**attributes, **data}
        elif kind == "activity" and entries:
            if acts is None:
                acts = []
            acts.append((at, e.name, len(entries) - 1))  # type: ignore[arg-type]
    if entries:
        flush()
    return out


def _unknown_stage(e: Event, outcomes: Mapping[str, Any]) -> InvalidLogError:
    return InvalidLogError(
        f"deal {e.deal_id!r}, seq {e.seq}: unknown stage {e.stage!r} (rule 'unknown_stage'); "
        f"the pipeline's stages are {', '.join(outcomes)}; is this the pipeline the log "
        "was written with?",
        deal_id=e.deal_id,
        seq=e.seq,
        rule="unknown_stage",
    )


def stays(history: DealHistory, open_stages: frozenset[str] | set[str]) -> list[Stay]:
    """The deal's stays in open stages, in order: ``(stage, entered_at, exited_at,
    next_stage)``; the last one has ``exited_at`` and ``next_stage`` ``None`` when
    the deal is still in it.

    ``open_stages`` is the set of the pipeline's open stage names.
    """
    out: list[Stay] = []
    entries = history.entries
    last = len(entries) - 1
    for i, (at, stage, _) in enumerate(entries):
        if stage in open_stages:
            if i < last:
                nxt = entries[i + 1]
                out.append((stage, at, nxt[0], nxt[1]))
            else:
                out.append((stage, at, None, None))
    return out


_make_visit = _fast_init(Visit)


def visit_records(hist: Histories) -> list[Visit]:
    """Every stay in an open stage of every deal, as :class:`Visit` records,
    deal by deal (in order of first appearance) and in time order within a deal."""
    opens = frozenset(s.name for s in hist.pipeline.open_stages)
    make = _make_visit
    out: list[Visit] = []
    append = out.append
    _visits_into(hist, opens, make, append)
    return out


def _visits_into(hist: Histories, opens: frozenset[str], make: Any, append: Any) -> None:
    as_of = hist.as_of
    for deal_id, h in hist.deals.items():
        entries = iter(h.entries)
        at, stage, _ = next(entries)
        for nat, nstage, _ in entries:
            if stage in opens:
                append(make(deal_id, stage, at, nat, nstage, nat - at, False))
            at = nat
            stage = nstage
        if stage in opens:
            append(make(deal_id, stage, at, None, None, as_of - at, True))  # type: ignore[operator]


def rewind(hist: Histories, as_of: datetime) -> Histories:
    """``hist`` as it stood at an earlier ``as_of`` (see the module docstring for
    what is exact): per deal, its stage entries up to ``as_of`` and its amount
    then; deals with no stage entry by then are left out."""
    outcomes: dict[str, Outcome] = {s.name: s.outcome for s in hist.pipeline.stages}
    out: dict[str, DealHistory] = {}
    new = DealHistory
    at_of = _AT
    for deal_id, h in hist.deals.items():
        entries = h.entries
        if entries[0][0] > as_of:  # not entered any stage yet
            continue
        if h.last_at <= as_of and entries[-1][0] <= as_of:
            # nothing after as_of: the deal as the fold has it
            out[deal_id] = h
            continue
        n = len(entries)
        if entries[-1][0] > as_of:
            n = bisect_right(entries, as_of, key=at_of)
            if n == 0:
                continue
            entries = entries[:n]
        subs = h.substates
        if subs and subs[-1][0] > as_of:
            subs = subs[: bisect_right(subs, as_of, key=at_of)]
        acts = h.activities
        if acts and acts[-1][0] > as_of:
            acts = acts[: bisect_right(acts, as_of, key=at_of)]
        at, stage, _ = entries[-1]
        outcome = outcomes[stage]
        amounts = h.amounts
        closes = h.close_dates
        attributes = h.opened_attributes
        if amounts is not None or closes is not None:
            attributes = dict(attributes)  # one copy for both
            if amounts is not None:
                if amounts[-1][0] > as_of:
                    amounts = [a for a in amounts if a[0] <= as_of]
                attributes["amount"] = amounts[-1][1] if amounts else None
            if closes is not None:
                if closes[-1][0] > as_of:
                    closes = [c for c in closes if c[0] <= as_of]
                attributes["close_date"] = closes[-1][1] if closes else None
        closed_at = closed_amount = reason = None
        for c_at, c_stage, c_data in reversed(entries):
            oc = outcomes[c_stage]
            if oc != "open":
                closed_at = c_at
                closed_amount = (
                    attributes.get("amount") if amounts is None else _amount_at(amounts, c_at)
                )
                reason = c_data.get("reason") if oc == "lost" else None
                break
        sub = subs[-1][2] if subs and subs[-1][3] == n - 1 else None
        out[deal_id] = new(
            deal_id,
            h.opened_at,
            h.opened_attributes,
            attributes,
            entries,
            subs,
            max(at, subs[-1][0]) if subs else at,
            stage,
            sub,
            outcome,
            closed_at,
            closed_amount,
            reason,
            n + len(subs),
            amounts,
            acts,
            closes,
        )
    return Histories(hist.pipeline, out, as_of, hist.grouped)


_AT: Final = itemgetter(0)


def _amount_at(amounts: list[tuple[datetime, Any]], moment: datetime) -> Any:
    """The amount a deal had at ``moment`` (its last setting at or before it)."""
    i = bisect_right(amounts, moment, key=_AT)
    return amounts[i - 1][1] if i else None


def stay_cells(hist: Histories, pipeline: Pipeline) -> dict[str, Counter[int]]:
    """Every stay in every open stage, counted per (whole days in the stage, whole days
    from entering it to the next closing or to ``as_of``, cause), for the
    stage-conditional forecasts and the data-quality check. Each cell is one int,
    ``days_in << 32 | days_to << 2 | cause`` (cause 1 won, 2 lost, 0 censored), so
    counting allocates no tuples. Both day counts are clamped at 0: a log whose
    times run backwards (a stage entered after ``as_of``, which is the latest event
    kept) has no negative stay. Computed once per ``hist`` (see
    :meth:`Histories._derive`); treat the result as read-only.
    """
    if pipeline is hist.pipeline:
        return hist._derive(_STAY_CELLS, _stay_cells)
    return _stay_cells(hist, pipeline)


_STAY_CELLS: Final = "stay_cells"


def _stay_cells(hist: Histories, pipeline: Pipeline | None = None) -> dict[str, Counter[int]]:
    pipeline = pipeline or hist.pipeline
    code = {s.name: 0 if s.is_open else 1 if s.outcome == "won" else 2 for s in pipeline.stages}
    keys: dict[str, list[int]] = {s.name: [] for s in pipeline.open_stages}
    if hist.as_of is None:
        return {}
    as_of: datetime = hist.as_of
    for h in hist.deals.values():
        close_at: datetime = as_of
        close_code = 0
        nxt_at: datetime = as_of
        for at, stage, _ in reversed(h.entries):
            c = code[stage]
            if c:
                close_at, close_code = at, c
            else:
                days_in = (nxt_at - at).days
                days_to = (close_at - at).days
                if days_in < 0 or days_to < 0:  # time ran backwards in the log
                    days_in = max(0, days_in)
                    days_to = max(days_in, days_to)
                keys[stage].append(days_in << 32 | days_to << 2 | close_code)
            nxt_at = at
    return {stage: Counter(k) for stage, k in keys.items()}
