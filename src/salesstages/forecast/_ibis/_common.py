"""What the Ibis forecasts share: the open amounts per stage."""

from __future__ import annotations

import math

from ...metrics._ibis._pivots import Pivots

__all__ = ["open_amounts", "value"]


def open_amounts(pv: Pivots, counts: dict[str, int] | None = None) -> dict[str, float]:
    """The open deals' total amount per stage (and their number, into ``counts``)."""
    if pv.as_of_us is None:
        return {}
    d = pv.deals_with("amount")
    d = d.filter(d.outcome == "open")
    agg = d.group_by("stage").aggregate(amount=d.amount.sum(), n=d.count())
    out: dict[str, float] = {}
    for r in pv.run(agg, "sum"):
        out[r["stage"]] = float(r["amount"] or 0.0)
        if counts is not None:
            counts[r["stage"]] = int(r["n"])
    return out


def value(amounts: dict[str, float], prob: dict[str, float]) -> float:
    return math.fsum(a * prob.get(stage, 0.0) for stage, a in amounts.items())
