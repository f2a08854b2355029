"""Stage: one stage of a pipeline, its sub-states and its checks (the part of a
pipeline definition that needs no other stage)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Final, Literal, TypeAlias

import attrs

from ._errors import PipelineError, UnknownStageError
from ._substates import Substate, substate_table, to_substates
from ._values import FORECAST_CATEGORIES
from .guards import GuardLike, _guard_to_dict, guard_from_dict

__all__ = ["SEPARATOR", "Outcome", "Stage", "Substate", "substate_table"]

Outcome: TypeAlias = Literal["open", "won", "lost"]
_OUTCOMES: Final = ("open", "won", "lost")
#: Separator between a stage and its sub-state in the live machine's state names;
#: stage and sub-state names may not contain it.
SEPARATOR: Final = "/"
#: The largest ``rot_after_seconds`` a definition may give (``timedelta.max``, whole seconds).
_MAX_ROT_SECONDS: Final = timedelta.max.days * 86_400


def _check_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise PipelineError(f"{what} names must be non-empty strings, got {name!r}")
    if SEPARATOR in name:
        raise PipelineError(f"{what} name {name!r} may not contain {SEPARATOR!r}")
    return name


@attrs.frozen(init=False)
class Stage:
    """One stage of a pipeline.

    Args:
        name: Unique identifier, for example ``"formal_proposal"``.
        label: Human-readable name (defaults to ``name``).
        entry: The entry criteria, a guard (see :mod:`salesstages.guards`).
        substates: Ordered sub-states of an open stage: names or
            :class:`Substate` objects (which may carry their own entry criteria).
        substate_regress: Allow a deal to go back to an earlier sub-state of
            the stage (by default it may only go forward, skipping being fine).
        probability: Chance of winning from this stage, in [0, 1].
        rot_after: Idle time after which an open deal here counts as stalled.
        outcome: ``"open"``, ``"won"`` or ``"lost"``.
        forecast_category: The forecast category of an open deal here that has
            no ``forecast_category`` of its own: ``"pipeline"``, ``"best_case"``,
            ``"commit"`` or ``"omitted"``.

    Attributes:
        substates: The sub-states' names, in order.
        substate_specs: The sub-states as :class:`Substate` objects, in order.
    """

    name: str
    label: str | None
    entry: GuardLike | None
    substates: tuple[str, ...]
    substate_specs: tuple[Substate, ...]
    substate_regress: bool
    probability: float | None
    rot_after: timedelta | None
    outcome: Outcome
    forecast_category: str | None

    def __init__(
        self,
        name: str,
        *,
        label: str | None = None,
        entry: GuardLike | None = None,
        substates: Iterable[str | Substate] = (),
        substate_regress: bool = False,
        probability: float | None = None,
        rot_after: timedelta | None = None,
        outcome: Outcome = "open",
        forecast_category: str | None = None,
    ) -> None:
        specs = to_substates(str(name), substates)
        self.__attrs_init__(
            name,
            label,
            entry,
            tuple(sub.name for sub in specs),
            specs,
            substate_regress,
            probability,
            rot_after,
            outcome,
            forecast_category,
        )

    def __attrs_post_init__(self) -> None:
        _check_category(self)
        _check_name("stage", self.name)
        if self.label is not None and not isinstance(self.label, str):
            raise PipelineError(f"stage {self.name!r}: label must be a string, got {self.label!r}")
        if self.outcome not in _OUTCOMES:
            raise PipelineError(
                f"stage {self.name!r}: outcome must be 'open', 'won' or 'lost', "
                f"got {self.outcome!r}"
            )
        if self.entry is not None and not callable(self.entry):
            raise PipelineError(
                f"stage {self.name!r}: entry must be a guard (a callable), got {self.entry!r}"
            )
        if self.substates and self.outcome != "open":
            raise PipelineError(
                f"stage {self.name!r} is a closed ({self.outcome}) stage and cannot have "
                "sub-states; only open stages have sub-states"
            )
        if not isinstance(self.substate_regress, bool):
            raise PipelineError(
                f"stage {self.name!r}: substate_regress must be True or False, "
                f"got {self.substate_regress!r}"
            )
        seen: set[str] = set()
        for sub in self.substates:
            _check_name(f"sub-state of stage {self.name!r}:", sub)
            if sub in seen:
                raise PipelineError(f"stage {self.name!r} has duplicate sub-state {sub!r}")
            seen.add(sub)
        p = self.probability
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0
        ):
            raise PipelineError(
                f"stage {self.name!r}: probability must be a number in [0, 1], got {p!r}"
            )
        if self.rot_after is not None and (
            not isinstance(self.rot_after, timedelta) or self.rot_after <= timedelta(0)
        ):
            raise PipelineError(
                f"stage {self.name!r}: rot_after must be a positive timedelta, "
                f"got {self.rot_after!r}"
            )

    @property
    def title(self) -> str:
        """The label, or the name when there is no label."""
        return self.label or self.name

    @property
    def is_open(self) -> bool:
        """True for an open (not closed) stage."""
        return self.outcome == "open"

    def substate(self, name: str) -> Substate:
        """The sub-state called ``name``; raises :class:`UnknownStageError`."""
        for sub in self.substate_specs:
            if sub.name == name:
                return sub
        known = ", ".join(self.substates) if self.substates else "none"
        raise UnknownStageError(
            f"stage {self.name!r} has no sub-state {name!r}; its sub-states: {known}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML/YAML-friendly dict (keys whose value is unset are left out)."""
        d: dict[str, Any] = {"name": self.name}
        if self.label is not None:
            d["label"] = self.label
        if self.outcome != "open":
            d["outcome"] = self.outcome
        if self.entry is not None:
            d["entry"] = _guard_to_dict(self.entry)
        if self.substates:
            d["substates"] = [sub.to_dict() for sub in self.substate_specs]
        if self.substate_regress:
            d["substate_regress"] = True
        if self.probability is not None:
            d["probability"] = self.probability
        if self.rot_after is not None:
            seconds = self.rot_after.total_seconds()
            d["rot_after_seconds"] = int(seconds) if seconds.is_integer() else seconds
        if self.forecast_category is not None:
            d["forecast_category"] = self.forecast_category
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stage:
        """Rebuild a stage from :meth:`to_dict`'s form."""
        if not isinstance(d, Mapping) or "name" not in d:
            raise PipelineError(f"a stage must be a mapping with a 'name', got {d!r}")
        unknown = set(d) - {
            "name",
            "label",
            "outcome",
            "entry",
            "substates",
            "substate_regress",
            "probability",
            "rot_after_seconds",
            "forecast_category",
        }
        if unknown:
            raise PipelineError(f"stage {d['name']!r} has unknown key(s): {sorted(unknown)}")
        rot = d.get("rot_after_seconds")
        if rot is not None and (
            isinstance(rot, bool)
            or not isinstance(rot, int | float)
            or not 0 < rot <= _MAX_ROT_SECONDS  # also refuses NaN
        ):
            raise PipelineError(
                f"stage {d['name']!r}: rot_after_seconds must be a number of seconds above 0 "
                f"and at most {_MAX_ROT_SECONDS:,} (about 2.7 million years), got {rot!r}"
            )
        entry = d.get("entry")
        subs = d.get("substates", ())
        if not isinstance(subs, list | tuple):
            raise PipelineError(
                f"stage {d['name']!r}: 'substates' must be a list of names or sub-state "
                f"mappings, got {subs!r}"
            )
        regress = d.get("substate_regress", False)
        if not isinstance(regress, bool):
            raise PipelineError(
                f"stage {d['name']!r}: 'substate_regress' must be true or false, got {regress!r}"
            )
        return cls(
            d["name"],
            label=d.get("label"),
            outcome=d.get("outcome", "open"),
            entry=guard_from_dict(entry) if entry is not None else None,
            substates=tuple(Substate.from_dict(sub) for sub in subs),
            substate_regress=regress,
            probability=d.get("probability"),
            rot_after=timedelta(seconds=rot) if rot is not None else None,
            forecast_category=d.get("forecast_category"),
        )


def _check_category(stage: Stage) -> None:
    """Refuse a stage's ``forecast_category`` that is not one of the four, or one on
    a closed stage."""
    category = stage.forecast_category
    if category is None:
        return
    if not isinstance(category, str) or category not in FORECAST_CATEGORIES:
        raise PipelineError(
            f"stage {stage.name!r}: forecast_category must be one of "
            f"{', '.join(repr(c) for c in FORECAST_CATEGORIES)}, got {category!r}"
        )
    if stage.outcome != "open":
        raise PipelineError(
            f"stage {stage.name!r} is a closed ({stage.outcome}) stage and cannot have a "
            "forecast_category; closed deals are forecast as 'closed' (won) or not at all"
        )
