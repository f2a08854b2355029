"""A pipeline as a Mermaid ``stateDiagram-v2`` (:meth:`Pipeline.to_mermaid`)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ._text import terminal
from .guards import _describe

__all__ = ["mermaid"]


class _Stage(Protocol):
    """What the diagram reads of a stage (a :class:`~salesstages.Stage`)."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str | None: ...
    @property
    def substates(self) -> tuple[str, ...]: ...
    @property
    def substate_specs(self) -> tuple[Any, ...]: ...
    @property
    def entry(self) -> Any: ...
    @property
    def outcome(self) -> str: ...


def mermaid(stages: Sequence[_Stage], targets: Callable[[str], Sequence[str]]) -> str:
    """The diagram's text (see :meth:`Pipeline.to_mermaid`): ``stages`` in order,
    the first one the start, ``targets(name)`` the moves allowed out of a stage."""
    by_name = {s.name: s for s in stages}
    ids = _mermaid_ids(stages)
    lines = ["stateDiagram-v2"]
    for s in stages:
        label = s.label or s.name
        if label != ids[s.name]:
            lines.append(f'    state "{_mermaid_text(label)}" as {ids[s.name]}')
    for s in stages:
        if s.substates:
            sid = ids[s.name]
            sub_ids = [f"{sid}__{_mermaid_id(sub)}_{i}" for i, sub in enumerate(s.substates)]
            labels = [_edge_label(sub.entry) for sub in s.substate_specs]
            lines.append(f"    state {sid} {{")
            lines.append(f"        [*] --> {sub_ids[0]}{labels[0]}")
            for sub, sub_id in zip(s.substate_specs, sub_ids, strict=True):
                lines.append(f'        state "{_mermaid_text(sub.label or sub.name)}" as {sub_id}')
            for (a, b), label in zip(itertools.pairwise(sub_ids), labels[1:], strict=True):
                lines.append(f"        {a} --> {b}{label}")
            lines.append("    }")
    lines.append(f"    [*] --> {ids[stages[0].name]}")
    for s in stages:
        for t in targets(s.name):
            label = _edge_label(by_name[t].entry)
            lines.append(f"    {ids[s.name]} --> {ids[t]}{label}")
    for s in [s for s in stages if s.outcome == "won"] + [s for s in stages if s.outcome == "lost"]:
        if not targets(s.name):
            lines.append(f"    {ids[s.name]} --> [*]")
    return "\n".join(lines) + "\n"


def _edge_label(entry: Any) -> str:
    """`` : <criteria>`` for an edge into something guarded, else nothing."""
    return "" if entry is None else f" : {_mermaid_text(_describe(entry))}"


def _mermaid_id(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return safe if safe[:1].isalpha() else f"s_{safe}"


def _mermaid_ids(stages: Sequence[_Stage]) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    for s in stages:
        base = candidate = _mermaid_id(s.name)
        n = 2
        while candidate in used:
            candidate = f"{base}_{n}"
            n += 1
        used.add(candidate)
        ids[s.name] = candidate
    return ids


def _mermaid_text(text: str) -> str:
    """Text safe inside a Mermaid label: no quotes, colons, semicolons or braces, and
    control characters shown escaped (a label is one line, safe on a terminal)."""
    return re.sub(r"[\"{}#]", "'", terminal(text.replace(":", " -").replace(";", ",")))
