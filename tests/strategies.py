"""Hypothesis strategies for valid event logs, drawn through ``simulate``.

The simulator writes valid logs straight from the compiled transition table,
so drawing its seed and its rates gives varied logs (skips, regressions,
reopenings, sub-states, deals still open) that always replay with
``strict=True``. Shrinking goes towards fewer deals and the first seed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from salesstages import Event, Pipeline, Stage, presets
from salesstages._simulate import simulate

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def tiny_pipeline() -> Pipeline:
    """lead → demo (two sub-states) → won / lost, skips and regressions allowed."""
    return Pipeline(
        "tiny",
        [
            Stage("lead", rot_after=timedelta(days=5)),
            Stage("demo", substates=("first", "second"), rot_after=timedelta(days=3)),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_regress=True,
    )


PIPELINES: dict[str, Callable[[], Pipeline]] = {
    "tiny": tiny_pipeline,
    "inbound_b2b": presets.inbound_b2b,
    "classic_b2b": presets.classic_b2b,
    "modern_b2b": presets.modern_b2b,
}
_BUILT: dict[str, Pipeline] = {}


def _pipeline(name: str) -> Pipeline:
    if name not in _BUILT:
        _BUILT[name] = PIPELINES[name]()
    return _BUILT[name]


def pipelines() -> st.SearchStrategy[Pipeline]:
    """One of a few pipelines: a tiny one and the three presets."""
    return st.sampled_from(sorted(PIPELINES)).map(_pipeline)


class Log:
    """A drawn log: the pipeline, its events (grouped by deal in seq order), the
    same events in a drawn order, and the simulator's arguments (its repr, so
    that a falsifying example prints in one line and can be re-simulated)."""

    __slots__ = ("events", "params", "pipeline", "shuffled")

    def __init__(
        self, pipeline: Pipeline, events: list[Event], shuffled: list[Event], params: str
    ) -> None:
        self.pipeline = pipeline
        self.events = events
        self.shuffled = shuffled
        self.params = params

    def __repr__(self) -> str:
        return f"Log({self.params}, events={len(self.events)})"


@st.composite
def logs(
    draw: st.DrawFn, *, pipeline: Pipeline | None = None, max_deals: int = 12, shuffle: bool = False
) -> Log:
    """A valid log of 0..``max_deals`` deals; with ``shuffle`` also the events in a
    drawn order (``Log.shuffled``, else the same list)."""
    p = pipeline if pipeline is not None else draw(pipelines())
    params = {
        "deals": draw(st.integers(0, max_deals)),
        "days": draw(st.sampled_from([5.0, 30.0, 120.0])),
        "seed": draw(st.integers(0, 2**16)),
        "skip_rate": draw(st.sampled_from([0.0, 0.15, 0.6])),
        "regress_rate": draw(st.sampled_from([0.0, 0.12, 0.5])),
        "loss_rate": draw(st.sampled_from([0.1, 0.45, 0.9])),
        "reopen_rate": draw(st.sampled_from([0.0, 0.25, 0.8])),
        "mean_stage_days": draw(st.sampled_from([0.5, 4.0, 9.0])),
    }
    events = simulate(p, start=T0, activities=False, **params)  # type: ignore[arg-type]
    shuffled = draw(st.permutations(events)) if shuffle else events
    text = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return Log(p, events, shuffled, f"pipeline={p.name!r}, {text}")
