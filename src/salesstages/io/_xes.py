"""The event log as IEEE XES (1849-2016), so process-mining tools (pm4py, ProM,
bupaR, Celonis, Disco) open it: :func:`write_xes`.

One trace per deal (``concept:name`` its id, the attributes it was opened with as
trace attributes); one event per stage entry (``concept:name`` the stage,
``lifecycle:transition`` ``start``: the stay in the stage starts there) and per
activity (its name, ``complete``), each with ``time:timestamp`` and, when the
deal has one then, the owner as ``org:resource``. The stage entries alone are the
log :func:`salesstages.metrics.paths` and :func:`~salesstages.metrics.transitions`
read: filter on ``salesstages:kind`` = ``stage_entered`` to get it back.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, Final
from xml.sax.saxutils import quoteattr

from .._files import atomic_open
from .._replay import group_events

if TYPE_CHECKING:
    from .._events import Event
    from .._pipeline import Pipeline

__all__ = ["write_xes"]

_HEAD: Final = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00+00:00"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>
"""
#: Characters XML 1.0 cannot hold at all: shown as ``\\xNN`` text instead.
_BAD_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return quoteattr(_BAD_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", value))


def _attribute(key: str, value: Any, indent: str) -> str | None:
    """One typed XES attribute; ``None`` for a value XES has no type for (lists,
    objects, null), which is left out."""
    k = _text(key)
    if isinstance(value, bool):
        return f"{indent}<boolean key={k} value={_text(str(value).lower())}/>"
    if isinstance(value, int):
        return f"{indent}<int key={k} value={_text(str(value))}/>"
    if isinstance(value, float) and math.isfinite(value):
        return f"{indent}<float key={k} value={_text(repr(value))}/>"
    if isinstance(value, str):
        return f"{indent}<string key={k} value={_text(value)}/>"
    return None


def write_xes(
    events: Iterable[Event],
    pipeline: Pipeline,
    path: str | os.PathLike[str],
    *,
    resource: str = "owner",
) -> int:
    """Write the log as an IEEE XES file, one trace per deal; return how many traces.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow (its name names the log; a stage
            entry of a stage it does not define is refused).
        path: Where to write; the file appears only once complete.
        resource: The deal attribute written as each event's ``org:resource``.

    Raises:
        TypeError: ``pipeline`` is not a :class:`~salesstages.Pipeline`.
        UnknownStageError: An event enters a stage the pipeline does not define.
    """
    from .._pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"pipeline must be a salesstages.Pipeline, got {type(pipeline).__name__}")
    groups = group_events(events)
    with atomic_open(path) as out:
        out.write(_HEAD)
        out.write(f'  <string key="concept:name" value={_text(pipeline.name)}/>\n')
        for deal_id, evs in groups.items():
            _trace(out, pipeline, deal_id, evs, resource)
        out.write("</log>\n")
    return len(groups)


def _trace(out: IO[str], pipeline: Pipeline, deal_id: str, evs: list[Event], resource: str) -> None:
    out.write("  <trace>\n")
    out.write(f'    <string key="concept:name" value={_text(deal_id)}/>\n')
    opened: Mapping[str, Any] = next((e.data for e in evs if e.kind == "opened"), {})
    for key, value in opened.items():
        if key != "concept:name":
            line = _attribute(key, value, "    ")
            if line is not None:
                out.write(line + "\n")
    owner: Any = None
    for e in evs:
        if e.kind in ("opened", "updated") and resource in e.data:
            owner = e.data[resource]
            continue
        if e.kind == "stage_entered":
            name = pipeline.stage(e.stage).name  # type: ignore[arg-type]
            transition = "start"
        elif e.kind == "activity":
            name = e.name or ""
            transition = "complete"
        else:
            continue
        out.write("    <event>\n")
        out.write(f'      <string key="concept:name" value={_text(name)}/>\n')
        out.write(f'      <date key="time:timestamp" value={_text(e.at.isoformat())}/>\n')
        out.write(f'      <string key="lifecycle:transition" value="{transition}"/>\n')
        out.write(f'      <string key="salesstages:kind" value="{e.kind}"/>\n')
        out.write(f'      <int key="salesstages:seq" value="{e.seq}"/>\n')
        if owner is not None and not isinstance(owner, list | dict):
            out.write(f'      <string key="org:resource" value={_text(str(owner))}/>\n')
        reason = e.data.get("reason") if e.kind == "stage_entered" else None
        if isinstance(reason, str):
            out.write(f'      <string key="salesstages:reason" value={_text(reason)}/>\n')
        out.write("    </event>\n")
    out.write("  </trace>\n")
