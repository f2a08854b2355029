"""The live state machine: one shared ``transitions`` HierarchicalMachine per pipeline.

Deals are never registered with ``add_model`` (quadratic, and kilobytes per
deal); instead each call fires ``machine.trigger_event(deal, trigger)`` on a
machine built once per pipeline, under a lock because transitions' HSM is not
thread-safe. Sub-states are nested states, named ``stage/substate`` with our own
separator so that stage names may contain underscores.

Sub-states are real states with their own triggers: ``sub:<stage>/<sub>`` is
defined from the bare stage (a deal in no sub-state yet) and from each
sub-state the order allows (the earlier ones, and with ``substate_regress``
the later ones too), never from the target itself. transitions lets a trigger
defined on a parent fire from its children, so the trigger from the bare stage
carries a condition that the model is in the stage itself, not in one of its
sub-states. Entry criteria are checked by the deal before it fires, as for
stage moves (the machine has no view of the deal's log).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from transitions.extensions.nesting import HierarchicalMachine, NestedState

from ._stage import SEPARATOR

if TYPE_CHECKING:
    from ._pipeline import Pipeline

__all__ = ["LiveMachine", "build_machine", "live_machine", "move_trigger", "substate_trigger"]


class _State(NestedState):
    separator = SEPARATOR


class _Machine(HierarchicalMachine):
    state_cls = _State


def move_trigger(stage: str) -> str:
    """The trigger that moves a deal into ``stage``."""
    return f"to:{stage}"


def substate_trigger(stage: str, substate: str) -> str:
    """The trigger that moves a deal into ``substate`` of ``stage``."""
    return f"sub:{stage}{SEPARATOR}{substate}"


def build_machine(pipeline: Pipeline, *, initial: str | None = None) -> HierarchicalMachine:
    """A new HierarchicalMachine for ``pipeline``: one ``to:<stage>`` trigger per
    target stage from every stage the graph allows, one ``sub:<stage>/<sub>``
    trigger per sub-state; no auto transitions and no models."""
    states: list[Any] = []
    for s in pipeline.stages:
        if s.substates:
            states.append({"name": s.name, "children": list(s.substates)})
        else:
            states.append(s.name)
    machine = _Machine(
        model=None,
        states=states,
        initial=initial,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )
    for target in pipeline.stages:
        sources = [s.name for s in pipeline.stages if pipeline.allowed(s.name, target.name)]
        if sources:
            machine.add_transition(move_trigger(target.name), sources, target.name)
        for sub in target.substates:
            trigger = substate_trigger(target.name, sub)
            dest = f"{target.name}{SEPARATOR}{sub}"
            machine.add_transition(trigger, target.name, dest, conditions=[_InStage(target.name)])
            sources = [
                f"{target.name}{SEPARATOR}{current}"
                for current in target.substates
                if sub in pipeline.substate_targets(target.name, current)
            ]
            if sources:
                machine.add_transition(trigger, sources, dest)
    return machine


class _InStage:
    """Condition: the model is in ``stage`` itself, not in one of its sub-states."""

    __slots__ = ("stage",)

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def __call__(self, event: Any) -> bool:
        return bool(event.model.state == self.stage)


class LiveMachine:
    """A pipeline's shared transitions machine and the lock that guards it."""

    __slots__ = ("lock", "machine")

    def __init__(self, pipeline: Pipeline) -> None:
        self.machine = build_machine(pipeline)
        self.lock = threading.Lock()

    def fire(self, model: Any, trigger: str) -> bool:
        """Fire ``trigger`` on ``model`` (any object with a ``state`` attribute).

        Returns whether a transition happened; raises ``transitions.MachineError``
        when the trigger is not valid from the model's state.
        """
        with self.lock:
            return bool(self.machine.trigger_event(model, trigger))

    def can_fire(self, state: str, trigger: str) -> bool:
        """Whether ``trigger`` would succeed from ``state``, tried on a scratch model."""
        from transitions import MachineError

        scratch = _Scratch(state)
        try:
            return self.fire(scratch, trigger)
        except MachineError:
            return False
        except AttributeError:  # transitions: "Do not know event named …"
            return False


class _Scratch:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


_BUILD_LOCK = threading.Lock()


def live_machine(pipeline: Pipeline) -> LiveMachine:
    """The pipeline's machine, built on first use and then shared."""
    machine: LiveMachine | None = pipeline._machine
    if machine is None:
        with _BUILD_LOCK:
            machine = pipeline._machine
            if machine is None:
                machine = LiveMachine(pipeline)
                pipeline._machine = machine
    return machine
