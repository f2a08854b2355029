"""Read a few of a table's events back into :class:`~salesstages.Event` objects: what a
function whose work is a replay (the what-if) or a fold at many dates (calibration)
needs, and only that (the kinds and the deals asked for, at or before ``as_of``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..._events import Event
from ._columns import from_us
from ._pivots import Pivots

__all__ = ["read_events"]


def read_events(
    pv: Pivots, kinds: Sequence[str] | None = None, *, deals: Any = None, data: bool = True
) -> list[Event]:
    """The kept events of ``kinds`` (all kinds when None) of the deals in ``deals`` (a
    one-column table expression of deal ids, or None for every deal), each deal's in
    ``seq`` order; with ``data=False`` their ``data`` is left empty (not read)."""
    k = pv.kept
    if kinds is not None:
        k = k.filter(k.kind.isin(list(kinds)))
    if deals is not None:
        ids = deals.select(r_deal=deals.columns[0])
        k = k.semi_join(ids, k.deal_id == ids.r_deal)
    cols: dict[str, Any] = {"text": k.data.cast("string")} if data else {}
    expr = k.select("deal_id", "seq", "at_us", "kind", "stage", "name", **cols)
    out = []
    for r in pv.run(expr.order_by(["deal_id", "seq"]), "read events"):
        text = r.get("text")
        out.append(
            Event(
                deal_id=r["deal_id"],
                seq=r["seq"],
                at=from_us(r["at_us"]),
                kind=r["kind"],
                stage=r["stage"],
                name=r["name"],
                data=json.loads(text) if text else {},
            )
        )
    return out
