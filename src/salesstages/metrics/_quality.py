"""What the data cannot show: :func:`data_quality` lists the gaps in a log that
would make a figure of the report mean less than its label says."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._events import Event
from ._common import amount_of, load
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory, Histories, stay_cells
from ._types import _one_row

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from .._replay import Problem

__all__ = [
    "DataQuality",
    "Finding",
    "amount_findings",
    "check_torn_tail",
    "data_quality",
    "final_amounts",
    "imputed_stages",
    "log_findings",
    "lost_findings",
    "no_rot_after",
    "older_findings",
]

#: How many example deal ids (or stage names) a finding keeps.
EXAMPLES: Final = 5
_DAY: Final = timedelta(days=1)
_US: Final = timedelta(microseconds=1)

#: Every finding's code, in the order :func:`data_quality` lists them.
CODES: Final = (
    "check_problems",
    "torn_tail",
    "open_without_amount",
    "closed_without_amount",
    "lost_zero_amount",
    "amounts_look_final",
    "lost_without_reason",
    "imputed_stage",
    "no_rot_after",
    "older_than_history",
)


@attrs.frozen(kw_only=True)
class Finding:
    """One gap in the data (see :func:`data_quality`).

    Attributes:
        code: What kind of gap, one of :data:`CODES` (stable, for programs).
        message: What is wrong and which figures it affects, in a sentence.
        count: How many deals (or stages, or problems) it concerns.
        examples: A few of them: deal ids, stage names or problem texts.
    """

    code: str
    message: str
    count: int
    examples: tuple[str, ...] = ()

    to_records = _one_row

    def __str__(self) -> str:
        more = f" (e.g. {', '.join(self.examples)})" if self.examples else ""
        return f"{self.message}{more}"


@attrs.frozen(kw_only=True)
class DataQuality:
    """The result of :func:`data_quality`: every finding, in a stable order.

    ``bool(quality)`` is true when there is something to say; iterate over it
    for the :class:`Finding` records; ``str(quality)`` prints one per line.

    Attributes:
        findings: The findings, in the order of :data:`CODES`.
    """

    findings: tuple[Finding, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the findings, in order."""
        return tuple(f.code for f in self.findings)

    def to_records(self) -> list[dict[str, Any]]:
        """One row per finding: ``code``, ``message``, ``count``, ``examples``."""
        return [row for f in self.findings for row in f.to_records()]

    def get(self, code: str) -> Finding | None:
        """The finding with ``code``, or ``None`` when there is none."""
        return next((f for f in self.findings if f.code == code), None)

    def __str__(self) -> str:
        if not self.findings:
            return "Data quality: nothing to report"
        return "\n".join(["Data quality:", *(f"- {f}" for f in self.findings)])


def _has_amount(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _deal_finding(code: str, deals: Sequence[str], message: str) -> Finding | None:
    if not deals:
        return None
    return Finding(code=code, message=message, count=len(deals), examples=_examples(deals))


def _examples(deals: Iterable[str]) -> tuple[str, ...]:
    """The first few deal ids in sorted order (the same whatever order the log is in)."""
    return tuple(sorted(deals)[:EXAMPLES])


def check_torn_tail(torn_tail: object) -> int:
    """``torn_tail`` must be a non-negative int (bytes)."""
    if isinstance(torn_tail, bool) or not isinstance(torn_tail, int) or torn_tail < 0:
        raise ValueError(f"torn_tail must be a non-negative int (bytes), got {torn_tail!r}")
    return torn_tail


def _of(part: int, whole: int, noun: str, verb: str | None = None) -> str:
    """``"every open deal (1,589) has"`` or ``"3 of 10 open deals have"``."""
    if part == whole:
        return f"{'the' if part == 1 else 'every'} {noun} ({part:,}) {verb or 'has'}"
    return f"{part:,} of {whole:,} {noun}s {verb or ('has' if part == 1 else 'have')}"


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


@engine
def data_quality(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    problems: Sequence[Problem] | None = None,
    torn_tail: int = 0,
) -> DataQuality:
    """List what the log cannot show, so that no figure is read as more than it is.

    Findings (each a :class:`Finding` with a ``code``, a ``message``, a
    ``count`` and a few ``examples``), in this order, only those that apply:

    - ``check_problems``: rules of the pipeline the log breaks, as
      :meth:`Pipeline.check <salesstages.Pipeline.check>` lists them. They are
      checked here when ``events`` is a list or tuple of events or an Ibis
      table and ``problems`` is not given; pass ``problems`` (say, from a
      check already run) to use those instead.
    - ``torn_tail``: ``torn_tail`` bytes of a torn last line were skipped
      when the log was read (a JSON Lines store's ``torn_tail``).
    - ``open_without_amount`` / ``closed_without_amount``: deals with no
      numeric ``amount`` (open now, or at their closing): every amount figure
      counts them as 0.
    - ``lost_zero_amount``: lost deals whose amount at closing is 0 while won
      deals have amounts (a CRM that zeroes the value of a lost deal): the win
      rate by amount then reads near 100 %.
    - ``amounts_look_final``: no deal's amount ever changes after its opening
      event, every lost deal carries an amount of 0 and every won deal one above
      0: the signature of an export that wrote each deal's final value on its
      opening (hindsight). A forecast or backtest as of a past date then sees the
      value each deal will end with (deals later lost count 0, deals later won
      their final amount), so it looks better than it could have been.
    - ``lost_without_reason``: lost deals with no ``reason``.
    - ``imputed_stage``: open stages that no deal entered, but that the
      ``"imputed"`` funnel counts as reached by every deal that went past them.
    - ``no_rot_after``: no stage has ``rot_after`` while deals are open, so
      no deal can show as stalled (an empty stalled list means "not measured").
    - ``older_than_history``: open deals that have been in their stage longer
      (in whole days) than any past stay there that was seen to close: no
      outlook exists for them (:func:`~salesstages.forecast.stage_outlook` gives
      ``None``) and the conditional forecast, like every forecast within a
      horizon, counts them as 0.

    Raises:
        NaiveTimeError: ``as_of`` has no timezone.
        ValueError: ``torn_tail`` is negative.
    """
    check_torn_tail(torn_tail)
    if is_ibis_table(events):
        return on_table(data_quality)(
            events, pipeline, as_of=as_of, problems=problems, torn_tail=torn_tail
        )
    if problems is None and isinstance(events, list | tuple):
        problems = pipeline.check(_events_only(events))
    hist = load(events, pipeline, as_of)
    return DataQuality(findings=tuple(_findings(hist, pipeline, problems or (), torn_tail)))


def _events_only(events: Iterable[Any]) -> list[Event]:
    return [e for e in events if isinstance(e, Event)]


def _findings(
    hist: Histories, pipeline: Pipeline, problems: Sequence[Problem], torn_tail: int
) -> Iterator[Finding]:
    yield from log_findings(problems, torn_tail)
    yield from _deal_findings(hist, pipeline)


def log_findings(problems: Sequence[Problem], torn_tail: int) -> Iterator[Finding]:
    """The findings about the log as read: rules broken, a torn tail skipped."""
    if problems:
        yield Finding(
            code="check_problems",
            message=f"the log breaks the pipeline's rules: {_n(len(problems), 'problem')} "
            "(`salesstages check` lists them); figures may count moves that never happened",
            count=len(problems),
            examples=tuple(f"{p.deal_id}: {p.rule}" for p in problems[:EXAMPLES]),
        )
    if torn_tail:
        yield Finding(
            code="torn_tail",
            message=f"a torn last line ({torn_tail:,} bytes) was skipped when the log was read",
            count=1,
        )


def _deal_findings(hist: Histories, pipeline: Pipeline) -> Iterator[Finding]:
    deals = list(hist.deals.values())
    opened = [h for h in deals if h.outcome == "open"]
    closed = [h for h in deals if h.outcome != "open"]
    yield from amount_findings(
        [h.deal_id for h in opened if not _has_amount(h.attributes.get("amount"))],
        len(opened),
        [h.deal_id for h in closed if not _has_amount(h.closed_amount)],
        len(closed),
    )
    lost = [h for h in deals if h.outcome == "lost"]
    yield from lost_findings(
        [h.deal_id for h in lost if _has_amount(h.closed_amount) and h.closed_amount == 0],
        len(lost),
        any(
            _has_amount(h.closed_amount) and h.closed_amount > 0
            for h in deals
            if h.outcome == "won"
        ),
        [h.deal_id for h in lost if h.lost_reason is None],
        final_amounts(
            sum(1 for h in deals if _amount_changed(h)),
            len(lost),
            sum(1 for h in lost if amount_of(h.closed_amount) != 0),
            sum(1 for h in deals if h.outcome == "won"),
            sum(1 for h in deals if h.outcome == "won" and not amount_of(h.closed_amount) > 0),
        ),
    )
    yield from _timing_findings(hist, pipeline, opened)


def _amount_changed(h: DealHistory) -> bool:
    """True when an update changed the deal's amount after its opening event."""
    amounts = h.amounts
    if amounts is None:
        return False
    first = amount_of(amounts[0][1])
    return any(amount_of(v) != first for _, v in amounts[1:])


def final_amounts(
    changed: int, n_lost: int, lost_nonzero: int, n_won: int, won_zero: int
) -> Finding | None:
    """``amounts_look_final`` from the number of deals whose amount changed after their
    opening, of lost deals and of those closed at an amount other than 0, of won deals
    and of those closed at an amount of 0 (shared with the Ibis engine)."""
    if changed or not n_lost or lost_nonzero or not n_won or won_zero:
        return None
    return Finding(
        code="amounts_look_final",
        message=f"no deal's amount ever changes after it was opened, every lost deal "
        f"({n_lost:,}) carries 0 and every won deal ({n_won:,}) an amount: the amounts "
        "look like final values written at opening (hindsight), so a forecast or "
        "backtest as of a past date sees how each deal ends and is not fair",
        count=n_lost + n_won,
    )


def amount_findings(
    open_missing: Sequence[str], n_open: int, closed_missing: Sequence[str], n_closed: int
) -> Iterator[Finding]:
    """``open_without_amount`` and ``closed_without_amount`` from the deals without a
    numeric amount (open now, or at closing) and how many deals are open and closed
    (shared with the Ibis engine)."""
    found = _deal_finding(
        "open_without_amount",
        open_missing,
        f"{_of(len(open_missing), n_open, 'open deal')} no amount: the open "
        "pipeline and every forecast count them as 0",
    )
    if found:
        yield found
    found = _deal_finding(
        "closed_without_amount",
        closed_missing,
        f"{_of(len(closed_missing), n_closed, 'closed deal', 'had')} no amount at "
        "closing: the win rate by amount and the backtest count them as 0",
    )
    if found:
        yield found


def lost_findings(
    zero: Sequence[str],
    n_lost: int,
    won_money: bool,
    no_reason: Sequence[str],
    final: Finding | None = None,
) -> Iterator[Finding]:
    """``lost_zero_amount``, ``amounts_look_final`` (``final``, from :func:`final_amounts`)
    and ``lost_without_reason`` from the lost deals closed at an amount of 0, how many
    deals are lost, whether a won deal closed with an amount above 0, and the lost
    deals without a reason (shared with the Ibis engine)."""
    if zero and won_money:
        share = (
            f"every lost deal ({len(zero):,})"
            if len(zero) == n_lost
            else f"{len(zero):,} of {n_lost:,} lost deals"
        )
        yield Finding(
            code="lost_zero_amount",
            message=f"{share} closed with an amount of 0 while won deals have amounts "
            "(a CRM that zeroes a lost deal's value?): the win rate by amount counts "
            "nothing lost there and reads too high",
            count=len(zero),
            examples=_examples(zero),
        )
    if final is not None:
        yield final
    found = _deal_finding(
        "lost_without_reason",
        no_reason,
        f"{_of(len(no_reason), n_lost, 'lost deal')} no lost reason",
    )
    if found:
        yield found


def imputed_stages(
    pipeline: Pipeline, reached: Mapping[str, int], entered: Mapping[str, int]
) -> Finding | None:
    """The ``imputed_stage`` finding from the imputed funnel's ``reached`` and the
    deals that entered each open stage (shared with the report on any engine)."""
    stages = [
        s.name
        for s in pipeline.open_stages
        if reached.get(s.name, 0) > 0 and entered.get(s.name, 0) == 0
    ]
    if not stages:
        return None
    counts = ", ".join(f"{s} ({reached[s]:,} deals)" for s in stages)
    return Finding(
        code="imputed_stage",
        message=f"no deal ever entered {counts}: the funnel imputes "
        f"{'it' if len(stages) == 1 else 'them'} to every deal that went past, so "
        f"{'its' if len(stages) == 1 else 'their'} 'reached' and conversion are invented",
        count=len(stages),
        examples=tuple(stages[:EXAMPLES]),
    )


def no_rot_after(
    pipeline: Pipeline, open_deals: int, median_age: timedelta | None
) -> Finding | None:
    """The ``no_rot_after`` finding from the number of open deals and their median
    age in their stage (``None``: not known)."""
    if not open_deals or any(s.rot_after is not None for s in pipeline.open_stages):
        return None
    age = "" if median_age is None else f" (median {median_age / _DAY:,.1f} days in their stage)"
    return Finding(
        code="no_rot_after",
        message="no stage has rot_after, so stalled deals are not measured: "
        f"{_n(open_deals, 'open deal')}{age} could be stalled",
        count=open_deals,
    )


def _timing_findings(
    hist: Histories, pipeline: Pipeline, opened: list[DealHistory]
) -> Iterator[Finding]:
    as_of = hist.as_of
    if as_of is None:
        return
    entered: dict[str, int] = {}
    for h in hist.deals.values():
        for st in {stage for _, stage, _ in h.entries}:
            entered[st] = entered.get(st, 0) + 1
    from ._funnel import funnel

    rows = funnel(hist, pipeline, skips="imputed")
    assert isinstance(rows, list)
    found = imputed_stages(pipeline, {r.stage: r.reached for r in rows}, entered)
    if found:
        yield found
    ages = [(as_of - h.entries[-1][0]) / _US for h in opened]
    median = timedelta(microseconds=statistics.median(ages)) if ages else None
    found = no_rot_after(pipeline, len(opened), median)
    if found:
        yield found
    yield from older_findings(_older_than_history(hist, pipeline, opened))


def older_findings(older: Sequence[str]) -> Iterator[Finding]:
    """``older_than_history`` from the open deals older than any closed stay in their
    stage (shared with the Ibis engine)."""
    found = _deal_finding(
        "older_than_history",
        older,
        f"{_n(len(older), 'open deal')} {'has' if len(older) == 1 else 'have'} been in "
        f"{'its' if len(older) == 1 else 'their'} stage longer than any past stay there "
        "that closed: no outlook exists for "
        f"{'it' if len(older) == 1 else 'them'}, so the conditional forecast and every "
        f"forecast within a horizon count {'it' if len(older) == 1 else 'them'} as 0",
    )
    if found:
        yield found


def _older_than_history(
    hist: Histories, pipeline: Pipeline, opened: list[DealHistory]
) -> list[str]:
    """Open deals whose whole days in their stage exceed every closed stay there
    (the stays :func:`salesstages.forecast.conditional_forecast` learns from)."""

    as_of = hist.as_of
    assert as_of is not None
    longest: dict[str, int] = {}
    for stage, cells in stay_cells(hist, pipeline).items():
        closed = [key >> 32 for key in cells if key & 3]
        longest[stage] = max(closed, default=-1)
    return [
        h.deal_id for h in opened if (as_of - h.entries[-1][0]) // _DAY > longest.get(h.stage, -1)
    ]
