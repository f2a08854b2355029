"""Diagrams of a pipeline: the main path, and Graphviz DOT ranked in stage order.

:meth:`Pipeline.to_mermaid` and :meth:`Pipeline.to_dot` share
:func:`main_path_targets`: with ``main_path=True`` only the moves to the next
open stage, the won and lost exits of the last open stage, and the sub-states
in order are drawn, so that each stage has one edge coming in and its entry
criteria are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, Final, Protocol

from ._text import terminal
from .guards import _describe


class Pipeline(Protocol):
    """What the diagrams read of a pipeline (a :class:`~salesstages.Pipeline`; its
    stages are :class:`~salesstages.Stage` objects)."""

    @property
    def name(self) -> str: ...
    @property
    def stages(self) -> Sequence[Any]: ...
    @property
    def open_stages(self) -> Sequence[Any]: ...
    def targets(self, from_stage: str) -> tuple[str, ...]: ...
    def stage(self, name: str) -> Any: ...
    def index(self, name: str) -> int: ...


__all__ = ["dot", "main_path_targets"]

_SHAPES: Final = {"open": "box", "won": "doublecircle", "lost": "circle"}
_COLOURS: Final = {"open": "#dbeafe", "won": "#bbf7d0", "lost": "#fecaca"}


def main_path_targets(pipeline: Pipeline) -> Callable[[str], tuple[str, ...]]:
    """``targets(stage)`` of the main path: the next open stage; from the last open
    stage, every won and lost stage; nothing from a closed stage."""
    opens = [s.name for s in pipeline.open_stages]
    last = opens[-1]
    exits = tuple(s.name for s in pipeline.stages if not s.is_open)
    path: dict[str, tuple[str, ...]] = {a: (b,) for a, b in pairwise(opens)}
    path[last] = exits

    def targets(stage: str) -> tuple[str, ...]:
        return path.get(stage, ())

    return targets


def _q(text: str) -> str:
    """A DOT string: each line with control characters shown escaped, then DOT's escapes."""
    lines = (terminal(part).replace("\\", "\\\\").replace('"', '\\"') for part in text.split("\n"))
    return '"' + "\\n".join(lines) + '"'


def dot(pipeline: Pipeline, *, main_path: bool = False) -> str:
    """The pipeline as a Graphviz ``digraph``, left to right in stage order.

    Each stage is one node whose label holds its entry criteria (once) and its
    sub-states in order (each with its own criteria). An invisible chain
    through the stages in pipeline order, heavily weighted, fixes the ranks;
    only moves to the next open stage and from the last open stage to a closed
    one may shape the layout, every other move is drawn without constraining
    it (moves back dashed), so Graphviz cannot scramble the order. Closed
    stages share the last rank.
    """
    targets = main_path_targets(pipeline) if main_path else pipeline.targets
    main = main_path_targets(pipeline)
    lines = [
        f"digraph {_q(pipeline.name)} {{",
        "    rankdir=LR;",
        "    newrank=true;",
        '    node [style="rounded,filled", fontname="Helvetica"];',
    ]
    for s in pipeline.stages:
        label = s.title
        if s.entry is not None:
            label += "\nentry: " + _describe(s.entry)
        if s.substates:
            steps = []
            for sub in s.substate_specs:
                text = sub.title
                if sub.entry is not None:
                    text += f" (entry: {_describe(sub.entry)})"
                steps.append(text)
            label += "\n" + " → ".join(steps)
        lines.append(
            f"    {_q(s.name)} [label={_q(label)}, shape={_SHAPES[s.outcome]}, "
            f"fillcolor={_q(_COLOURS[s.outcome])}];"
        )
    names = [s.name for s in pipeline.stages]
    opens = [s.name for s in pipeline.open_stages]
    chain = [*opens, next(n for n in names if n not in opens)]
    for a, b in pairwise(chain):
        lines.append(f"    {_q(a)} -> {_q(b)} [style=invis, weight=100];")
    closed = " ".join(_q(n) for n in names if n not in opens)
    lines.append(f"    {{ rank=same; {closed} }}")
    for s in pipeline.stages:
        for t in targets(s.name):
            attrs: list[str] = []
            if t not in main(s.name):
                attrs.append("constraint=false")
            if pipeline.stage(t).is_open and pipeline.index(t) < pipeline.index(s.name):
                attrs.append("style=dashed")
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"    {_q(s.name)} -> {_q(t)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
