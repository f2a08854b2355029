"""Sub-states as real states: :class:`Substate`, their order rules and their checks.

A stage's sub-states are ordered. A deal in the stage may enter a later
sub-state (skipping is fine) but not the current one again, nor an earlier one
unless the stage has ``substate_regress=True``. The rules are compiled once
per stage into a table (:func:`substate_table`) that both the live deal and
replay read; the live ``transitions`` machine gets the same rules as nested
states with their own triggers (see :mod:`salesstages._machine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs

from ._errors import PipelineError
from .guards import GuardLike, _guard_to_dict, _SubstateReached, guard_from_dict


class _Stage(Protocol):
    """What the sub-state rules read of a stage (a :class:`~salesstages.Stage`)."""

    @property
    def name(self) -> str: ...
    @property
    def entry(self) -> GuardLike | None: ...
    @property
    def substates(self) -> tuple[str, ...]: ...
    @property
    def substate_specs(self) -> tuple[Substate, ...]: ...
    @property
    def substate_regress(self) -> bool: ...


class _Pipeline(Protocol):
    """What the reference check reads of a pipeline (a :class:`~salesstages.Pipeline`)."""

    @property
    def name(self) -> str: ...
    @property
    def stages(self) -> Sequence[_Stage]: ...
    def __contains__(self, name: object) -> bool: ...
    def stage(self, name: str) -> _Stage: ...


__all__ = [
    "MAX_SUBSTATES",
    "Substate",
    "SubstateMoves",
    "SubstateTable",
    "check_references",
    "substate_table",
    "to_substates",
]

#: The most sub-states one stage may have (in Python and in files): a deal moves
#: between them through a table whose size grows with the square of their number.
MAX_SUBSTATES: Final = 100

#: The keys a sub-state mapping may have in a pipeline definition.
_KEYS: Final = frozenset({"name", "label", "entry"})


@attrs.frozen
class Substate:
    """One sub-state of an open stage, optionally with its own entry criteria.

    Args:
        name: Unique within the stage, for example ``"negotiation"``.
        entry: The entry criteria, a guard (see :mod:`salesstages.guards`),
            checked when a deal enters the sub-state, like a stage's.
        label: Human-readable name (defaults to ``name``).
    """

    name: str
    entry: GuardLike | None = attrs.field(default=None, kw_only=True)
    label: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise PipelineError(f"sub-state names must be non-empty strings, got {self.name!r}")
        if self.label is not None and not isinstance(self.label, str):
            raise PipelineError(
                f"sub-state {self.name!r}: label must be a string, got {self.label!r}"
            )
        if self.entry is not None and not callable(self.entry):
            raise PipelineError(
                f"sub-state {self.name!r}: entry must be a guard (a callable), got {self.entry!r}"
            )

    @property
    def title(self) -> str:
        """The label, or the name when there is no label."""
        return self.label or self.name

    def to_dict(self) -> dict[str, Any] | str:
        """The name alone for a plain sub-state, else a mapping (unset keys left out)."""
        if self.entry is None and self.label is None:
            return self.name
        d: dict[str, Any] = {"name": self.name}
        if self.label is not None:
            d["label"] = self.label
        if self.entry is not None:
            d["entry"] = _guard_to_dict(self.entry)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | str) -> Substate:
        """Rebuild a sub-state from :meth:`to_dict`'s form (a name or a mapping)."""
        if isinstance(d, str):
            return cls(d)
        if not isinstance(d, Mapping) or "name" not in d:
            raise PipelineError(f"a sub-state must be a name or a mapping with a 'name', got {d!r}")
        unknown = set(d) - _KEYS
        if unknown:
            raise PipelineError(f"sub-state {d['name']!r} has unknown key(s): {sorted(unknown)}")
        entry = d.get("entry")
        return cls(
            d["name"],
            label=d.get("label"),
            entry=guard_from_dict(entry) if entry is not None else None,
        )


def to_substates(stage: str, value: object) -> tuple[Substate, ...]:
    """``value`` (names or :class:`Substate` objects) as sub-states; raises
    :class:`PipelineError` naming ``stage`` for anything else."""
    if isinstance(value, str | Substate):
        raise PipelineError(
            f"stage {stage!r}: substates must be a sequence of names or Substate objects, "
            f"not the single {value!r}; wrap it in a tuple"
        )
    if not isinstance(value, Iterable):
        raise PipelineError(
            f"stage {stage!r}: substates must be a sequence of names or Substate objects, "
            f"got {value!r}"
        )
    out: list[Substate] = []
    for item in value:
        if len(out) == MAX_SUBSTATES:
            raise PipelineError(
                f"stage {stage!r} has more than {MAX_SUBSTATES} sub-states, the limit; "
                "sub-states are steps within a stage: split the stage into several stages"
            )
        if isinstance(item, Substate):
            out.append(item)
        elif isinstance(item, str):
            out.append(Substate(item))
        else:
            raise PipelineError(
                f"stage {stage!r}: a sub-state must be a name or a Substate, got {item!r}"
            )
    return tuple(out)


class SubstateMoves:
    """The sub-states of one stage a deal in sub-state ``current`` may enter.

    Computed from positions rather than stored as a set per sub-state, so a
    stage's table takes memory linear in its number of sub-states (a set per
    sub-state held ``k²`` names). Supports ``in`` and iteration in order.
    """

    __slots__ = ("_at", "_index", "_names", "_regress")

    def __init__(
        self, names: tuple[str, ...], index: Mapping[str, int], at: int, regress: bool
    ) -> None:
        self._names, self._index, self._at, self._regress = names, index, at, regress

    def __contains__(self, name: object) -> bool:
        j = self._index.get(name) if isinstance(name, str) else None
        if j is None:
            return False
        return j != self._at if self._regress else j > self._at

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names if name in self)


class SubstateTable:
    """For each current sub-state (``None``: none yet), the :class:`SubstateMoves`."""

    __slots__ = ("_index", "_names", "_regress")

    def __init__(self, stage: _Stage) -> None:
        self._names = stage.substates
        self._index = {name: i for i, name in enumerate(self._names)}
        self._regress = stage.substate_regress

    def get(self, current: str | None) -> SubstateMoves | None:
        """The moves from ``current``; None when it is not a sub-state here."""
        at = -1 if current is None else self._index.get(current)
        if at is None:
            return None
        return SubstateMoves(self._names, self._index, at, self._regress)

    def __getitem__(self, current: str | None) -> SubstateMoves:
        moves = self.get(current)
        if moves is None:
            raise KeyError(current)
        return moves


def substate_table(stage: _Stage) -> SubstateTable:
    """For each current sub-state (``None``: none yet), the sub-states a deal may enter."""
    return SubstateTable(stage)


def _tree(g: GuardLike) -> Iterator[GuardLike]:
    """The guard and every guard nested in it."""
    yield g
    for sub in getattr(g, "guards", None) or ():
        if callable(sub):
            yield from _tree(sub)
    inner = getattr(g, "guard", None)
    if callable(inner):
        yield from _tree(inner)


def check_references(pipeline: _Pipeline) -> None:
    """Every ``substate_reached`` guard names a stage and a sub-state of that stage."""
    for stage in pipeline.stages:
        owners: list[tuple[str, GuardLike | None]] = [(f"stage {stage.name!r}", stage.entry)]
        owners += [
            (f"sub-state {sub.name!r} of stage {stage.name!r}", sub.entry)
            for sub in stage.substate_specs
        ]
        for owner, entry in owners:
            if entry is None:
                continue
            for g in _tree(entry):
                if isinstance(g, _SubstateReached):
                    _check_reference(pipeline, owner, g)


def _check_reference(pipeline: _Pipeline, owner: str, g: _SubstateReached) -> None:
    if g.stage not in pipeline:
        raise PipelineError(
            f"pipeline {pipeline.name!r}: the entry criteria of {owner} name unknown stage "
            f"{g.stage!r} in substate_reached({g.stage!r}, {g.substate!r}); known stages: "
            + ", ".join(s.name for s in pipeline.stages)
        )
    subs = pipeline.stage(g.stage).substates
    if g.substate not in subs:
        known = ", ".join(subs) if subs else "none"
        raise PipelineError(
            f"pipeline {pipeline.name!r}: the entry criteria of {owner} name unknown sub-state "
            f"{g.substate!r} of stage {g.stage!r} in substate_reached({g.stage!r}, "
            f"{g.substate!r}); its sub-states: {known}"
        )
