"""Diagrams: the main path (contract §13) and Graphviz output ranked in stage order."""

from __future__ import annotations

import re

import pytest

from _cli_data import Runner
from salesstages import Pipeline, Stage, Substate, activity
from salesstages.presets import classic_b2b, inbound_b2b, modern_b2b


def arrows(text: str) -> list[str]:
    """The Mermaid transition lines of a diagram."""
    return [line.strip() for line in text.splitlines() if "-->" in line]


def visible_edges(dot: str) -> list[str]:
    """The drawn (not invisible) edges of a DOT diagram."""
    return [line.strip() for line in dot.splitlines() if "->" in line and "invis" not in line]


@pytest.mark.parametrize(
    ("make", "full", "main"),
    [
        # inbound: 6 open stages; main path = [*]→first + 5 hops + 2 exits + 2 ends
        # + the proposal's 4 sub-states ([*]→first + 3 hops) = 14
        (inbound_b2b, 54, 14),
        # modern: 8 open stages = [*] + 7 hops + 2 exits + 2 ends + the demo's 2
        # sub-states ([*] + 1 hop) = 14
        (modern_b2b, 84, 14),
        # classic: 6 open stages, no sub-states = [*] + 5 hops + 2 exits + 2 ends = 10
        (classic_b2b, 35, 10),
    ],
)
def test_main_path_edge_counts(make: object, full: int, main: int) -> None:
    """The presets' diagrams shrink from every allowed move to the main path."""
    pipeline: Pipeline = make()  # type: ignore[operator]
    assert len(arrows(pipeline.to_mermaid())) == full
    assert len(arrows(pipeline.to_mermaid(main_path=True))) == main


def test_main_path_edges_and_criteria_once() -> None:
    """Only next-stage moves and the last open stage's exits, each criterion written once."""
    text = inbound_b2b().to_mermaid(main_path=True)
    lines = arrows(text)
    assert (
        "inbound_lead --> discovery : meeting 'discovery' booked and accepted by prospect and rep"
        in lines
    )
    assert "formal_proposal --> closed_won" in lines
    assert "formal_proposal --> closed_lost" in lines
    assert "discovery --> closed_lost" not in lines
    assert "closed_lost --> [*]" in lines
    assert text.count("document 'proposal' sent") == 1
    assert inbound_b2b().to_mermaid().count("document 'proposal' sent") > 1


def test_substate_criteria_on_their_edge() -> None:
    """A sub-state's criterion labels the edge into it, once; its label is shown."""
    p = Pipeline(
        "p",
        [
            Stage("a", substates=("x", Substate("y", label="Why", entry=activity("call")))),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )
    for main_path in (False, True):
        text = p.to_mermaid(main_path=main_path)
        assert "a__x_0 --> a__y_1 : activity 'call' recorded" in text
        assert text.count("activity 'call' recorded") == 1
        assert 'state "Why" as a__y_1' in text


def test_dot_keeps_stage_order_left_to_right() -> None:
    """DOT output runs left to right with an invisible weighted chain in stage order."""
    pipeline = modern_b2b()
    dot = pipeline.to_dot()
    assert "rankdir=LR;" in dot
    chain = re.findall(r'"(\w+)" -> "(\w+)" \[style=invis, weight=100\];', dot)
    opens = [s.name for s in pipeline.open_stages]
    assert [a for a, _ in chain] == opens
    assert [b for _, b in chain] == [*opens[1:], "closed_won"]
    assert '{ rank=same; "closed_won" "closed_lost" }' in dot
    # moves off the main path never shape the ranks
    for edge in visible_edges(dot):
        a, b = re.findall(r'"(\w+)"', edge)
        on_path = (
            a in opens and opens.index(a) + 1 < len(opens) and opens[opens.index(a) + 1] == b
        ) or (a == opens[-1] and not pipeline.stage(b).is_open)
        assert ("constraint=false" not in edge) == on_path, edge


def test_dot_main_path() -> None:
    """The main path in DOT: 5 hops and 2 exits for the inbound preset's 6 open stages."""
    dot = inbound_b2b().to_dot(main_path=True)
    assert len(visible_edges(dot)) == 7
    assert dot.count("document 'proposal' sent") == 1


def test_cli_main_path(run: Runner) -> None:
    """``diagram --main-path`` prints the main path in Mermaid and DOT."""
    status, out, _ = run("diagram", "-p", "inbound_b2b", "--main-path")
    assert status == 0
    assert out == inbound_b2b().to_mermaid(main_path=True)
    _, dot, _ = run("diagram", "-p", "inbound_b2b", "-f", "dot", "--main-path")
    assert dot == inbound_b2b().to_dot(main_path=True)
