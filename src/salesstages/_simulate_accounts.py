"""A deterministic simulator of accounts over several years (issue 25): new business,
onboarding and first impact, annual renewals with churn and contraction, and
expansions, for the recurring-revenue metrics, the bow-tie and the demo.

:func:`simulate_accounts` returns two logs: the sales log (one deal per new
business, renewal and expansion, carrying ``account``, ``deal_type``, ``arr`` and
the contract dates) and the success log of :func:`salesstages.presets.customer_success`
(one journey per won account, its deal id the account's name). Both replay with
``strict=True``; the success log's activities satisfy its entry criteria.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from ._events import Event, freeze_data
from ._pipeline import Pipeline
from ._time import to_utc

__all__ = ["simulate_accounts"]

_YEAR: Final = timedelta(days=365)
_CHURN_REASONS: Final = ("no adoption", "budget cut", "went with competitor", "acquired")


class _Log:
    """Events of one deal, ``seq`` in order, dropped past ``end``."""

    def __init__(self, deal_id: str, end: datetime) -> None:
        self.deal_id = deal_id
        self.end = end
        self.events: list[Event] = []

    def add(
        self,
        kind: str,
        at: datetime,
        stage: str | None,
        name: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> bool:
        if at > self.end:
            return False
        self.events.append(
            Event(
                deal_id=self.deal_id,
                seq=len(self.events),
                at=at,
                kind=kind,  # type: ignore[arg-type]
                stage=stage,
                name=name,
                data=freeze_data(data),
            )
        )
        return True


def _deal(
    pipeline: Pipeline,
    deal_id: str,
    opened: datetime,
    attributes: dict[str, Any],
    win: bool,
    rng: random.Random,
    end: datetime,
) -> tuple[list[Event], datetime | None]:
    """A deal through every open stage, then won or lost; its events and when it won."""
    log = _Log(deal_id, end)
    log.add("opened", opened, None, data=attributes)
    at = opened
    for stage in pipeline.open_stages:
        if not log.add("stage_entered", at, stage.name):
            return log.events, None
        at += timedelta(days=rng.uniform(3, 12))
    if win:
        won = at.replace(microsecond=0)
        if log.add("stage_entered", won, pipeline.won_stages[0].name):
            return log.events, won
        return log.events, None
    log.add("stage_entered", at, pipeline.lost_stages[0].name, data={"reason": "price"})
    return log.events, None


def simulate_accounts(
    pipeline: Pipeline,
    success_pipeline: Pipeline,
    *,
    accounts: int = 40,
    start: datetime,
    years: float = 3.0,
    seed: int = 0,
    win_rate: float = 0.4,
    renewal_rate: float = 0.85,
    contraction_rate: float = 0.2,
    expansion_rate: float = 0.3,
) -> tuple[list[Event], list[Event]]:
    """Simulate ``accounts`` prospects over ``years`` from ``start``: the sales log and
    the success log (see the module docstring).

    Each prospect's new-business deal opens in the first year and is won with
    ``win_rate`` (ARR 5,000 to 50,000, a one-year contract starting a week after the
    win). Each contract year, an expansion is won with ``expansion_rate`` (10 to 40 %
    more, coterminous), and 90 days before the contract ends a renewal opens: won with
    ``renewal_rate`` (smaller by 5 to 30 % with ``contraction_rate``), else lost, and
    the account churns. ``success_pipeline`` is
    :func:`salesstages.presets.customer_success` (or one with its stage names).
    """
    start = to_utc(start, "start")
    end = start + timedelta(days=365 * years)
    rng = random.Random(seed)
    sales: list[Event] = []
    success: list[Event] = []
    n = 0
    for i in range(accounts):
        account = f"ACC-{i:04d}"
        opened = start + timedelta(days=rng.uniform(0, 365), hours=rng.uniform(8, 18))
        arr = float(rng.randrange(50, 500) * 100)
        n += 1
        first_start = None
        events, won = _deal(
            pipeline,
            f"S{n:05d}",
            opened,
            {"account": account, "deal_type": "new", "arr": arr},
            rng.random() < win_rate,
            rng,
            end,
        )
        if won is not None:
            first_start = (won + timedelta(days=7)).date()
            events[0] = _with_contract(events[0], first_start, first_start + _YEAR)
        sales += events
        if won is None or first_start is None:
            continue
        contract_start = first_start
        renewed_once: datetime | None = None
        churned_at: datetime | None = None
        while True:
            contract_end = contract_start + _YEAR
            if rng.random() < expansion_rate:
                n += 1
                at = _midnight(contract_start) + timedelta(days=rng.uniform(60, 240))
                extra = round(arr * rng.uniform(0.1, 0.4), -2)
                ev, got = _deal(
                    pipeline,
                    f"S{n:05d}",
                    at,
                    {"account": account, "deal_type": "expansion", "arr": extra},
                    True,
                    rng,
                    end,
                )
                if got is not None:
                    begin = (got + timedelta(days=1)).date()
                    if begin < contract_end:
                        ev[0] = _with_contract(ev[0], begin, contract_end)
                        arr += extra
                    else:
                        ev[0] = _with_contract(ev[0], contract_end, contract_end + _YEAR)
                sales += ev
            n += 1
            renew_at = _midnight(contract_end) - timedelta(days=90)
            keep = rng.random() < renewal_rate
            if keep and rng.random() < contraction_rate:
                arr = round(arr * rng.uniform(0.7, 0.95), -2)
            ev, got = _deal(
                pipeline,
                f"S{n:05d}",
                renew_at,
                {"account": account, "deal_type": "renewal", "arr": arr},
                keep,
                rng,
                end,
            )
            if got is not None:
                ev[0] = _with_contract(ev[0], contract_end, contract_end + _YEAR)
                renewed_once = renewed_once or got
            sales += ev
            if got is None:
                churned_at = _midnight(contract_end)
                break
            contract_start = contract_end
            if _midnight(contract_start) > end:
                break
        success += _journey(account, won, renewed_once, churned_at, rng, end)
    return sales, success


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _with_contract(event: Event, first: date, stop: date) -> Event:
    data = {**event.data, "contract_start": first.isoformat(), "contract_end": stop.isoformat()}
    return Event(
        deal_id=event.deal_id,
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        stage=event.stage,
        name=event.name,
        data=freeze_data(data),
    )


def _journey(
    account: str,
    won: datetime,
    renewed: datetime | None,
    churned: datetime | None,
    rng: random.Random,
    end: datetime,
) -> list[Event]:
    """The account's success journey: kickoff, first impact, recurring impact, then
    renewed at its first renewal's win or churned when its contract lapsed."""
    log = _Log(account, end)
    at = won + timedelta(days=rng.uniform(1, 5))
    log.add("opened", at, None, data={"account": account})
    log.add("stage_entered", at, "onboarding")
    log.add("activity", at, "onboarding", "meeting_booked", {"meeting": "kickoff"})
    for party in ("customer", "csm"):
        meeting = {"meeting": "kickoff", "party": party}
        log.add("activity", at, "onboarding", "meeting_accepted", meeting)
    at += timedelta(days=rng.uniform(15, 60))
    log.add("activity", at, "onboarding", "value_confirmed")
    log.add("stage_entered", at, "first_impact")
    at += timedelta(days=rng.uniform(45, 120))
    if (renewed is None or at < renewed) and (churned is None or at < churned):
        log.add("stage_entered", at, "recurring_impact")
    if renewed is not None and renewed >= at:
        log.add("stage_entered", renewed, "renewed")
    elif churned is not None and churned >= at:
        log.add("stage_entered", churned, "churned", data={"reason": rng.choice(_CHURN_REASONS)})
    return log.events
