"""A deterministic simulator of realistic deal histories, for demos and benchmarks.

It writes valid logs straight from the compiled transition table (no live
machine), so it can produce millions of events quickly; with
``activities=True`` it also records the activities each guarded stage's entry
criteria ask for, so ``pipeline.check(events, guards=True)`` finds nothing.
With ``action_effect`` above 0 it also records the sales plays of
:data:`PLAYS` in each open stage visit, and those plays help the deal forward
(see :func:`simulate`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from ._events import Event, freeze_data
from ._pipeline import Pipeline
from ._time import to_utc

__all__ = ["LOST_REASONS", "OWNERS", "PLAYS", "REGIONS", "SOURCES", "simulate"]

OWNERS: Final = ("ana", "ben", "chloe", "dev", "eli", "fay")
SOURCES: Final = ("inbound", "outbound", "referral", "event", "partner")
REGIONS: Final = ("emea", "na", "apac", "latam")
LOST_REASONS: Final = (
    "price",
    "no budget",
    "went with competitor",
    "no decision",
    "timing",
    "missing feature",
)
_DAY: Final = 86_400.0
#: The sales plays the simulator records with ``action_effect > 0``: ``(name,
#: chance of being played in an open stage visit, strength)``. A play of
#: strength ``w`` scales the visit's chance of being lost by ``1 - effect * w``
#: and its length by ``1 - effect * w / 2``: demos help most, emails not at all.
PLAYS: Final = (("call", 0.5, 0.5), ("demo", 0.35, 0.9), ("email", 0.6, 0.0))


def simulate(
    pipeline: Pipeline,
    *,
    deals: int = 100,
    start: datetime,
    days: float = 90.0,
    seed: int = 0,
    activities: bool = True,
    skip_rate: float = 0.15,
    regress_rate: float = 0.12,
    loss_rate: float = 0.45,
    reopen_rate: float = 0.25,
    mean_stage_days: float = 9.0,
    prefix: str = "D",
    action_effect: float = 0.0,
) -> list[Event]:
    """Simulate ``deals`` deals opened over ``days`` days from ``start``; return their events.

    Deals still open at ``start + days`` stay open (their later events are not
    written), so a run yields a realistic mix of won, lost and open deals.
    Events come grouped by deal, in ``seq`` order. Each deal opens with a
    ``close_date`` some weeks ahead (see :class:`_CloseDates`), which slips
    realistically; its forecast category is its stage's, except for the few
    deals a rep marks ``"omitted"``.

    ``action_effect`` (in [0, 1]; 0 records no plays and leaves the log as it
    was) records the :data:`PLAYS` in open stage visits, drawn from a second
    random stream, and gives them a real effect: each play of strength ``w``
    scales the visit's chances of ending lost or going back by ``1 - action_effect * w`` and
    shortens the visit by ``action_effect * w / 2``.
    """
    start = to_utc(start, "start")
    rng = random.Random(seed)
    plays_rng = random.Random(seed + 7_919) if action_effect > 0 else None
    end = start + timedelta(days=days)
    opens = [s.name for s in pipeline.open_stages]
    index = {name: i for i, name in enumerate(opens)}
    won = pipeline.won_stages[0].name
    lost = pipeline.lost_stages[0].name
    targets = pipeline._targets
    substates = {s.name: s.substates for s in pipeline.stages}
    steps: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for s in pipeline.stages:
        fn = getattr(s.entry, "steps", None)
        steps[s.name] = (
            [(st.name, dict(st.data)) for st in fn() if st.kind == "activity"]
            if activities and callable(fn)
            else []
        )
    fields_needed = {
        st.name
        for s in pipeline.stages
        for st in (getattr(s.entry, "steps", lambda: ())() if s.entry is not None else ())
        if st.kind == "field"
    }
    out: list[Event] = []
    closes = _CloseDates(seed)
    for n in range(deals):
        deal_id = f"{prefix}{n:07d}"
        t = start + timedelta(seconds=rng.random() * days * _DAY)
        attrs: dict[str, Any] = {
            "amount": float(rng.choice((5, 8, 10, 12, 15, 20, 25, 40, 60, 100)) * 1000),
            "owner": rng.choice(OWNERS),
            "lead_source": rng.choice(SOURCES),
            "region": rng.choice(REGIONS),
        }
        for f in fields_needed:
            attrs.setdefault(f, f"{f}-value")
        attrs.update(closes.opening(t))
        evs: list[Event] = []

        def emit(
            kind: str,
            at: datetime,
            stage: str | None,
            name: str | None = None,
            data: dict[str, Any] | None = None,
            *,
            _evs: list[Event] = evs,
            _id: str = deal_id,
        ) -> None:
            _evs.append(
                Event(
                    deal_id=_id,
                    seq=len(_evs),
                    at=at,
                    kind=kind,  # type: ignore[arg-type]
                    stage=stage,
                    name=name,
                    data=freeze_data(data),
                )
            )

        emit("opened", t, None, data=attrs)
        stage = opens[0]
        emit("stage_entered", t, stage)
        lost_from: str | None = None
        while True:
            entered = t
            t = t + timedelta(seconds=rng.expovariate(1.0 / (mean_stage_days * _DAY)))
            keep = 1.0  # how much of the chances of being lost or going back the plays leave
            if plays_rng is not None and stage in index:
                t, keep = _play(plays_rng, action_effect, entered, t, end, stage, emit)
            if t > end:
                break
            if stage == lost:
                if rng.random() < reopen_rate and lost_from is not None:
                    for name, data in steps[lost_from]:
                        emit("activity", t, stage, name, data)
                    emit("stage_entered", t, lost_from)
                    stage = lost_from
                    continue
                break
            subs = substates[stage]
            if subs and rng.random() < 0.8:
                k = rng.randint(1, len(subs))
                for sub in subs[:k]:
                    if t > end:
                        break
                    emit("substate_entered", t, stage, sub)
                    t = t + timedelta(seconds=rng.expovariate(1.0 / (0.3 * mean_stage_days * _DAY)))
                if t > end:
                    break
            pushed = closes.push(t, attrs)
            if pushed is not None:
                emit("updated", t, stage, data=pushed)
            if rng.random() < 0.15:
                attrs_change = {"amount": float(attrs["amount"] * rng.choice((0.8, 0.9, 1.1)))}
                attrs.update(attrs_change)
                emit("updated", t, stage, data=attrs_change)
            i = index[stage]
            at_last = i == len(opens) - 1
            r = rng.random()
            if r < loss_rate / max(1, len(opens) - i) * keep:
                lost_from = stage
                emit("stage_entered", t, lost, data={"reason": rng.choice(LOST_REASONS)})
                stage = lost
                continue
            choices: list[str]
            if at_last:
                choices = [won] if won in targets[stage] else []
            elif rng.random() < regress_rate * keep and i > 0:
                choices = [s for s in opens[:i] if s in targets[stage]]
            elif rng.random() < skip_rate:
                choices = [s for s in [*opens[i + 2 :], won] if s in targets[stage]]
            else:
                choices = [opens[i + 1]] if opens[i + 1] in targets[stage] else []
            if not choices:
                choices = [s for s in targets[stage] if s != lost] or [lost]
            nxt = rng.choice(choices)
            for name, data in steps[nxt]:
                emit("activity", t, stage, name, data)
            if nxt == lost:
                lost_from = stage
                emit("stage_entered", t, lost, data={"reason": rng.choice(LOST_REASONS)})
            else:
                emit("stage_entered", t, nxt)
            stage = nxt
            if stage == won:
                break
        out.extend(evs)
    return out


def _play(
    rng: random.Random,
    effect: float,
    entered: datetime,
    until: datetime,
    end: datetime,
    stage: str,
    emit: Any,
) -> tuple[datetime, float]:
    """Record the plays of one open stage visit between ``entered`` and the visit's
    end (``until``, shortened by the plays); return that end and the share of the
    chance of being lost the plays leave."""
    played = [(name, w) for name, chance, w in PLAYS if rng.random() < chance]
    rng.shuffle(played)
    keep = speed = 1.0
    for _, w in played:
        keep *= 1.0 - effect * w
        speed *= 1.0 - effect * w / 2
    until = entered + (until - entered) * speed
    for k, (name, _) in enumerate(played, 1):
        # early in the visit (the k-th within k hours), so a visit cut by the end keeps them
        at = entered + min((until - entered) * (k / (len(played) + 1)), timedelta(hours=k))
        if at > end:
            break
        emit("activity", at, stage, name)
    return until, keep


class _CloseDates:
    """The simulated deals' expected close dates, from a random stream of their own
    (so the rest of a simulation stays as it was before close dates existed).

    A deal opens expecting to close 21 to 75 days later; about one deal in
    twenty is marked ``forecast_category="omitted"`` by its rep. When a deal is
    still open within a week of its close date (or past it), the rep pushes the
    date out by two to six weeks, three times in four.
    """

    __slots__ = ("rng",)

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7_919 + 104_729)

    def opening(self, at: datetime) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {
            "close_date": (at + timedelta(days=rng.randint(21, 75))).date().isoformat()
        }
        if rng.random() < 0.05:
            out["forecast_category"] = "omitted"
        return out

    def push(self, at: datetime, attrs: dict[str, Any]) -> dict[str, Any] | None:
        """The update a rep makes at ``at`` to the deal's close date, if any."""
        due = date.fromisoformat(attrs["close_date"])
        if at.date() < due - timedelta(days=7) or self.rng.random() >= 0.75:
            return None
        base = max(due, at.date())
        change = {"close_date": (base + timedelta(days=self.rng.randint(14, 42))).isoformat()}
        attrs.update(change)
        return change


def stage_names(pipeline: Pipeline) -> Sequence[str]:
    """The open stages' names, in order (a small convenience for reports)."""
    return [s.name for s in pipeline.open_stages]
