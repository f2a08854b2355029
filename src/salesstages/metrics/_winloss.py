"""Win/loss analysis: which attributes go with winning, with Wilson intervals and lift.

:func:`win_loss` groups the closed deals by an attribute or by a bucketing
function and ranks the groups whose win rate differs most from the overall
one. SPICED fields (situation, pain, impact, critical event, decision
criteria) and stakeholder lists are ordinary deal attributes; :func:`within`,
:func:`days_until` and :func:`fewer_than` build the usual buckets from them:

>>> win_loss(events, pipeline, by=within("critical_event", timedelta(days=120)))  # doctest: +SKIP
>>> win_loss(events, pipeline, by=fewer_than("stakeholders", 2))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from .._errors import DataError, SalesStagesError
from .._stats import wilson_interval, z_value
from ._common import check_attribute, load
from ._engine import Events, engine, is_ibis_table, on_table
from ._segments import signature, typed_segments
from ._types import _label, _one_row, _pct

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "Bucketer",
    "ClosedDeal",
    "WinLoss",
    "WinLossGroup",
    "days_until",
    "fewer_than",
    "win_loss",
    "within",
]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


@attrs.frozen(kw_only=True)
class ClosedDeal:
    """A closed deal as a bucketing function sees it (see :func:`win_loss`).

    Attributes:
        deal_id: The deal.
        outcome: ``"won"`` or ``"lost"`` (its latest closing).
        opened_at: When it was opened.
        closed_at: When it was (last) closed.
        amount: Its ``amount`` attribute at closing, or ``None``.
        attributes: Its attributes as of its last event up to ``as_of``
            (its closing, unless it was updated after).
        opened_attributes: Its attributes when it was opened.
    """

    deal_id: str
    outcome: Literal["won", "lost"]
    opened_at: datetime
    closed_at: datetime
    amount: Any
    attributes: Mapping[str, Any] = attrs.field(repr=False)
    opened_attributes: Mapping[str, Any] = attrs.field(repr=False)


#: A bucketing function: a closed deal → its group's key, or ``None`` to leave it out.
Bucketer: TypeAlias = Callable[[ClosedDeal], Hashable | None]


@attrs.frozen(kw_only=True, repr=False)
class WinLossGroup:
    """The closed deals of one group and how their win rate compares.

    Attributes:
        key: The group's key (the attribute's value, or the bucket's label);
            ``None`` for deals without the attribute.
        won: Deals won.
        lost: Deals lost.
        deals: ``won + lost``.
        win_rate: ``won / deals``.
        lower: The lower bound of the Wilson interval of ``win_rate``.
        upper: The upper bound.
        lift: ``win_rate`` over the overall win rate (above 1: wins more
            often); ``None`` when the overall rate is 0.
        score: How strongly the group departs from the overall rate:
            (win_rate − overall) / √(overall · (1 − overall) / deals), a
            z-score; groups are ranked by its absolute value.
    """

    key: Hashable | None
    won: int
    lost: int
    deals: int
    win_rate: float
    lower: float
    upper: float
    lift: float | None
    score: float

    def __repr__(self) -> str:
        names = ("key", "won", "lost", "win_rate", "lower", "upper", "lift", "score")
        inner = ", ".join(f"{n}={_show(getattr(self, n))}" for n in names)
        return f"WinLossGroup({inner})"

    to_records = _one_row

    def __str__(self) -> str:
        """``eu: 12 won, 8 lost, win rate 60.0% (38.7%–78.1%), lift 1.20, score 0.85``."""
        lift = "–" if self.lift is None else f"{self.lift:.2f}"
        return (
            f"{_label(self.key)}: {self.won:,} won, {self.lost:,} lost, win rate "
            f"{_pct(self.win_rate)} ({_pct(self.lower)}–{_pct(self.upper)}), lift {lift}, "
            f"score {self.score:.2f}"
        )


_GROUP_COLUMNS = frozenset(f.name for f in attrs.fields(WinLossGroup))


@attrs.frozen(kw_only=True, repr=False)
class WinLoss:
    """The result of :func:`win_loss`; ``str()`` gives a printable table.

    Attributes:
        by: The attribute name, or the bucketing function's name.
        won: Closed deals won, over all groups.
        lost: Closed deals lost, over all groups.
        win_rate: The overall win rate; ``None`` when no deal is closed.
        groups: One :class:`WinLossGroup` per key, strongest pattern first.
        excluded: Closed deals the bucketing function left out (returned ``None``).
        level: The confidence level of the intervals.
    """

    by: str
    won: int
    lost: int
    win_rate: float | None
    groups: tuple[WinLossGroup, ...]
    excluded: int
    level: float

    def __repr__(self) -> str:
        rate = "None" if self.win_rate is None else f"{self.win_rate:.4g}"
        return (
            f"WinLoss(by={self.by!r}, won={self.won}, lost={self.lost}, win_rate={rate}, "
            f"groups={len(self.groups)}, excluded={self.excluded})"
        )

    def __str__(self) -> str:
        return self.summary()

    def to_records(self) -> list[dict[str, Any]]:
        """One row per group, strongest pattern first: the group's key in a column
        named after :attr:`by` (``key`` when that name is one of the other
        columns), then ``won``, ``lost``, ``deals``, ``win_rate``, ``lower``,
        ``upper``, ``lift``, ``score``."""
        rows = [row for g in self.groups for row in g.to_records()]
        column = self.by if self.by not in _GROUP_COLUMNS else "key"
        return [{column: row.pop("key"), **row} for row in rows]

    def summary(self) -> str:
        """A table: each group's counts, win rate with its interval, lift and score."""
        rate = "n/a" if self.win_rate is None else f"{self.win_rate:.1%}"
        lines = [
            f"Win/loss by {self.by}: {self.won} won, {self.lost} lost, win rate {rate}",
            f"{'group':<28} {'won':>6} {'lost':>6} {'win rate':>9} "
            f"{f'{self.level:.0%} interval':>16} {'lift':>6} {'score':>7}",
        ]
        for g in self.groups:
            lift = "n/a" if g.lift is None else f"{g.lift:.2f}"
            key = "(missing)" if g.key is None else str(g.key)
            lines.append(
                f"{key[:28]:<28} {g.won:>6} {g.lost:>6} {g.win_rate:>9.1%} "
                f"{f'{g.lower:.1%}–{g.upper:.1%}':>16} {lift:>6} {g.score:>7.2f}"
            )
        return "\n".join(lines)


def _hashable(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value  # type: ignore[no-any-return]


@engine(positional=("by",), renamed={"attributes": ("at", {"opened": "opening"})})
def win_loss(
    events: Events,
    pipeline: Pipeline,
    *,
    by: str | Bucketer,
    at: Literal["opening", "closing"] = "opening",
    as_of: datetime | None = None,
    level: float = 0.95,
    min_deals: int = 1,
) -> WinLoss:
    """Group the closed deals and compare each group's win rate with the overall one.

    Args:
        events: Any iterable of events, in any order.
        pipeline: The pipeline they follow.
        by: An attribute name (deals without it form the group ``None``), or a
            function from a :class:`ClosedDeal` to a group key (``None`` leaves
            the deal out), such as :func:`within` or :func:`fewer_than` build.
        at: With an attribute name, read it when the deal was opened
            (``"opening"``, like ``by=`` everywhere) or as it was at the
            deal's end (``"closing"``: its last event up to ``as_of``, what
            the team knew by then).
        as_of: Ignore events after this moment; deals closed then count.
        level: Confidence level of the Wilson intervals.
        min_deals: Leave out groups with fewer closed deals than this (they
            still count in the overall rate).

    Returns:
        A :class:`WinLoss` whose groups are ranked by the absolute value of
        their score, so the strongest patterns come first (ties: more deals
        first, then by key).

    Raises:
        ValueError: ``by`` is neither a string nor callable, ``at``,
            ``level`` or ``min_deals`` is out of range.
        SalesStagesError: ``by`` is a function and ``events`` an Ibis table
            (the function needs every closed deal in Python).
    """
    check_win_loss(by, at, level, min_deals)
    if is_ibis_table(events):
        if not isinstance(by, str):
            raise SalesStagesError(
                "win_loss with a bucketing function needs each closed deal in Python, which "
                "the Ibis engine does not bring back; pass an attribute name, or run it on "
                "events (salesstages.io.read_parquet, or Event.from_dict over the table's rows)"
            )
        return on_table(win_loss)(
            events, pipeline, by=by, at=at, as_of=as_of, level=level, min_deals=min_deals
        )
    if isinstance(by, str):
        name = by
        use_opened = at == "opening"

        def by_attribute(d: ClosedDeal) -> Hashable | None:
            attrs_ = d.opened_attributes if use_opened else d.attributes
            return _hashable(attrs_.get(name))

        key_of: Bucketer = by_attribute
        label = by
        drop_none = False
    elif callable(by):
        key_of = by
        label = getattr(by, "__name__", repr(by))
        drop_none = True
    else:
        raise ValueError(f"by must be an attribute name or a function, got {by!r}")

    hist = load(events, pipeline, as_of)
    if isinstance(by, str):
        check_attribute(list(hist.deals.values()), by, opened=at == "opening")
    counts: dict[Hashable, tuple[Hashable | None, list[int]]] = {}
    excluded = 0
    for h in hist.deals.values():
        if h.outcome == "open":
            continue
        assert h.closed_at is not None
        deal = ClosedDeal(
            deal_id=h.deal_id,
            outcome=h.outcome,
            opened_at=h.opened_at,
            closed_at=h.closed_at,
            amount=h.closed_amount,
            attributes=h.attributes,
            opened_attributes=h.opened_attributes,
        )
        key = key_of(deal)
        if key is None and drop_none:
            excluded += 1
            continue
        add_count(counts, key, h.outcome == "won", 1)
    return win_loss_result(counts, label, excluded, level, min_deals)


def add_count(
    counts: dict[Hashable, tuple[Hashable | None, list[int]]],
    key: Hashable | None,
    won: bool,
    n: int,
) -> None:
    """Add ``n`` won (or lost) deals to ``key``'s group, keyed by value *and* type, so
    ``1``, ``True`` and ``1.0`` are three groups (shared with the Ibis engine)."""
    entry = counts.get(signature(key))
    if entry is None:
        entry = counts[signature(key)] = (key, [0, 0])
    entry[1][0 if won else 1] += n


def check_win_loss(by: object, at: object, level: float, min_deals: object) -> None:
    """Check :func:`win_loss`'s arguments."""
    z_value(level)
    if at not in ("opening", "closing"):
        raise ValueError(f"at must be 'opening' or 'closing', got {at!r}")
    if isinstance(by, str):
        if not by:
            raise ValueError("by must name an attribute, got ''")
    elif not callable(by):
        raise ValueError(f"by must be an attribute name or a function, got {by!r}")
    if isinstance(min_deals, bool) or not isinstance(min_deals, int) or min_deals < 1:
        raise ValueError(f"min_deals must be an int >= 1, got {min_deals!r}")


def win_loss_result(
    typed: Mapping[Hashable, tuple[Hashable | None, list[int]]],
    label: str,
    excluded: int,
    level: float,
    min_deals: int,
) -> WinLoss:
    """The :class:`WinLoss` from ``[won, lost]`` per group key, as :func:`add_count`
    gathers them (shared with the Ibis engine); keys of equal value and different
    type are each a :class:`~salesstages.metrics.SegmentKey`."""
    counts = dict(typed_segments(typed.values()))
    won = sum(c[0] for c in counts.values())
    lost = sum(c[1] for c in counts.values())
    total = won + lost
    overall = won / total if total else None
    groups: list[WinLossGroup] = []
    for key, (w, lo) in counts.items():
        n = w + lo
        if n < min_deals:
            continue
        rate = w / n
        lower, upper = wilson_interval(w, n, level)
        assert overall is not None
        if 0.0 < overall < 1.0:
            score = (rate - overall) / math.sqrt(overall * (1.0 - overall) / n)
        else:
            score = 0.0
        groups.append(
            WinLossGroup(
                key=key,
                won=w,
                lost=lo,
                deals=n,
                win_rate=rate,
                lower=lower,
                upper=upper,
                lift=rate / overall if overall else None,
                score=score,
            )
        )
    groups.sort(key=lambda g: (-abs(g.score), -g.deals, str(g.key)))
    return WinLoss(
        by=label,
        won=won,
        lost=lost,
        win_rate=overall,
        groups=tuple(groups),
        excluded=excluded,
        level=level,
    )


# ------------------------------------------------------------------ buckets
def _to_date(deal: ClosedDeal, attribute: str, value: Any) -> date:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise DataError(
                f"deal {deal.deal_id!r}: {attribute}={value.isoformat()} is a naive datetime; "
                "store an aware datetime or an ISO date",
                field=attribute,
            )
        return value.astimezone(deal.opened_at.tzinfo).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if len(value) <= 10 or parsed.utcoffset() is None:
                return parsed.date()
            return parsed.astimezone(deal.opened_at.tzinfo).date()
    raise DataError(
        f"deal {deal.deal_id!r}: {attribute}={value!r} is not a date; store an ISO date "
        "such as '2026-03-31', a date or an aware datetime",
        field=attribute,
    )


def _check_of(of: Any) -> Literal["opened", "closed"]:
    if of not in ("opened", "closed"):
        raise ValueError(f"of must be 'opened' or 'closed', got {of!r}")
    return of  # type: ignore[no-any-return]


def _days_from(deal: ClosedDeal, attribute: str, of: str) -> int | None:
    value = deal.attributes.get(attribute)
    if value is None or value == "":
        return None
    ref = deal.opened_at if of == "opened" else deal.closed_at
    return (_to_date(deal, attribute, value) - ref.date()).days


def _day_count(limit: timedelta) -> int:
    if not isinstance(limit, timedelta) or limit < timedelta(0):
        raise ValueError(f"limit must be a non-negative timedelta, got {limit!r}")
    return limit.days


def within(
    attribute: str, limit: timedelta, *, of: Literal["opened", "closed"] = "opened"
) -> Bucketer:
    """Bucket deals by whether the date in ``attribute`` falls within ``limit`` of a reference.

    The reference is the deal's opening (``of="opened"``) or its closing
    (``of="closed"``); distances are counted in calendar days. Buckets:
    ``"<attribute> within N days"`` (0 ≤ days ≤ N), ``"<attribute> beyond N
    days"``, ``"<attribute> already passed"`` (the date is before the
    reference) and ``"<attribute> missing"``. The date may be an ISO string,
    a ``date`` or an aware ``datetime``; anything else raises
    :class:`~salesstages.DataError` when the analysis runs.

    The classic SPICED question: "do we win more when the critical event is
    within 120 days?" is ``win_loss(events, pipeline, by=within("critical_event",
    timedelta(days=120)))``.
    """
    n = _day_count(limit)
    of = _check_of(of)

    def bucket(deal: ClosedDeal) -> str:
        days = _days_from(deal, attribute, of)
        if days is None:
            return f"{attribute} missing"
        if days < 0:
            return f"{attribute} already passed"
        return f"{attribute} {'within' if days <= n else 'beyond'} {n} days"

    bucket.__name__ = f"{attribute} within {n} days of {of}"
    return bucket


def days_until(
    attribute: str, edges: Sequence[int], *, of: Literal["opened", "closed"] = "opened"
) -> Bucketer:
    """Bucket deals by the number of days from the reference to the date in ``attribute``.

    ``edges`` are increasing day counts; with ``(30, 90)`` the buckets are
    ``"<attribute> ≤30 days"``, ``"<attribute> 31–90 days"``, ``"<attribute>
    >90 days"``, plus ``"<attribute> already passed"`` and ``"<attribute>
    missing"``. The reference and the accepted values are as in :func:`within`.
    """
    if isinstance(edges, str) or not isinstance(edges, Sequence) or not edges:
        raise ValueError(f"edges must be a non-empty sequence of day counts, got {edges!r}")
    cuts = list(edges)
    if any(isinstance(e, bool) or not isinstance(e, int) or e < 0 for e in cuts):
        raise ValueError(f"edges must be non-negative whole days, got {edges!r}")
    if any(a >= b for a, b in pairwise(cuts)):
        raise ValueError(f"edges must be strictly increasing, got {edges!r}")
    of = _check_of(of)
    labels = [f"{attribute} ≤{cuts[0]} days"]
    labels += [f"{attribute} {a + 1}–{b} days" for a, b in pairwise(cuts)]
    labels.append(f"{attribute} >{cuts[-1]} days")

    def bucket(deal: ClosedDeal) -> str:
        days = _days_from(deal, attribute, of)
        if days is None:
            return f"{attribute} missing"
        if days < 0:
            return f"{attribute} already passed"
        for cut, label in zip(cuts, labels, strict=False):
            if days <= cut:
                return label
        return labels[-1]

    bucket.__name__ = f"days until {attribute} from {of}"
    return bucket


def fewer_than(attribute: str, n: int) -> Bucketer:
    """Bucket deals by whether ``attribute`` counts fewer than ``n``.

    The attribute is a number (a count) or a list of names (its length is
    the count). Buckets: ``"<attribute> fewer than n"``, ``"<attribute> n or
    more"`` and ``"<attribute> missing"``. "Do we lose when there are fewer
    than two stakeholders?" is ``win_loss(events, pipeline,
    fewer_than("stakeholders", 2))``. A value of another type raises
    :class:`~salesstages.DataError` when the analysis runs.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")

    def bucket(deal: ClosedDeal) -> str:
        value = deal.attributes.get(attribute)
        if value is None:
            return f"{attribute} missing"
        if isinstance(value, list | tuple):
            count: float = len(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            count = value
        else:
            raise DataError(
                f"deal {deal.deal_id!r}: {attribute}={value!r} is neither a count nor a list",
                field=attribute,
            )
        if count < n:
            return f"{attribute} fewer than {n}"
        return f"{attribute} {n} or more"

    bucket.__name__ = f"{attribute} fewer than {n}"
    return bucket
