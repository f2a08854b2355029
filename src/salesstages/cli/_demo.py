"""The story ``salesstages demo`` tells: the pipeline, a few deals step by step,
and the headline sections of a simulated quarter's report.

:func:`play_demo` plays the deals; :func:`describe_pipeline` prints the stages
in order (open stages, then the ends); :func:`headline` keeps the report's
headline sections so that the whole demo reads in under 120 lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, TextIO

import attrs

from .._deal import Deal
from .._errors import TransitionRefused
from .._events import Event
from .._pipeline import Pipeline
from .._stores import MemoryStore
from ..guards import _describe as describe_guard
from ..presets import PROPOSAL_SUBSTATES, inbound_b2b
from ..report import Report

__all__ = [
    "DETAIL_SECTIONS",
    "best_actions",
    "compact_log",
    "describe_event",
    "describe_pipeline",
    "headline",
    "play_demo",
]

#: How many deals the demo's report lists in a list of deals (slipping deals).
STALLED_ROWS: Final = 3
#: The report's sections the demo leaves to the full report (``--html``, ``report``).
DETAIL_SECTIONS: Final = (
    "Win rate and sales cycle",
    "By lead_source",
    "Open pipeline now",
    "Stalled deals",
    "Forecast of the open pipeline",
    "Time in stage",
    "Time in sub-state",
    "Lost reasons",
    "Time to close",
    "Forecast backtest",
    "Trends by month",  # issue 27
    "Calibration of the stage probabilities",
    "Stage probabilities: configured",
    "Forecast calls",
)
#: The sections that list deals, which the demo cuts to their first rows.
_DEAL_LISTS: Final = ("Stalled deals (", "Slipping deals (")


def describe_event(event: Event) -> str:
    """One event of the log as one line: its time, its kind, its data."""
    when = event.at.strftime("%Y-%m-%d %H:%M")
    if event.kind == "opened":
        attrs = ", ".join(f"{k}={v!r}" for k, v in event.data.items())
        return f"{when}  opened ({attrs})"
    if event.kind == "stage_entered":
        extra = dict(event.data)
        reason = extra.pop("reason", None)
        notes = ([f"reason: {reason}"] if reason else []) + [f"{k}={v!r}" for k, v in extra.items()]
        return f"{when}  → {event.stage}" + (f" ({', '.join(notes)})" if notes else "")
    if event.kind == "substate_entered":
        return f"{when}    ↳ {event.stage}/{event.name}"
    if event.kind == "updated":
        return f"{when}  updated " + ", ".join(f"{k}={v!r}" for k, v in event.data.items())
    data = ", ".join(f"{k}={v!r}" for k, v in event.data.items())
    return f"{when}  · {event.name}" + (f" ({data})" if data else "")


def compact_log(events: Sequence[Event]) -> list[str]:
    """A deal's log as lines: a meeting's booking and acceptances on one line, the
    sub-states entered in one stay on one line, every other event on its own."""
    lines: list[str] = []
    i = 0
    while i < len(events):
        e = events[i]
        meeting = e.data.get("meeting") if e.kind == "activity" else None
        if e.name == "meeting_booked" and meeting is not None:
            parties = []
            j = i + 1
            while (
                j < len(events)
                and events[j].name == "meeting_accepted"
                and events[j].data.get("meeting") == meeting
            ):
                parties.append(f"{events[j].data.get('party')} {events[j].at:%H:%M}")
                j += 1
            accepted = f", accepted by {' and '.join(parties)}" if parties else ""
            lines.append(f"{e.at:%Y-%m-%d %H:%M}  · meeting {meeting!r} booked{accepted}")
            i = j
            continue
        if e.kind == "substate_entered":
            subs = []
            j = i
            while j < len(events) and events[j].kind == "substate_entered":
                subs.append(f"{events[j].name} {events[j].at:%m-%d}")
                j += 1
            lines.append(f"{e.at:%Y-%m-%d %H:%M}    ↳ {e.stage}: {', '.join(subs)}")
            i = j
            continue
        lines.append(describe_event(e))
        i += 1
    return lines


def describe_pipeline(pipeline: Pipeline, out: TextIO) -> None:
    """The open stages in order with their entry criteria and sub-states, then the
    ends (won / lost): a won deal does not go on to be lost."""
    opens = pipeline.open_stages
    width = max(len(s.title) for s in opens)
    print(f"{len(opens)} open stages, in order, each with its entry criteria:", file=out)
    for i, s in enumerate(opens, 1):
        notes = [describe_guard(s.entry)] if s.entry is not None else []
        if s.substates:
            notes.append("sub-states " + " → ".join(s.substates))
        print(f"  {i}. {s.title.ljust(width)}  {'; '.join(notes)}".rstrip(), file=out)
    ends = [s.title for s in (*pipeline.won_stages, *pipeline.lost_stages)]
    lost = {s.name for s in pipeline.lost_stages}
    anywhere = bool(lost) and all(lost & set(pipeline.targets(s.name)) for s in opens)
    note = " (a deal may be lost from any open stage)" if anywhere else ""
    print(f"ends: {' / '.join(ends)}{note}", file=out)


def headline(
    text: str, *, drop: Sequence[str] = DETAIL_SECTIONS, stalled: int = STALLED_ROWS
) -> str:
    """The text report without the sections whose title starts with one of ``drop``,
    and only the first ``stalled`` deals of a list of deals (stalled, slipping).

    A section starts at a title line underlined with ``=`` and runs to the next
    one, so a section added to the report later shows here too.
    """
    lines = text.rstrip("\n").split("\n")
    starts = [
        i
        for i in range(len(lines) - 1)
        if lines[i] and lines[i + 1] == "=" * len(lines[i]) and (i == 0 or not lines[i - 1])
    ]
    kept: list[str] = lines[: starts[0]] if starts else lines
    for n, start in enumerate(starts):
        end = starts[n + 1] - 1 if n + 1 < len(starts) else len(lines)
        if lines[start].startswith(tuple(drop)):
            continue
        section = lines[start:end]
        # the table's rows start after its dashes line (a note may stand above the table)
        rows = next((k + 1 for k, ln in enumerate(section) if ln and set(ln) <= {"-", " "}), 4)
        if lines[start].startswith(_DEAL_LISTS) and len(section) > rows + stalled:
            title = lines[start]
            total = int(title[title.index("(") + 1 : title.index(")")].replace(",", ""))
            section = [*section[: rows + stalled], f"… and {total - stalled:,} more"]
        kept.extend(section)
        if n + 1 < len(starts):
            kept.append("")
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n"


def best_actions(report: Report) -> Report:
    """A copy of ``report`` whose "what moves deals forward" section keeps, per stage,
    only the activity with the largest lift (the demo's one line per stage)."""
    actions = report.get("actions")
    if actions is None or not actions.rows:
        return report
    stages = actions.column("stage")
    first = [i for i, stage in enumerate(stages) if stage not in stages[:i]]
    rows = [actions.rows[i] for i in first]
    notes = tuple(
        note.replace(
            "up to 3 activities with the largest lift", "the activity with the largest lift"
        )
        for note in actions.notes
    )
    return report.replace(attrs.evolve(actions, rows=rows, notes=notes))


def _meeting(deal: Deal, meeting: str, at: datetime) -> None:
    deal.record("meeting_booked", at=at, meeting=meeting)
    deal.record("meeting_accepted", at=at + timedelta(hours=2), meeting=meeting, party="prospect")
    deal.record("meeting_accepted", at=at + timedelta(hours=3), meeting=meeting, party="rep")


def play_demo(out: TextIO) -> MemoryStore:
    """Play a handful of realistic deals through the inbound preset, printing as it goes."""
    pipeline = inbound_b2b()
    store = MemoryStore()
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def day(n: float) -> datetime:
        return t0 + timedelta(days=n)

    # ACME: all the way to a win, through the proposal's sub-states.
    acme = pipeline.open_deal(
        "ACME-1", at=day(0), store=store, amount=48_000, owner="ana", lead_source="webinar"
    )
    print(
        "ACME-1 (amount 48,000, owner ana, from a webinar) books its discovery meeting, "
        "accepted by both sides, then tries to skip ahead to the proposal:",
        file=out,
    )
    _meeting(acme, "discovery", day(1))
    acme.move("discovery", at=day(2))
    try:
        acme.move("formal_proposal", at=day(3))
    except TransitionRefused as exc:
        print(f"  refused: {exc}", file=out)
    _meeting(acme, "evaluation", day(6))
    acme.move("evaluation", at=day(7), by="ana", note="two stakeholders joined")
    acme.record("document_sent", at=day(15), document="proposal")
    acme.move("formal_proposal", at=day(15))
    for i, sub in enumerate(PROPOSAL_SUBSTATES):
        acme.enter_substate(sub, at=day(16 + 3 * i))
    acme.update(at=day(26), amount=52_000)
    acme.win(at=day(30), by="ana")
    print(
        "Then on through evaluation and the proposal's sub-states to a win. Its log, all "
        "that is stored:",
        file=out,
    )
    for line in compact_log(acme.events):
        print(f"  {line}", file=out)

    # Globex: lost on price, then reopened and back in evaluation.
    globex = pipeline.open_deal(
        "GLOBEX-7", at=day(3), store=store, amount=20_000, owner="ben", lead_source="referral"
    )
    _meeting(globex, "discovery", day(4))
    globex.move("discovery", at=day(5))
    _meeting(globex, "evaluation", day(9))
    globex.move("evaluation", at=day(10))
    globex.lose(at=day(18), reason="price", by="ben", competitor="Initrode")
    globex.record("call", at=day(40), note="new budget approved")
    globex.reopen(at=day(41))
    print(file=out)
    print(
        f"GLOBEX-7 (amount 20,000) is lost on price, then reopened; now {globex.state} "
        f"({globex.outcome}):",
        file=out,
    )
    lost_at = next(i for i, e in enumerate(globex.events) if e.stage == "closed_lost")
    for event in globex.events[lost_at:]:
        print(f"  {describe_event(event)}", file=out)

    # Initech: a declined meeting keeps it in the lead stage.
    initech = pipeline.open_deal(
        "INITECH-3", at=day(8), store=store, amount=9_000, owner="ana", lead_source="inbound"
    )
    initech.record("meeting_booked", at=day(9), meeting="discovery")
    initech.record("meeting_declined", at=day(10), meeting="discovery", party="prospect")
    verdict = initech.can_move("discovery")
    print(file=out)
    print(f"INITECH-3 may not enter discovery yet: {'; '.join(verdict.reasons)}", file=out)

    replayed = pipeline.replay(store.events())
    same = all(replayed[d.id] == d for d in (acme, globex, initech))
    print(
        f"Replaying the log ({len(store)} events) rebuilds the {len(replayed)} deals: "
        f"identical = {same}",
        file=out,
    )
    return store
