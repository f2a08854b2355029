"""Property-based testing tools for your own pipelines, built on Hypothesis.

Tools shaped like Hypothesis's own:

- :func:`events` draws valid event logs of several deals (every log replays
  with ``strict=True``);
- :func:`deals` draws live :class:`~salesstages.Deal` objects in reachable
  states (in a sub-state, won, lost, reopened …);
- :func:`pipeline_machine` builds a Hypothesis ``RuleBasedStateMachine`` (a
  :class:`PipelineMachine`) that drives one deal with random activities,
  moves, sub-states, wins, losses and reopenings, allowed or not, and checks
  the library's invariants after every step. Subclass it and add your own
  ``@rule`` and ``@invariant`` methods over ``self.deal``; Hypothesis then
  finds and shrinks the shortest deal history that breaks your rules;
- :class:`StoreSuite` is the test suite every event store runs; subclass it
  to run it against your own backend.

Guarded stages are reached without any help: every built-in guard can list
the activities and fields that satisfy it (``guard.steps()``), and the tools
record those before they try a move. A custom ``@guard`` function has no
steps, so the stage behind it is entered only when the deal's history happens
to satisfy it.

Example::

    from hypothesis.stateful import invariant
    from salesstages.testing import pipeline_machine

    class MyRules(pipeline_machine(my_pipeline)):
        @invariant()
        def won_deals_saw_a_proposal(self) -> None:
            if self.deal.outcome == "won":
                assert "proposal" in {e.stage for e in self.deal.events}

    TestMyRules = MyRules.TestCase

This module needs Hypothesis: ``pip install 'salesstages[testing]'``.
"""

from __future__ import annotations

from ._machine import PipelineMachine, pipeline_machine
from ._store_suite import StoreSuite
from ._strategies import deals, events  # first: names the extra when Hypothesis is missing

__all__ = ["PipelineMachine", "StoreSuite", "deals", "events", "pipeline_machine"]

# The strategies and the machine read as salesstages.testing's own (in reprs and
# the docs), as they did when this package was one module.
for _name in ("PipelineMachine", "deals", "events", "pipeline_machine"):
    globals()[_name].__module__ = __name__
del _name


def __dir__() -> list[str]:
    return list(__all__)
