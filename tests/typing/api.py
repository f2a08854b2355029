"""Typed usage examples: ``mypy --strict`` must accept this file (it is not run).

If a public signature changes in a way that breaks user code, this file stops
type-checking.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import salesstages as ss
from salesstages import guards, presets


def build() -> ss.Pipeline:
    entry: guards.Guard = ss.all_of(ss.meeting_accepted("discovery"), ss.field("amount"))
    stages = [
        ss.Stage("lead", rot_after=timedelta(days=14)),
        ss.Stage("discovery", entry=entry, probability=0.2),
        ss.Stage("proposal", entry=ss.document_sent("proposal"), substates=("review",)),
        ss.Stage("won", outcome="won"),
        ss.Stage("lost", outcome="lost"),
    ]
    return ss.Pipeline("typed", stages, allow_regress=True)


@ss.guard("has a champion")
def has_champion(deal: ss.DealView) -> bool:
    return bool(deal.attributes.get("champion"))


def use(pipeline: ss.Pipeline) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    store: ss.EventStore = ss.MemoryStore()
    deal: ss.Deal = pipeline.open_deal("D", at=at, store=store, amount=10)
    verdict: ss.Verdict = deal.can_move("discovery")
    reasons: tuple[str, ...] = verdict.reasons
    ok: bool = bool(verdict)
    event: ss.Event = deal.record("meeting_booked", at=at, meeting="discovery")
    data: Mapping[str, Any] = event.data
    deal.update(at=at, amount=12)
    try:
        deal.move("discovery", at=at)
    except ss.TransitionRefused as exc:
        refused: ss.Verdict = exc.verdict
        del refused
    deal.lose(at=at, reason="price")
    deal.reopen(at=at)
    deals: dict[str, ss.Deal] = pipeline.replay(store.events(), strict=False)
    problems: list[ss.Problem] = pipeline.check(store.events(), guards=True)
    d: dict[str, Any] = pipeline.to_dict()
    again: ss.Pipeline = ss.Pipeline.from_dict(d)
    text: str = pipeline.to_mermaid()
    attached: ss.Deal = pipeline.load_deal(store, "D")
    del attached
    outcome: str = deal.outcome
    del reasons, ok, data, deals, problems, again, text, outcome
    preset: ss.Pipeline = presets.inbound_b2b()
    del preset


def live() -> None:
    """Section 11: the clock, extra data on stage changes, and subscribe."""
    fixed = datetime(2026, 1, 1, tzinfo=UTC)

    def clock() -> datetime:
        return fixed

    pipeline = ss.Pipeline(
        "live",
        [ss.Stage("a"), ss.Stage("won", outcome="won"), ss.Stage("lost", outcome="lost")],
        clock=clock,
    )
    now: datetime = pipeline.clock()
    again: ss.Pipeline = ss.Pipeline.from_dict(pipeline.to_dict(), clock=clock)

    def on_event(deal: ss.Deal, event: ss.Event) -> None:
        print(deal.id, event.kind)

    unsubscribe: Callable[[], None] = pipeline.subscribe(
        on_event, kinds=["stage_entered"], stages="won"
    )
    pipeline.subscribe(lambda deal, event: None, kinds="activity")
    deal = pipeline.open_deal("D")
    deal.record("call", note="first call")
    deal.update(amount=10)
    lost: ss.Event = deal.lose(reason="price", by="ana")
    deal.reopen(by="ana", note="budget approved")
    try:
        won: ss.Event = deal.win(by="ana")
        del won
    except ss.HandlerError as exc:
        failed: ss.Event = exc.event
        errors: tuple[Exception, ...] = exc.exceptions
        recorded: ss.Deal = exc.deal
        del failed, errors, recorded
    unsubscribe()
    del now, again, lost


def substates() -> None:
    """Section 13: sub-states as real states, their guard, and the main-path diagrams."""
    stage = ss.Stage(
        "proposal",
        substates=(
            "delivered",
            ss.Substate("review", label="Review", entry=ss.activity("call")),
            ss.Substate("signing", entry=ss.substate_reached("proposal", "review")),
        ),
        substate_regress=True,
    )
    pipeline = ss.Pipeline(
        "subs",
        [ss.Stage("lead"), stage, ss.Stage("won", outcome="won"), ss.Stage("lost", outcome="lost")],
    )
    names: tuple[str, ...] = pipeline.stage("proposal").substates
    specs: tuple[ss.Substate, ...] = pipeline.stage("proposal").substate_specs
    deal = pipeline.open_deal("D", at=datetime(2026, 1, 1, tzinfo=UTC))
    verdict: ss.Verdict = deal.can_enter_substate("review")
    mermaid: str = pipeline.to_mermaid(main_path=True)
    dot: str = pipeline.to_dot(main_path=True)

    @ss.guard("a budget set", satisfied_by=[guards.Step.field("budget"), "budget_call"])
    def budget(deal: ss.DealView) -> bool:
        return bool(deal.attributes.get("budget"))

    del names, specs, verdict, mermaid, dot, budget


def periods() -> None:
    """Sections 14, 16, 17: planning a period, keyword-only, up to the closing instant."""
    from datetime import date

    from salesstages import forecast, metrics

    pipeline = presets.inbound_b2b()
    events: list[ss.Event] = []
    as_of = datetime(2026, 3, 15, tzinfo=UTC)
    start, end = date(2026, 1, 1), date(2026, 4, 1)
    mv: metrics.Movement = metrics.movement(events, pipeline, start=start, end=end, as_of=as_of)
    status: metrics.PeriodStatus | None = mv.period
    state: str = metrics.period_status(events, pipeline, start=start, end=end, as_of=as_of).state
    cats: dict[str, metrics.Tally] = forecast.categories(
        events, pipeline, start=start, end=end, as_of=as_of
    )
    cov: forecast.Coverage = forecast.coverage(
        events, pipeline, start=start, end=end, target=1e6, as_of=as_of
    )
    why: str | None = cov.reason
    slips: list[metrics.Slip] = metrics.slippage(
        events, pipeline, start=start, end=end, as_of=as_of
    )
    bt: forecast.Backtest = forecast.backtest(
        events, pipeline, dates=[as_of - timedelta(days=60)], horizon=timedelta(days=30)
    )
    estimate: float | None = bt.rows[0].forecasts["markov"] if bt.rows else None
    scored: int = bt.errors["markov"].count
    rate: float | None = metrics.win_rate(events, pipeline, by_value=True).rate
    del status, state, cats, why, slips, estimate, scored, rate


def convention(events: list[ss.Event], pipeline: ss.Pipeline) -> None:
    """The §16 spellings type-check: everything after ``pipeline`` by keyword."""
    from salesstages import forecast, metrics

    snap: dict[str, metrics.SnapshotRow] = metrics.snapshot(events, pipeline)
    ratio: metrics.Ratio = metrics.conversion(events, pipeline, from_stage="a", to_stage="b")
    keyed = metrics.conversion(events, pipeline, from_stage="a", to_stage="b", by="region")
    wl: metrics.WinLoss = metrics.win_loss(events, pipeline, by="region", at="closing")
    rows = metrics.action_conversion(events, pipeline, horizon=timedelta(days=30))
    outlook = forecast.stage_outlook(events, pipeline, stage="a", age=timedelta(days=2))
    ci = forecast.cumulative_incidence(events, pipeline, outcome="lost")
    flows = metrics.skips_and_regressions(events, pipeline)
    del snap, ratio, keyed, wl, rows, outlook, ci, flows
