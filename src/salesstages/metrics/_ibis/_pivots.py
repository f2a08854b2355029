"""The two pivots every metric is built on, as Ibis expressions, and running them.

:class:`Pivots` holds, for one table, pipeline and ``as_of``:

``entries``
    Every ``stage_entered`` event at or before ``as_of``: ``deal_id, seq,
    at_us, stage, next_at, next_stage`` (the deal's next stage entry, by
    ``seq``; null for its last one), ``reason`` (see :attr:`Pivots.entries`),
    ``c_at`` and ``c_code`` (the deal's next closing at or after this entry:
    when, and 1 won or 2 lost; null while it has not closed since).
``visits``
    ``entries`` in open stages: one row per visit, with ``is_open`` (1/0)
    and ``dur`` (µs to the next entry, or to ``as_of`` while open).
``deals``
    One row per deal with a stage entry at or before ``as_of``: ``opened_at``
    (its ``opened`` event, else its first entry), ``stage`` and
    ``entered_at`` (its last entry), ``outcome`` (``"open"``, ``"won"``,
    ``"lost"``), ``top`` (1 + the highest funnel position it entered: open
    stages 0 … n-1, won stages n), ``f0`` … ``f<n>`` (1 when it entered that
    position), ``closed_at``, ``closed_outcome``, ``reason`` and
    ``closed_amount`` of its latest closing, ``amount`` now, ``last_at`` (its
    last event of any kind) and, with ``by``, the key columns ``k_s, k_b,
    k_i, k_f`` (the attribute at opening as a string, boolean, integer or
    float: one of them is set, or none for a missing or null value) and
    ``k_x`` (1 for a list or an object, which is refused).

``amounts``
    Every setting of the ``amount`` attribute (``deal_id, seq, at_us, amt``):
    what the deal pivot's amounts, and a rewound view's, are read from.

Inside a :func:`salesstages.metrics.session` over the table, ``entries``,
``amounts`` and ``deals`` are materialised once and kept until the session ends
(an ``as_of`` at or after the last event shares the uncut ones), and the scan
that checks the stages and settles ``as_of`` runs once per pipeline and
``as_of``; without one nothing is kept between calls. :class:`Rewound`
derives the view at an earlier ``as_of`` from them with no pass over the events
(a backtest's dates, as :func:`salesstages.metrics._history.rewind`: it trusts
that times never go back within a deal).

Times are whole microseconds since the epoch (``at_us``), so durations are
exact integers on every backend; amounts follow
:func:`salesstages.metrics._common.amount_of` (a JSON number, else 0; a
boolean is not a number).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..._errors import InvalidLogError, SalesStagesError
from ..._time import to_utc
from .._common import check_by, unknown_attribute
from .._segments import typed_segments
from .._session import Session, current
from .._types import Keyed
from ._checks import prepare_checked
from ._columns import backend_name, from_us, ibis, missing_function, to_us
from ._json import reader

if TYPE_CHECKING:
    from ..._pipeline import Pipeline

__all__ = ["KEY_COLUMNS", "NO_KEY", "Pivots", "Rewound", "grouped", "rows"]

T = TypeVar("T")
#: The columns that carry a ``by=`` key (see the module docstring).
KEY_COLUMNS: Final = ("k_s", "k_b", "k_i", "k_f", "k_x")
#: Every optional part of the deal pivot.
_PARTS: Final = ("opened", "amount", "closed_amount", "last", "reason")
#: The reason column's value for a closing without a (string) reason.
NO_KEY: Final = "\x1f"


def rows(expr: Any, table: Any, what: str) -> list[dict[str, Any]]:
    """Run ``expr`` on its backend; its rows as dicts (decimals become ints or floats)."""
    out: list[dict[str, Any]] = _arrow(expr, table, what).to_pylist()
    for row in out:
        for k, v in row.items():
            if isinstance(v, Decimal):
                row[k] = int(v) if v == v.to_integral_value() else float(v)
    return out


def _arrow(expr: Any, table: Any, what: str) -> Any:
    """Run ``expr`` on its backend; the pyarrow Table (see :func:`rows`)."""
    try:
        with warnings.catch_warnings():
            # Ibis 12 calls DuckDB 2's deprecated fetch_arrow_table
            warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
            result = expr.to_pyarrow()
    except SalesStagesError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("ibis"):
            raise missing_function(table, what, exc) from exc
        raise
    return result


def key_value(row: dict[str, Any], by: str) -> Hashable:
    """The Python value of a ``by=`` key from its key columns.

    Raises:
        SalesStagesError: The attribute holds a list or an object (``k_x``), which
            the Ibis engine does not bring back to key on.
    """
    if row["k_x"]:
        raise SalesStagesError(
            f"by={by!r}: some deals hold a list or an object in {by!r}; the Ibis engine "
            "segments on strings, numbers and booleans only: run this on events, or "
            "segment on an attribute holding a scalar"
        )
    if row["k_s"] is not None:
        return str(row["k_s"])
    if row["k_b"] is not None:
        return bool(row["k_b"])
    if row["k_i"] is not None:
        return int(row["k_i"])
    if row["k_f"] is not None:
        return float(row["k_f"])
    return None


def grouped(
    by: str | None,
    keys: Iterable[dict[str, Any]],
    results: dict[tuple[Any, ...], T],
    empty: Callable[[], T],
) -> T | dict[Hashable, T]:
    """The result with ``by=None`` (``results[()]``), else a dict keyed like
    :func:`salesstages.metrics._common.segmented`: every key of ``keys``, sorted
    (``None`` last), each with its result or ``empty()``."""
    if by is None:
        return results.get((), empty()) if results else empty()
    pairs = []
    for row in keys:
        raw = tuple(row[c] for c in KEY_COLUMNS)
        pairs.append((key_value(row, by), results.get(raw, empty()) if results else empty()))
    return Keyed(by, typed_segments(pairs))


class Pivots:
    """The pivots of one table for one pipeline and ``as_of`` (see the module docstring)."""

    as_of_us: int | None
    session: Session | None
    _full: bool

    def __init__(
        self,
        table: Any,
        pipeline: Pipeline,
        as_of: datetime | None,
        *,
        by: str | None = None,
    ) -> None:
        from ..._pipeline import Pipeline

        if not isinstance(pipeline, Pipeline):
            raise TypeError(
                f"pipeline must be a salesstages.Pipeline, got {type(pipeline).__name__}; "
                "metrics take (events, pipeline, ...)"
            )
        self.by = check_by(by)
        self.table = table
        self.pipeline = pipeline
        self.backend = backend_name(table)
        self.t = prepare_checked(table)  # the read rules first, once per table
        self.json = reader(self.backend)
        self.opens: tuple[str, ...] = tuple(s.name for s in pipeline.open_stages)
        self.won: tuple[str, ...] = tuple(s.name for s in pipeline.won_stages)
        self.lost: tuple[str, ...] = tuple(s.name for s in pipeline.lost_stages)
        self.names: tuple[str, ...] = tuple(s.name for s in pipeline.stages)
        cut = None if as_of is None else to_us(to_utc(as_of, "as_of"))
        self.session = current(table)
        if self.session is None:
            self.as_of_us = self._scan(cut)
        else:  # one scan per pipeline and as_of while the session is open
            self.as_of_us, self._full = self.session.scan(
                ("scan", self.names, cut), lambda: (self._scan(cut), self._full)
            )
        self.as_of: datetime | None = None if self.as_of_us is None else from_us(self.as_of_us)
        if self.by is not None:
            self.check_attribute(self.by)

    def check_attribute(self, name: str, *, opened: bool = True) -> None:
        """Raise the pure-Python engine's error when no deal has attribute ``name`` at
        opening (or, with ``opened`` false, in any ``opened`` or ``updated`` event)."""
        if self.as_of_us is None:
            return
        k = self.kept
        kinds = (k.kind == "opened") if opened else k.kind.isin(["opened", "updated"])
        hit = k.filter(kinds & self.json.present(k.data, name)).select("deal_id").limit(1)
        if self.run(hit, "check"):
            return
        known: set[str] = set()
        sample = self.run(k.filter(kinds).select("data").limit(1000), "sample")
        if not sample:  # no deal by as_of: nothing to check against (as on events)
            return
        for r in sample:
            data = r["data"]
            if isinstance(data, str):
                with contextlib.suppress(ValueError):
                    data = json.loads(data)
            if isinstance(data, dict):
                known.update(str(key) for key in data)
        raise unknown_attribute(name, known)

    # ------------------------------------------------------------ queries
    def run(self, expr: Any, what: str) -> list[dict[str, Any]]:
        """Run ``expr``; its rows (see :func:`rows`)."""
        return rows(expr, self.table, what)

    def arrow(self, expr: Any, what: str) -> Any:
        """Run ``expr``; its result as a pyarrow Table."""
        return _arrow(expr, self.table, what)

    def _scan(self, cut: int | None) -> int | None:
        """Check the stages and settle ``as_of`` in one scan of three narrow columns;
        ``as_of`` defaults to the latest event of a deal with a stage entry (a second,
        exact query only when a deal without any stage entry has the latest event)."""
        t = self.t
        entry = t.kind == "stage_entered"
        unknown = entry & ~t.stage.isin(self.names)
        if cut is not None:
            unknown = unknown & (t.at_us <= cut)
        got = self.run(
            t.aggregate(
                m=t.at_us.max(),
                e=t.at_us.max(where=entry),
                bad=ibis.ifelse(unknown, 1, 0).sum(),
            ),
            "max",
        )[0]
        if got["bad"]:
            self._refuse_unknown_stage(unknown)
        # every event is kept: the pivots are the same as without a cut
        self._full = cut is None or got["m"] is None or cut >= got["m"]
        if cut is not None:
            return cut
        if got["m"] is None or got["e"] is None:
            return None
        if got["m"] == got["e"]:
            return int(got["m"])
        entered = t.filter(entry).select("deal_id").distinct()
        kept = t.semi_join(entered, "deal_id")
        value = self.run(kept.aggregate(m=kept.at_us.max()), "max")[0]["m"]
        return None if value is None else int(value)

    def _refuse_unknown_stage(self, unknown: Any) -> None:
        t = self.t
        got = self.run(
            t.filter(unknown)
            .order_by(["deal_id", "seq"])
            .select("deal_id", "seq", "stage")
            .limit(1),
            "filter",
        )
        e = got[0]
        raise InvalidLogError(
            f"deal {e['deal_id']!r}, seq {e['seq']}: unknown stage {e['stage']!r} "
            f"(rule 'unknown_stage'); the pipeline's stages are {', '.join(self.names)}; "
            "is this the pipeline the log was written with?",
            deal_id=e["deal_id"],
            seq=e["seq"],
            rule="unknown_stage",
        )

    def cached(self, name: str, build: Callable[[], Any]) -> Any:
        """``build()`` materialised on the backend once per pipeline, ``as_of`` and
        ``name`` while a :func:`~salesstages.metrics.session` over the table is open;
        ``build()`` itself (an expression, nothing kept) without one. The pivots do
        not depend on ``as_of`` beyond the events it keeps, so every ``as_of`` at or
        after the last event shares one."""
        if self.session is None:
            return build()
        key = (
            self.names,
            self.opens,
            self.won,
            self.lost,
            None if self._full else self.as_of_us,
            name,
        )
        return self.session.materialised(key, self.table._find_backend(), build)

    # -------------------------------------------------------- expressions
    @property
    def kept(self) -> Any:
        """The events at or before ``as_of``."""
        t = self.t
        return t if self.as_of_us is None else t.filter(t.at_us <= self.as_of_us)

    @property
    def entries(self) -> Any:
        """Every stage entry kept, with the deal's next entry and, for a lost stage,
        its string ``reason`` (:data:`NO_KEY` otherwise)."""
        return self.cached("entries", self._entries)

    def _entries(self) -> Any:
        k = self.kept
        ent = k.filter(k.kind == "stage_entered")
        w = ibis.window(group_by="deal_id", order_by="seq")
        reason = ibis.ifelse(
            ent.stage.isin(self.lost),
            self.json.string(ent.data, "reason").coalesce(NO_KEY),
            NO_KEY,
        )
        closed = ent.stage.isin(self.won + self.lost)
        code = ibis.ifelse(ent.stage.isin(self.won), 1, 2)
        # the deal's next closing at or after this entry, by seq: its time (times never
        # go back within a deal in a log that passes Pipeline.check) and its code
        after = ibis.window(group_by="deal_id", order_by="seq", preceding=0, following=None)
        e = ent.select(
            "deal_id",
            "seq",
            "at_us",
            "stage",
            reason=reason,
            next_at=ent.at_us.lead().over(w),
            next_stage=ent.stage.lead().over(w),
            c_at=ibis.ifelse(closed, ent.at_us, ibis.null("int64")).min().over(after),
            c_packed=ibis.ifelse(closed, ent.seq * 4 + code, ibis.null("int64")).min().over(after),
        )
        return e.select(
            "deal_id",
            "seq",
            "at_us",
            "stage",
            "reason",
            "next_at",
            "next_stage",
            "c_at",
            c_code=e.c_packed % 4,
        )

    @property
    def visits(self) -> Any:
        """One row per visit to an open stage."""
        e = self.entries
        v = e.filter(e.stage.isin(self.opens))
        as_of = ibis.literal(self.as_of_us or 0, type="int64")
        return v.select(
            "deal_id",
            "seq",
            "stage",
            "at_us",
            "next_at",
            "next_stage",
            is_open=ibis.ifelse(v.next_at.isnull(), 1, 0),
            dur=v.next_at.coalesce(as_of) - v.at_us,
        )

    def position(self, stage: Any) -> Any:
        """The funnel position of a stage column: open stages 0 … n-1, won n, else -1."""
        n = len(self.opens)
        mapping = {name: i for i, name in enumerate(self.opens)}
        mapping.update(dict.fromkeys(self.won, n))
        return stage.substitute(mapping, else_=-1)

    def outcome(self, stage: Any) -> Any:
        """``"won"``, ``"lost"`` or ``"open"`` for a stage column."""
        return ibis.ifelse(
            stage.isin(self.won), "won", ibis.ifelse(stage.isin(self.lost), "lost", "open")
        )

    def key_columns(self, data: Any) -> dict[str, Any]:
        """The ``by=`` key columns read from a JSON ``data`` column."""
        assert self.by is not None
        return self.key_columns_of(data, self.by)

    def key_columns_of(self, data: Any, name: str) -> dict[str, Any]:
        """The key columns of attribute ``name`` read from a JSON ``data`` column."""
        j = self.json
        return {
            "k_s": j.string(data, name),
            "k_b": j.boolean(data, name),
            "k_i": j.integer(data, name),
            "k_f": j.number(data, name),
            "k_x": ibis.ifelse(j.compound(data, name), 1, 0),
        }

    @property
    def deals(self) -> Any:
        """One row per deal with every column (see the module docstring)."""
        return self.deals_with(*_PARTS)

    def deals_with(self, *parts: str) -> Any:
        """One row per deal with (at least) the columns of ``parts`` (see :meth:`_deals`):
        every column, materialised once, inside a session."""
        if self.session is not None:
            return self.cached(f"deals:{self.by}", lambda: self._deals(*_PARTS))
        return self._deals(*parts)

    def _deals(self, *parts: str) -> Any:
        """One row per deal: ``deal_id, stage, entered_at, top, f0 … f<n>,
        closed_at, outcome, closed_outcome``, the key columns with ``by``, and the
        columns of ``parts``: ``"opened"`` (``opened_at``), ``"amount"``,
        ``"closed_amount"``, ``"last"`` (``last_at``), ``"reason"``. Each part is
        a join or a JSON read the others do not pay for."""
        k = self.kept
        e = self.entries
        n = len(self.opens)
        closed_names = self.won + self.lost
        pos = self.position(e.stage)
        is_closed = e.stage.isin(closed_names)
        flags = {f"f{i}": ibis.ifelse(pos == i, 1, 0).max() for i in range(n + 1)}
        extra: dict[str, Any] = {}
        if "reason" in parts:
            extra["reason"] = e.reason.argmax(e.seq, where=is_closed)
        agg = e.group_by("deal_id").aggregate(
            first_at=e.at_us.argmin(e.seq),
            stage=e.stage.argmax(e.seq),
            entered_at=e.at_us.argmax(e.seq),
            top=(pos + 1).max(),
            close_seq=e.seq.max(where=is_closed),
            closed_at=e.at_us.argmax(e.seq, where=is_closed),
            closed_stage=e.stage.argmax(e.seq, where=is_closed),
            **flags,
            **extra,
        )
        d = agg
        cols: dict[str, Any] = {}
        keys: dict[str, Any] = {}
        if self.by is None and ("opened" in parts or "last" in parts):
            # the last opened event and the last event of any kind: one grouping
            opened = k.kind == "opened"
            per = k.group_by(o_deal="deal_id").aggregate(
                o_at=k.at_us.argmax(k.seq, where=opened), last_at=k.at_us.argmax(k.seq)
            )
            d = d.left_join(per, d.deal_id == per.o_deal)
            cols["opened_at"] = d.o_at.coalesce(d.first_at)
            cols["last_at"] = d.last_at
            parts = tuple(p for p in parts if p not in ("opened", "last"))
        if "opened" in parts or self.by is not None:
            # the last opened event: when, and the attributes by= segments on
            op = k.filter(k.kind == "opened")
            op = op.mutate(last=op.seq.max().over(ibis.window(group_by="deal_id")))
            op = op.filter(op.seq == op.last)
            keys = self.key_columns(op.data) if self.by is not None else {}
            op = op.select(o_deal="deal_id", o_at="at_us", **keys)
            d = d.left_join(op, d.deal_id == op.o_deal)
            cols["opened_at"] = d.o_at.coalesce(d.first_at)
        if "amount" in parts or "closed_amount" in parts:
            # the amount attribute: set by every opened event, and by updates carrying it
            am = self.amounts
            if "amount" in parts:
                now = am.group_by(n_deal="deal_id").aggregate(a_now=am.amt.argmax(am.seq))
                d = d.left_join(now, d.deal_id == now.n_deal)
                cols["amount"] = d.a_now.coalesce(0.0)
            if "closed_amount" in parts:
                cs = agg.select(c_deal="deal_id", c_seq="close_seq")
                cs = cs.filter(cs.c_seq.notnull())
                at_close = am.join(cs, [am.deal_id == cs.c_deal, am.seq < cs.c_seq])
                at_close = at_close.group_by(a_deal="deal_id").aggregate(
                    a_close=at_close.amt.argmax(at_close.seq)
                )
                d = d.left_join(at_close, d.deal_id == at_close.a_deal)
                cols["closed_amount"] = d.a_close.coalesce(0.0)
        if "last" in parts:
            last = k.group_by(l_deal="deal_id").aggregate(last_at=k.at_us.argmax(k.seq))
            d = d.left_join(last, d.deal_id == last.l_deal)
            cols["last_at"] = d.last_at
        return d.select(
            "deal_id",
            "stage",
            "entered_at",
            "top",
            "closed_at",
            *[f"f{i}" for i in range(n + 1)],
            *keys,
            *extra,
            outcome=self.outcome(d.stage),
            closed_outcome=self.outcome(d.closed_stage),
            **cols,
        )

    @property
    def amounts(self) -> Any:
        """Every setting of the ``amount`` attribute kept: ``deal_id, seq, at_us, amt``
        (set by every opened event, and by updates carrying it); materialised once."""
        return self.cached("amounts", self._amounts)

    def _amounts(self) -> Any:
        k = self.kept
        item = self.json.present(k.data, "amount")
        am = k.filter((k.kind == "opened") | ((k.kind == "updated") & item))
        return am.select(
            "deal_id", "seq", "at_us", amt=self.json.number(am.data, "amount").coalesce(0.0)
        )

    def keys(self, deals: Any) -> list[dict[str, Any]]:
        """The distinct ``by=`` key columns over ``deals``."""
        if self.by is None:
            return []
        return self.run(deals.select(*KEY_COLUMNS).distinct(), "distinct")

    @property
    def group(self) -> list[str]:
        """The columns a per-key aggregate groups by (none without ``by``)."""
        return list(KEY_COLUMNS) if self.by is not None else []

    def key_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The group of an aggregate's row (``()`` without ``by``)."""
        return tuple(row[c] for c in KEY_COLUMNS) if self.by is not None else ()


class Rewound(Pivots):
    """The pivots of ``base`` as they stood at an earlier ``as_of`` (µs), derived from
    its materialised pivots with no pass over the events (what a backtest asks at
    each of its dates), as :func:`salesstages.metrics._history.rewind`: the stage
    entries up to ``as_of`` (a next entry after it is not seen yet) and the amount
    then. Only the deal columns a backtest reads are there (``"amount"`` and
    ``"closed_amount"``, not ``"opened"``, ``"last"`` nor ``by``)."""

    def __init__(self, base: Pivots, as_of_us: int, *, materialise: bool = False) -> None:
        self.by = None
        self._materialise = materialise
        self.table = base.table
        self.pipeline = base.pipeline
        self.backend = base.backend
        self.t = base.t
        self.json = base.json
        self.opens, self.won, self.lost, self.names = base.opens, base.won, base.lost, base.names
        self.session = base.session
        self._full = False
        self._base = base
        self.as_of_us = as_of_us
        self.as_of = from_us(as_of_us)

    @property
    def kept(self) -> Any:
        k = self._base.kept
        return k.filter(k.at_us <= self.as_of_us)

    @property
    def entries(self) -> Any:
        e = self._base.entries
        e = e.filter(e.at_us <= self.as_of_us)
        later = e.next_at > self.as_of_us
        unclosed = e.c_at > self.as_of_us
        return e.mutate(
            next_at=ibis.ifelse(later, ibis.null("int64"), e.next_at),
            next_stage=ibis.ifelse(later, ibis.null("string"), e.next_stage),
            c_at=ibis.ifelse(unclosed, ibis.null("int64"), e.c_at),
            c_code=ibis.ifelse(unclosed, ibis.null("int64"), e.c_code),
        )

    @property
    def amounts(self) -> Any:
        am = self._base.amounts
        return am.filter(am.at_us <= self.as_of_us)

    def deals_with(self, *parts: str) -> Any:
        """One row per deal with a stage entry by ``as_of``: ``deal_id``, ``stage`` and
        ``entered_at`` (its last entry by then), ``outcome``, ``amount`` (then) and,
        for a deal closed then (``outcome`` not ``"open"``), ``closed_at`` and
        ``closed_amount`` of that closing (null for an open deal). Built from the
        last entry of each deal (no grouping); materialised (every column) when asked
        for at construction and the cache is on."""
        assert set(parts) <= {"amount", "closed_amount"}, parts
        if self._materialise and self.session is not None:
            return self.cached("deals", lambda: self._rewound_deals("closed_amount"))
        return self._rewound_deals(*parts)

    def _rewound_deals(self, *parts: str) -> Any:
        e = self.entries
        last = e.filter(e.next_at.isnull())
        am = self.amounts
        now = am.group_by(n_deal="deal_id").aggregate(a_now=am.amt.argmax(am.seq))
        d = last.left_join(now, last.deal_id == now.n_deal)
        closed = d.stage.isin(self.won + self.lost)
        d = d.select(
            "deal_id",
            "seq",
            "stage",
            entered_at=d.at_us,
            outcome=self.outcome(d.stage),
            amount=d.a_now.coalesce(0.0),
            closed_at=ibis.ifelse(closed, d.at_us, ibis.null("int64")),
        )
        if "closed_amount" not in parts:
            return d
        c = d.filter(d.outcome != "open").select(c_deal="deal_id", c_seq="seq")
        at_close = am.join(c, [am.deal_id == c.c_deal, am.seq < c.c_seq])
        at_close = at_close.group_by(a_deal="deal_id").aggregate(
            a_close=at_close.amt.argmax(at_close.seq)
        )
        d = d.left_join(at_close, d.deal_id == at_close.a_deal)
        return d.select(
            "deal_id",
            "stage",
            "entered_at",
            "outcome",
            "amount",
            "closed_at",
            closed_amount=ibis.ifelse(
                d.outcome != "open", d.a_close.coalesce(0.0), ibis.null("float64")
            ),
        )


def fsum_of(values: Iterable[float]) -> float:
    """An exactly rounded sum (for per-group sums brought back); beyond the float range a
    :class:`DataError` (see :func:`salesstages.metrics._common.amount_sum`)."""
    from .._common import amount_sum

    return amount_sum(values)
