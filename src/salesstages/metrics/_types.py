"""The result records of :mod:`salesstages.metrics`: small frozen attrs classes.

Every record has a readable ``repr``: timestamps in ISO 8601, durations as
``timedelta`` prints them (``3 days, 4:00:00``), rates to four places. Its
``str`` is the sentence to print: durations in days with one decimal, rates
as percentages (``median 5.2 days, p90 12.0 days, mean 6.1 days (n=42)``).
Its ``to_records()`` is its rows: a list of flat dicts, one column per field
(durations stay ``timedelta``), which :func:`~salesstages.metrics.records`
and the DataFrame converters read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import attrs

from ._rows import records

__all__ = [
    "DurationStats",
    "FunnelRow",
    "Keyed",
    "LostReason",
    "Ratio",
    "SnapshotRow",
    "StageFlow",
    "Stall",
    "SubstateVisit",
    "Tabular",
    "Visit",
]


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return repr(value)


_DAY = timedelta(days=1)

K = TypeVar("K")
V = TypeVar("V")


@runtime_checkable
class Tabular(Protocol):
    """What :func:`~salesstages.metrics.records` reads: a result that knows its rows."""

    def to_records(self) -> list[dict[str, Any]]:
        """The result as a list of flat dicts, one column per field."""
        ...


def _fields_row(self: Any) -> dict[str, Any]:
    """A record's fields as one flat row, in field order."""
    return {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}


def _one_row(self: Any) -> list[dict[str, Any]]:
    """The record as one row: one column per field, values as they are
    (durations stay ``timedelta``, times ``datetime``)."""
    return [_fields_row(self)]


def _eq_tuple(self: Any, other: object) -> bool:
    """Equal to a record of the same type with the same fields, or to the plain
    tuple it stands for (``Tally(3, 1.0) == (3, 1.0)``)."""
    mine: tuple[Any, ...] = tuple(self)
    if isinstance(other, tuple):
        return mine == other
    if type(other) is type(self):
        return mine == tuple(cast("Iterable[Any]", other))
    return NotImplemented  # type: ignore[no-any-return]  # let the other side answer


def _hash_tuple(self: Any) -> int:
    return hash(tuple(self))


def _table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    body = [list(columns), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in body) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    lines = [line(r) for r in body]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _label(key: Any) -> str:
    return "(missing)" if key is None else str(key)


def _text(value: Any) -> str:
    """A value as :class:`Keyed` prints it: a record by its ``str``, a number with
    thousands separators."""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _keyed_lines(mapping: Mapping[Any, Any], indent: str) -> Iterator[str]:
    for key, value in mapping.items():
        label = f"{indent}{_label(key)}"
        if isinstance(value, Mapping):
            yield f"{label}:"
            yield from _keyed_lines(value, indent + "  ")
        elif isinstance(value, list):
            yield f"{label}:"
            for item in value:
                yield from (f"{indent}  {line}" for line in _text(item).splitlines())
        else:
            text = _text(value)
            if "\n" in text:
                yield f"{label}:"
                yield from (f"{indent}  {line}" for line in text.splitlines())
            else:
                yield f"{label}: {text}"


class Keyed(dict[K, V]):
    """A metric's dict result that knows what its keys are: ``key_name`` is
    ``"stage"`` (``stage_durations``, ``snapshot``), ``"substate"``
    (``substate_durations``), ``"category"`` (``forecast.categories``),
    ``"method"`` (a backtest's ``errors``), or the
    attribute's name for the values of a ``by=`` attribute (``"region"`` for
    ``by="region"``).

    It is a plain ``dict`` in every other way (equal to a dict with the same
    items); :func:`~salesstages.metrics.records` and the DataFrame converters
    name the key column after it, and ``str()`` prints one line per key
    (``eu: 43.1% (88 of 204)``), nested results indented under their key.
    """

    __slots__ = ("key_name",)

    def __init__(self, key_name: str, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        super().__init__(items)
        self.key_name = key_name

    def __reduce__(self) -> Any:
        return (type(self), (self.key_name, dict(self)))

    def copy(self) -> Keyed[K, V]:
        """A shallow copy that keeps ``key_name``."""
        return type(self)(self.key_name, self)

    def to_records(self) -> list[dict[str, Any]]:
        """Its rows: a ``key_name`` column, then each value's own columns (see
        :func:`~salesstages.metrics.records`)."""
        return records(self)

    def __str__(self) -> str:
        """One line per key, ``key: value``; nested dicts and lists indented."""
        return "\n".join(_keyed_lines(self, "")) or f"(no {self.key_name})"


def _days(value: timedelta | None) -> str:
    """A duration in days with one decimal: ``5.2 days``."""
    return "–" if value is None else f"{value / _DAY:.1f} days"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _amount(value: float | None) -> str:
    """A count or an amount: whole numbers without decimals, with thousands separators."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _when(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _repr(self: Any) -> str:
    fields = attrs.fields(type(self))
    inner = ", ".join(f"{f.name}={_show(getattr(self, f.name))}" for f in fields)
    return f"{type(self).__name__}({inner})"


@attrs.frozen(kw_only=True, repr=False)
class Visit:
    """One stay of a deal in an open stage (see :func:`~salesstages.metrics.visits`).

    Attributes:
        deal_id: The deal.
        stage: The open stage it stayed in.
        entered_at: When it entered the stage.
        exited_at: When it left (entered another stage); ``None`` while it is
            still there.
        next_stage: The stage it went to; ``None`` while it is still there.
        duration: ``exited_at - entered_at``, or ``as_of - entered_at`` for an
            open visit.
        is_open: True while the deal is still in the stage at ``as_of``.
    """

    deal_id: str
    stage: str
    entered_at: datetime
    exited_at: datetime | None
    next_stage: str | None
    duration: timedelta
    is_open: bool

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``D-1 in discovery 2026-01-07 09:00 → 2026-01-12 09:00 (5.0 days), then evaluation``."""
        if self.is_open:
            return (
                f"{self.deal_id} in {self.stage} since {_when(self.entered_at)} "
                f"({_days(self.duration)} so far)"
            )
        return (
            f"{self.deal_id} in {self.stage} {_when(self.entered_at)} → "
            f"{_when(self.exited_at)} ({_days(self.duration)}), then {self.next_stage}"
        )


@attrs.frozen(kw_only=True, repr=False)
class SubstateVisit:
    """One stay of a deal in a sub-state of an open stage.

    A sub-state visit runs from its ``substate_entered`` event to the next
    sub-state entered in the same stage visit, or to the end of that stage
    visit (``as_of`` while the deal is still in the stage).

    Attributes:
        deal_id: The deal.
        stage: The open stage the sub-state belongs to.
        substate: The sub-state.
        entered_at: When the sub-state was entered.
        exited_at: When it was left; ``None`` while the deal is still in it.
        duration: ``exited_at - entered_at``, or ``as_of - entered_at``.
        is_open: True while the deal is still in the sub-state at ``as_of``.
    """

    deal_id: str
    stage: str
    substate: str
    entered_at: datetime
    exited_at: datetime | None
    duration: timedelta
    is_open: bool

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``D-1 in proposal/review 2026-01-24 09:00 → 2026-01-27 09:00 (3.0 days)``."""
        where = f"{self.deal_id} in {self.stage}/{self.substate}"
        if self.is_open:
            return f"{where} since {_when(self.entered_at)} ({_days(self.duration)} so far)"
        return (
            f"{where} {_when(self.entered_at)} → {_when(self.exited_at)} ({_days(self.duration)})"
        )


@attrs.frozen(kw_only=True, repr=False)
class DurationStats:
    """Summary of a set of durations.

    Attributes:
        count: How many durations were summarised.
        open_count: How many visits (or deals) are still open, whether or not
            they were included.
        mean: Their mean, rounded to the microsecond; ``None`` when ``count`` is 0.
        median: The 50th percentile (linear interpolation); ``None`` when empty.
        p90: The 90th percentile (linear interpolation); ``None`` when empty.
        min: The shortest; ``None`` when empty.
        max: The longest; ``None`` when empty.
    """

    count: int
    open_count: int
    mean: timedelta | None
    median: timedelta | None
    p90: timedelta | None
    min: timedelta | None
    max: timedelta | None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``median 5.2 days, p90 12.0 days, mean 6.1 days (n=42, 3 open)``; days with
        one decimal."""
        counts = f"n={self.count:,}" + (f", {self.open_count:,} open" if self.open_count else "")
        if not self.count:
            return f"no durations ({counts})"
        return (
            f"median {_days(self.median)}, p90 {_days(self.p90)}, mean {_days(self.mean)} "
            f"({counts})"
        )


@attrs.frozen(kw_only=True, repr=False)
class FunnelRow:
    """One open stage of a funnel (see :func:`~salesstages.metrics.funnel`).

    Attributes:
        stage: The open stage.
        reached: Deals that reached it under the ``skips`` policy.
        conversion_rate: ``reached`` of the next open stage (of a won stage
            after the last) over ``reached`` here; ``None`` when nothing
            reached this stage.
        win_rate: ``won / (won + lost)`` among the deals that reached it;
            ``None`` when none of them is closed.
    """

    stage: str
    reached: int
    conversion_rate: float | None
    win_rate: float | None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``discovery: 335 reached, 82.1% converted, 48.9% won``."""
        return (
            f"{self.stage}: {self.reached:,} reached, {_pct(self.conversion_rate)} converted, "
            f"{_pct(self.win_rate)} won"
        )


@attrs.frozen(kw_only=True, repr=False)
class Ratio:
    """A rate with its parts.

    Attributes:
        numerator: What is counted (or summed, for a ratio of amounts).
        denominator: What it is counted among.
        rate: ``numerator / denominator``; ``None`` when the denominator is 0, or
            when the rate is not known (``reason`` says why).
        reason: Why ``rate`` is ``None`` although the denominator is not 0; else ``None``.
    """

    numerator: float
    denominator: float
    rate: float | None
    reason: str | None = None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``43.1% (88 of 204)``."""
        return f"{_pct(self.rate)} ({_amount(self.numerator)} of {_amount(self.denominator)})"


@attrs.frozen(kw_only=True, repr=False)
class SnapshotRow:
    """The open deals in one stage at a moment.

    Attributes:
        count: How many open deals were in the stage.
        amount: The sum of their ``amount`` attribute at that moment.
    """

    count: int
    amount: float

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``52 open deals, amount 1,585,640``."""
        return f"{self.count:,} open deals, amount {_amount(self.amount)}"


@attrs.frozen(kw_only=True, repr=False)
class Stall:
    """An open deal idle for longer than its stage's ``rot_after``.

    Attributes:
        deal_id: The deal.
        stage: The open stage it sits in.
        idle: ``as_of`` minus the time of its last event (of any kind).
    """

    deal_id: str
    stage: str
    idle: timedelta

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``D-7 in evaluation, idle 12.5 days``."""
        return f"{self.deal_id} in {self.stage}, idle {_days(self.idle)}"


@attrs.frozen(kw_only=True, repr=False)
class StageFlow:
    """How deals moved around one open stage (see
    :func:`~salesstages.metrics.skips_and_regressions`).

    Attributes:
        stage: The open stage.
        entered: Deals that entered it at least once.
        skipped: Deals that jumped over it at least once: a move from an
            earlier open stage to a later open stage or a won stage.
        skip_moves: How many such moves there were.
        regressed: Deals that moved backward out of it (to an earlier open
            stage) at least once.
        regress_moves: How many such moves there were.
        reopened: Deals that came back into it from a lost stage.
    """

    stage: str
    entered: int
    skipped: int
    skip_moves: int
    regressed: int
    regress_moves: int
    reopened: int

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``discovery: 315 entered, 12 skipped (14 moves), 3 regressed (3 moves), 1 reopened``."""
        return (
            f"{self.stage}: {self.entered:,} entered, {self.skipped:,} skipped "
            f"({self.skip_moves:,} moves), {self.regressed:,} regressed "
            f"({self.regress_moves:,} moves), {self.reopened:,} reopened"
        )


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LostReason:
    """The lost deals that gave one reason (see :func:`~salesstages.metrics.lost_reasons`).

    It unpacks like the ``(reason, deals, amount)`` tuple it replaces, and equals
    it: ``for reason, deals, amount in lost_reasons(...)`` keeps working.

    Attributes:
        reason: The lost reason of their latest loss
            (:data:`~salesstages.metrics.NO_REASON` when none was given).
        deals: How many deals are lost now with that reason.
        amount: The sum of their ``amount`` at closing.
    """

    reason: str
    deals: int
    amount: float

    __repr__ = _repr
    __eq__ = _eq_tuple
    __hash__ = _hash_tuple
    to_records = _one_row

    def __iter__(self) -> Iterator[Any]:
        """``reason, deals, amount``, so that the record unpacks like a tuple."""
        return iter((self.reason, self.deals, self.amount))

    def __getitem__(self, index: int) -> Any:
        """The field at ``index``, as in the tuple the record replaces."""
        return tuple(self)[index]

    def __str__(self) -> str:
        """``price: 12 deals, amount 340,000``."""
        return f"{self.reason}: {self.deals:,} deals, amount {_amount(self.amount)}"


def _fast_init(cls: type[Any]) -> Any:
    """A positional constructor that writes a slotted attrs class's slots directly.

    attrs' own ``__init__`` of a frozen class goes through ``object.__setattr__``
    once per field; for the hundreds of thousands of records a big log yields,
    calling the slot descriptors is about 40% faster. Only for trusted,
    already-typed values from inside this package; the generated code is built
    from the class's own field names, like attrs builds its ``__init__``.
    """
    names = [f.name for f in attrs.fields(cls)]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = ["    obj = _new(_cls)"]
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = getattr(cls, name).__set__
        body.append(f"    _set{i}(obj, {name})")
    source = f"def make({', '.join(names)}):\n" + "\n".join(body) + "\n    return obj\n"
    exec(source, namespace)
    return namespace["make"]
