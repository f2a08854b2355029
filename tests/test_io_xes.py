"""io.write_xes: the log as IEEE XES, read back with the standard library's XML parser
(and with pm4py when it is installed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import test_people as people
from _helpers import day
from salesstages import Event, UnknownStageError, metrics
from salesstages.io import write_xes

NS = {"x": "http://www.xes-standard.org/"}


def _attrs(element: ET.Element) -> dict[str, str]:
    return {
        child.attrib["key"]: child.attrib["value"] for child in element if "key" in child.attrib
    }


def test_one_trace_per_deal(tmp_path: Path) -> None:
    """Five deals, five traces; each trace's stage entries in order, with the owner."""
    target = tmp_path / "log.xes"
    assert write_xes(people.EV, people.P, target) == 5
    root = ET.parse(target).getroot()
    traces = root.findall("x:trace", NS)
    assert [_attrs(t)["concept:name"] for t in traces] == ["P1", "P2", "P3", "P4", "P5"]
    p1 = [_attrs(e) for e in traces[0].findall("x:event", NS)]
    # P1: a, b (owner ana), then owner → bob, c, won
    assert [(e["concept:name"], e.get("org:resource")) for e in p1] == [
        ("a", "ana"),
        ("b", "ana"),
        ("c", "bob"),
        ("won", "bob"),
    ]
    assert p1[0]["time:timestamp"] == "2026-01-05T09:00:00+00:00"
    assert p1[0]["lifecycle:transition"] == "start"
    assert _attrs(traces[0])["owner"] == "ana"
    p2 = [_attrs(e) for e in traces[1].findall("x:event", NS)]
    assert p2[-1]["salesstages:reason"] == "price"


def test_activities_and_awkward_text(tmp_path: Path) -> None:
    """Activities are events too; text XML cannot hold is escaped, not lost."""
    ev = [
        Event(deal_id="Q<1>", seq=0, at=day(0), kind="opened", data={"note": "a\x01b & c"}),
        Event(deal_id="Q<1>", seq=1, at=day(0), kind="stage_entered", stage="a"),
        Event(deal_id="Q<1>", seq=2, at=day(1), kind="activity", name='call "x"'),
    ]
    target = tmp_path / "q.xes"
    write_xes(ev, people.P, target)
    trace = ET.parse(target).getroot().find("x:trace", NS)
    assert trace is not None
    assert _attrs(trace) == {"concept:name": "Q<1>", "note": "a\\x01b & c"}
    names = [_attrs(e)["concept:name"] for e in trace.findall("x:event", NS)]
    assert names == ["a", 'call "x"']


def test_unknown_stage_is_refused(tmp_path: Path) -> None:
    """A stage the pipeline does not define is refused, and nothing is written."""
    ev = [Event(deal_id="Z", seq=0, at=day(0), kind="stage_entered", stage="nope")]
    target = tmp_path / "z.xes"
    with pytest.raises(UnknownStageError):
        write_xes(ev, people.P, target)
    assert not target.exists()


def test_not_a_pipeline(tmp_path: Path) -> None:
    """The pipeline argument must be a Pipeline."""
    with pytest.raises(TypeError, match="pipeline must be"):
        write_xes(people.EV, "p", tmp_path / "x.xes")  # type: ignore[arg-type]


# pm4py warns on every XES import that an optional faster parser (r4pm/rustxes) is
# missing; the pure-Python parser it falls back to is the one worth checking against.
@pytest.mark.filterwarnings("ignore:.*`r4pm`:UserWarning")
def test_pm4py_reads_it_back(tmp_path: Path) -> None:
    """pm4py reads the file; its variants and directly-follows graph over the stage entries
    are our paths and transitions, with one case per deal."""
    pm4py = pytest.importorskip(
        "pm4py", reason="pm4py is not installed (pip install pm4py) to read XES back"
    )
    target = tmp_path / "log.xes"
    write_xes(people.EV, people.P, target)
    frame = pm4py.read_xes(str(target))
    stages = frame[frame["salesstages:kind"] == "stage_entered"]
    variants = pm4py.get_variants(stages)
    theirs = {tuple(k): (v if isinstance(v, int) else len(v)) for k, v in variants.items()}
    assert theirs == {r.path: r.deals for r in metrics.paths(people.EV, people.P)}
    dfg, _, _ = pm4py.discover_dfg(stages)
    moves = {(r.from_stage, r.to_stage): r.moves for r in metrics.transitions(people.EV, people.P)}
    assert dict(dfg) == moves
    assert frame["case:concept:name"].nunique() == len({e.deal_id for e in people.EV})
