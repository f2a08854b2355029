"""docs/testing.md: its examples run, and its counterexamples are what Hypothesis finds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
#: The single steps the page says a run may print for the first failure.
WINNING_STEPS = {
    "state.win(stage='closed_won')",
    "state.advance(to='closed_won')",
    "state.move(to='closed_won')",
}
#: The invariant calls Hypothesis prints after every step of the first example.
INVARIANT_CALLS = ("state.builtin_invariants()", "state.won_deals_saw_a_proposal()")


def blocks(kind: str) -> list[str]:
    """The fenced code blocks of one kind (``python`` or ``text``) in docs/testing.md."""
    return re.findall(rf"^```{kind}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def run_blocks(count: int) -> dict[str, Any]:
    """Execute the first ``count`` python blocks in one namespace, as one module would."""
    namespace: dict[str, Any] = {"__name__": "docs_testing_example"}
    for source in blocks("python")[:count]:
        exec(compile(source, str(DOC), "exec"), namespace)
    return namespace


def steps(text: str) -> list[str]:
    """The lines of a printed state-machine run, from ``state = …`` to ``state.teardown()``."""
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("state = "))
    end = lines.index("state.teardown()", start)
    return lines[start : end + 1]


def test_example_is_about_ten_lines() -> None:
    """The first example, the failing rule, is about ten lines of code."""
    example = blocks("python")[0]
    code = [line for line in example.splitlines() if line.strip()]
    assert 8 <= len(code) <= 12, code


def replay_script(text: str, namespace: dict[str, Any]) -> str | None:
    """Run the ``state…`` lines of a printed counterexample; return the line that failed."""
    for line in steps(text):
        try:
            exec(line, namespace)
        except AssertionError:
            return line
    return None


def test_failing_rule_prints_the_documented_counterexample() -> None:
    """Hypothesis shrinks the first rule's failure to the one step the page shows."""
    namespace = run_blocks(1)
    config = settings(namespace["TestProposalBeforeWin"].settings, derandomize=True, database=None)
    with pytest.raises(AssertionError) as failure:
        run_state_machine_as_test(namespace["ProposalBeforeWin"], settings=config)
    printed = steps("\n".join(getattr(failure.value, "__notes__", [])))
    documented = steps(blocks("text")[0])
    calls = [line for line in printed[1:-1] if not line.endswith(INVARIANT_CALLS)]
    assert len(printed) == len(documented)
    assert len(calls) == 1
    assert calls[0] in WINNING_STEPS
    assert sum(line in WINNING_STEPS for line in documented) == 1
    assert blocks("text")[0].startswith("AssertionError: assert 'proposal_sent' in")


@pytest.mark.parametrize(("count", "text"), [(1, 0), (2, 1)])
def test_documented_counterexamples_reproduce(count: int, text: int) -> None:
    """Each printed counterexample, run as a script, breaks the rule at its last check."""
    namespace = run_blocks(count)
    documented = steps(blocks("text")[text])
    failed = replay_script(blocks("text")[text], namespace)
    assert failed == "state.won_deals_saw_a_proposal()"
    assert documented[-2] == failed
    assert namespace["state"].deal.outcome == "won"


def test_first_fix_forbids_skips_and_asks_for_more_examples() -> None:
    """The first fix turns skips off and raises the number of examples."""
    namespace = run_blocks(2)
    assert namespace["NoSkips"].pipeline.allow_skip is False
    assert namespace["TestNoSkips"].settings.max_examples == 1000


def test_fix_passes() -> None:
    """The fixed pipeline from the page keeps the rule."""
    namespace = run_blocks(3)
    machine = namespace["Sound"]
    assert machine.pipeline.transitions is not None
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None, database=None),
    )


def test_user_rule_example_runs() -> None:
    """The example with a user @rule runs clean and carries that rule."""
    namespace = run_blocks(4)
    machine = namespace["WithJumps"]
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=20, stateful_step_count=20, deadline=None, database=None),
    )
    assert "jump_to_negotiation" in {r.function.__name__ for r in machine.setup_state().rules}


def test_strategy_example_runs() -> None:
    """The events() example is a passing Hypothesis test."""
    namespace = run_blocks(5)
    test = namespace["test_replay_is_order_independent"]
    settings(max_examples=20, deadline=None, database=None)(test)()
    assert namespace["pipeline"].name == "modern_b2b"
