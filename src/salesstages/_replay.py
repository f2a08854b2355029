"""Replay and check: fold events through the pipeline's compiled transition table.

No ``transitions`` machine is driven here: the table compiled from the same
definition decides every move, so replaying a million events costs a dict
lookup or two per event instead of a trigger each.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import attrs

from ._deal import Deal
from ._errors import InvalidLogError
from ._events import Event
from ._stage import SEPARATOR
from .guards import DealView, GuardLike, evaluate

if TYPE_CHECKING:
    from ._pipeline import Pipeline

__all__ = ["Problem", "check", "group_events", "replay"]


@attrs.frozen
class Problem:
    """One rule an event log breaks: where (``deal_id``, ``seq``), which ``rule``, and why."""

    deal_id: str
    seq: int | None
    rule: str
    message: str


def group_events(events: Iterable[Event]) -> dict[str, list[Event]]:
    """Group events by deal (in order of first appearance), each deal's list in ``seq`` order.

    Every step runs in C (``map`` over ``attrgetter``, ``list.append`` and one
    ``list.sort`` per deal, which is linear when the deal is already in order):
    on a shuffled log the time goes into fetching events from memory, not into
    the interpreter.
    """
    seq = events if isinstance(events, list | tuple) else list(events)
    groups: defaultdict[str, list[Event]] = defaultdict(list)
    deque(map(list.append, map(groups.__getitem__, map(_DEAL_ID, seq)), seq), maxlen=0)
    for lst in groups.values():
        lst.sort(key=_SEQ)
    return groups


_DEAL_ID = attrgetter("deal_id")
_SEQ = attrgetter("seq")


class _Fold:
    """The compiled rules, shared by every deal of one replay."""

    __slots__ = ("check_guards", "open", "pipeline", "substates", "subtargets", "targets", "won")

    def __init__(self, pipeline: Pipeline, check_guards: bool = False) -> None:
        self.pipeline = pipeline
        self.targets = pipeline._targets
        self.open = frozenset(s.name for s in pipeline.open_stages)
        self.won = frozenset(s.name for s in pipeline.won_stages)
        self.substates = {s.name: frozenset(s.substates) for s in pipeline.stages}
        self.subtargets = pipeline._subtargets
        self.check_guards = check_guards

    def run(
        self, deal_id: str, evs: list[Event], problems: list[Problem] | None
    ) -> tuple[Deal | None, int]:
        """Fold one deal's events.

        With ``problems=None`` stop at the first problem and return the deal as
        far as it went (``None`` before its first stage) and the index of the bad
        event (``len(evs)`` when there was none). With a list, record every
        problem, skip the bad events and go on.
        """
        targets = self.targets
        substates = self.substates
        stage: str | None = None
        sub: str | None = None
        attributes: dict[str, Any] = {}
        lost_from: str | None = None
        last_at: datetime | None = None
        entered_at: datetime | None = None  # when the deal entered its current stage
        won = False
        expected = 0
        good: list[Event] = []
        for i, e in enumerate(evs):
            rule: str | None = None
            message = ""
            kind = e.kind
            if e.seq != expected:
                rule = "seq"
                message = f"seq {e.seq} where {expected} was expected" + (
                    " (a duplicate)" if e.seq < expected else " (a gap)"
                )
            elif last_at is not None and e.at < last_at:
                rule = "time"
                message = (
                    f"event at {e.at.isoformat()} is earlier than the previous one "
                    f"at {last_at.isoformat()}"
                )
                if entered_at is not None and e.at < entered_at and kind != "stage_entered":
                    message = (
                        f"{kind!r} event at {e.at.isoformat()} is dated before the deal entered "
                        f"{stage!r} at {entered_at.isoformat()} (its stay there would be "
                        "negative)"
                    )
            elif stage is None:
                if not good:
                    if kind != "opened":
                        rule, message = "first_event", f"the first event is {kind!r}, not 'opened'"
                elif kind != "stage_entered":
                    rule = "second_event"
                    message = f"the event after 'opened' is {kind!r}, not 'stage_entered'"
                elif e.stage not in self.open:
                    rule = "second_event"
                    message = f"the first stage entered, {e.stage!r}, is not an open stage"
            elif won:
                rule = "after_won"
                message = f"{kind!r} event after the deal was won in {stage!r}"
            elif kind == "stage_entered":
                to = e.stage
                if to not in targets:
                    rule = "unknown_stage"
                    message = f"unknown stage {to!r}"
                elif to not in targets[stage]:
                    rule = "move_not_allowed"
                    message = f"the pipeline does not allow moving from {stage!r} to {to!r}"
                elif self.check_guards:
                    message = self._guard_message(deal_id, stage, sub, attributes, good, to)
                    if message:
                        rule = "entry_criteria"
            elif kind == "substate_entered":
                if e.stage != stage:
                    rule = "stage_mismatch"
                    message = (
                        f"sub-state event names stage {e.stage!r} but the deal is in {stage!r}"
                    )
                elif e.name not in substates[stage]:
                    rule = "substate"
                    message = f"{e.name!r} is not a sub-state of {stage!r}"
                elif e.name not in self.subtargets[stage][sub]:
                    rule = "substate_order"
                    message = (
                        f"sub-state {e.name!r} entered again"
                        if e.name == sub
                        else f"sub-state {e.name!r} comes before the current sub-state {sub!r} "
                        f"of {stage!r}, which does not allow going back (substate_regress=False)"
                    )
                elif self.check_guards:
                    message = self._substate_guard_message(
                        deal_id, stage, sub, attributes, good, e.name
                    )
                    if message:
                        rule = "entry_criteria"
            elif kind == "opened":
                rule, message = "duplicate_opened", "a second 'opened' event"
            elif kind != "activity" and kind != "updated":
                rule, message = "unknown_kind", f"unknown event kind {kind!r}"
            elif e.stage is not None and e.stage != stage:
                rule = "stage_mismatch"
                message = f"{kind!r} event names stage {e.stage!r} but the deal is in {stage!r}"
            if rule is not None:
                problem = Problem(deal_id, e.seq, rule, f"deal {deal_id!r}, seq {e.seq}: {message}")
                if problems is None:
                    if stage is None:
                        return None, i
                    return self._deal(deal_id, stage, sub, good, attributes, lost_from), i
                problems.append(problem)
                if rule != "entry_criteria":
                    expected = e.seq + 1  # skip the bad event, resynchronise on its seq
                    continue
                # unmet entry criteria: the move is allowed by the graph and did
                # happen; report it and apply it, so later events are not misjudged
            # apply
            expected += 1
            last_at = e.at
            good.append(e)
            if kind == "stage_entered":
                to = e.stage
                assert to is not None
                if stage in self.open and to not in self.open and to not in self.won:
                    lost_from = stage
                stage, sub = to, None
                won = to in self.won
                entered_at = e.at
            elif kind == "substate_entered":
                sub = e.name
            elif kind == "opened" or kind == "updated":
                attributes.update(e.data)
        if stage is None:
            if problems is not None and evs and good:
                problems.append(
                    Problem(
                        deal_id,
                        None,
                        "no_stage",
                        f"deal {deal_id!r}: opened but never entered a stage",
                    )
                )
            return None, len(evs)
        return self._deal(deal_id, stage, sub, good, attributes, lost_from), len(evs)

    def _deal(
        self,
        deal_id: str,
        stage: str,
        sub: str | None,
        events: list[Event],
        attributes: dict[str, Any],
        lost_from: str | None,
    ) -> Deal:
        state = stage if sub is None else f"{stage}{SEPARATOR}{sub}"
        return Deal(
            self.pipeline,
            deal_id,
            state=state,
            events=events,
            attributes=attributes,
            lost_from=lost_from,
        )

    def _substate_guard_message(
        self,
        deal_id: str,
        stage: str,
        sub: str | None,
        attributes: dict[str, Any],
        events: list[Event],
        name: str,
    ) -> str:
        entry = self.pipeline.stage(stage).substate(name).entry
        what = f"sub-state {name!r} of {stage!r}"
        return _unmet(entry, what, deal_id, stage, sub, attributes, events)

    def _guard_message(
        self,
        deal_id: str,
        stage: str,
        sub: str | None,
        attributes: dict[str, Any],
        events: list[Event],
        to: str,
    ) -> str:
        entry = self.pipeline.stage(to).entry
        return _unmet(entry, repr(to), deal_id, stage, sub, attributes, events)


def _unmet(
    entry: GuardLike | None,
    what: str,
    deal_id: str,
    stage: str,
    sub: str | None,
    attributes: dict[str, Any],
    events: list[Event],
) -> str:
    """``""`` when ``entry`` holds for the deal as it stands, else why not."""
    if entry is None:
        return ""
    view = DealView(
        id=deal_id, stage=stage, substate=sub, attributes=dict(attributes), events=tuple(events)
    )
    verdict = evaluate(entry, view)
    if verdict.ok:
        return ""
    return f"entry criteria of {what} did not hold: " + "; ".join(verdict.reasons)


def replay(pipeline: Pipeline, events: Iterable[Event], *, strict: bool = True) -> dict[str, Deal]:
    """Implementation of :meth:`Pipeline.replay`."""
    fold = _Fold(pipeline)
    deals: dict[str, Deal] = {}
    for deal_id, evs in group_events(events).items():
        deal, stop = fold.run(deal_id, evs, None)
        if stop < len(evs) and strict:
            problems: list[Problem] = []
            fold.run(deal_id, evs[: stop + 1], problems)
            p = problems[0]
            raise InvalidLogError(
                f"{p.message} (rule {p.rule!r}); fix the log, or replay with strict=False "
                "to keep each deal as far as its events make sense",
                deal_id=p.deal_id,
                seq=p.seq,
                rule=p.rule,
            )
        if deal is None:
            if strict:
                raise InvalidLogError(
                    f"deal {deal_id!r}: opened but never entered a stage (rule 'no_stage'); "
                    "the log may be truncated",
                    deal_id=deal_id,
                    seq=None,
                    rule="no_stage",
                )
            continue
        deals[deal_id] = deal
    return deals


def check(pipeline: Pipeline, events: Iterable[Event], *, guards: bool = False) -> list[Problem]:
    """Implementation of :meth:`Pipeline.check`."""
    fold = _Fold(pipeline, check_guards=guards)
    problems: list[Problem] = []
    for deal_id, evs in group_events(events).items():
        fold.run(deal_id, evs, problems)
    return problems
