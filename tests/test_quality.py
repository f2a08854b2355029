"""``metrics.data_quality`` and the report's data-quality section: every gap named."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from _helpers import day
from salesstages import Event, Pipeline, Stage, metrics
from salesstages._replay import Problem
from salesstages.report import build_report, render_csv, render_html, render_text
from salesstages.report._model import records

Runner = Any


def _pipeline(rot: bool = False) -> Pipeline:
    return Pipeline(
        "abwl",
        [
            Stage("a", probability=0.2, rot_after=timedelta(days=7) if rot else None),
            Stage("b", probability=0.5),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
    )


def _deal(
    deal_id: str, path: list[tuple[float, str]], reason: str | None = None, **data: Any
) -> list[Event]:
    evs = [Event.create(deal_id=deal_id, seq=0, at=day(path[0][0]), kind="opened", data=data)]
    for t, stage in path:
        extra = {"reason": reason} if stage == "l" and reason else None
        evs.append(
            Event.create(
                deal_id=deal_id,
                seq=len(evs),
                at=day(t),
                kind="stage_entered",
                stage=stage,
                data=extra,
            )
        )
    return evs


def _log() -> list[Event]:
    """W1 won at 100, W2 won without an amount, L1 and L2 lost at 0 (L1 without a
    reason), O1 open in a since day 2 without an amount; nobody entered b."""
    return [
        *_deal("W1", [(0, "a"), (10, "w")], amount=100.0),
        *_deal("W2", [(1, "a"), (3, "w")]),
        *_deal("L1", [(0, "a"), (5, "l")], amount=0),
        *_deal("L2", [(0, "a"), (8, "l")], reason="price", amount=0),
        *_deal("O1", [(2, "a")]),
    ]


class TestDataQuality:
    """Each finding, by hand."""

    def test_every_finding_of_the_hand_made_log(self) -> None:
        """The seven findings the log has, in order, with counts and examples."""
        q = metrics.data_quality(_log(), _pipeline(), as_of=day(40))
        assert q.codes == (
            "open_without_amount",
            "closed_without_amount",
            "lost_zero_amount",
            "lost_without_reason",
            "imputed_stage",
            "no_rot_after",
            "older_than_history",
        )
        found = {f.code: f for f in q}
        assert (found["open_without_amount"].count, found["open_without_amount"].examples) == (
            1,
            ("O1",),
        )
        # closed: W1, W2, L1, L2; only W2 has no amount
        assert found["closed_without_amount"].count == 1
        assert "1 of 4 closed deals had no amount" in found["closed_without_amount"].message
        # both lost deals closed at 0 while W1 won 100
        assert found["lost_zero_amount"].examples == ("L1", "L2")
        assert "every lost deal (2)" in found["lost_zero_amount"].message
        assert found["lost_without_reason"].examples == ("L1",)
        # b: entered by nobody; imputed to W1 and W2, which went past it to w
        assert found["imputed_stage"].examples == ("b",)
        assert "b (2 deals)" in found["imputed_stage"].message
        # O1 sits in a since day 2: 40 − 2 = 38 days
        assert "median 38.0 days" in found["no_rot_after"].message
        # the longest closed stay in a lasted 10 days (W1); O1's 38 are more
        assert found["older_than_history"].examples == ("O1",)
        assert bool(q)
        assert len(q) == 7
        assert str(q).startswith("Data quality:\n- the open deal (1) has no amount")

    def test_clean_log_has_nothing_to_say(self) -> None:
        """Amounts, reasons, visited stages, rot_after and young deals: no finding."""
        log = [
            *_deal("W1", [(0, "a"), (1, "b"), (10, "w")], amount=100.0),
            *_deal("L1", [(0, "a"), (5, "l")], reason="price", amount=50.0),
            *_deal("O1", [(9, "a")], amount=10.0),
        ]
        q = metrics.data_quality(log, _pipeline(rot=True), as_of=day(10))
        assert not q
        assert q.get("no_rot_after") is None
        assert str(q) == "Data quality: nothing to report"

    def test_check_problems_and_torn_tail(self) -> None:
        """A log that breaks a rule and a torn tail come first."""
        log = [*_deal("W1", [(0, "a"), (1, "b"), (2, "w"), (3, "a")], amount=1.0)]
        q = metrics.data_quality(log, _pipeline(rot=True), torn_tail=17)
        assert q.codes[:2] == ("check_problems", "torn_tail")
        assert q.findings[0].examples[0].startswith("W1: ")
        assert "17 bytes" in q.findings[1].message

    def test_given_problems_replace_the_check(self) -> None:
        """Problems passed in are used as they are (a Histories cannot be checked)."""
        hist = metrics.histories(_log(), _pipeline())
        problem = Problem(deal_id="X", seq=1, rule="after_won", message="m")
        q = metrics.data_quality(hist, _pipeline(), problems=[problem])
        assert q.findings[0].code == "check_problems"
        assert q.findings[0].examples == ("X: after_won",)

    @pytest.mark.parametrize("torn", [-1, 1.5, True])
    def test_bad_torn_tail_refused(self, torn: Any) -> None:
        """``torn_tail`` must be a non-negative int."""
        with pytest.raises(ValueError, match="torn_tail must be a non-negative int"):
            metrics.data_quality(_log(), _pipeline(), torn_tail=torn)


class TestReportSection:
    """The data-quality section in every format."""

    def test_text_prints_it_first(self) -> None:
        """The text report names the gaps before the funnel, and marks the imputed stage."""
        report = build_report(_log(), _pipeline(), as_of=day(40))
        text = render_text(report)
        assert text.index("Data quality (7 findings)") < text.index("Funnel (")
        # b's reached count: nobody entered b, all 2 imputed
        funnel = text.split("Funnel (")[1].split("\n\n")[0]
        assert re.search(r"\nb +2 +all ", funnel)
        # no rot_after: "not measured", never "none", and no count in the heading
        assert "Stalled deals (0)" not in text
        stalled = text.split("Stalled deals\n")[1].split("\n\n")[0]
        assert "not measured: no stage has rot_after" in stalled
        # lost deals at 0: the amount win rate is not shown as a figure
        assert re.search(r"win rate \(amount\) +n/a +not meaningful: lost deals closed at 0", text)

    def test_json_csv_html(self) -> None:
        """JSON carries the rows, CSV a row per finding, HTML a section."""
        report = build_report(_log(), _pipeline(), as_of=day(40))
        rows = records(json.loads(json.dumps(report.to_dict())), "data-quality")
        assert next(r["code"] for r in rows) == "open_without_amount"
        assert rows[0]["examples"] == "O1"
        csv_text = render_csv(report)
        assert "data-quality,lost_zero_amount,count,2" in csv_text
        assert "funnel,b,imputed,2" in csv_text
        page = render_html(report)
        assert 'id="data-quality"' in page
        assert "<td>imputed_stage</td>" in page

    def test_clean_report_has_no_section(self) -> None:
        """Nothing to say: no section, and the stalled list's "none" means none."""
        log = [
            *_deal("W1", [(0, "a"), (1, "b"), (10, "w")], amount=100.0),
            *_deal("L1", [(0, "a"), (5, "l")], reason="price", amount=50.0),
            *_deal("O1", [(9, "a")], amount=10.0),
        ]
        report = build_report(log, _pipeline(rot=True), as_of=day(10))
        assert report.section("data-quality").rows == ()
        text = render_text(report)
        assert "Data quality" not in text
        assert "Stalled deals (0)\n=================\nnone" in text


class TestCli:
    """``salesstages report`` exits 1 on a log that ``check`` rejects, unless --lenient."""

    def _files(self, tmp_path: Path) -> tuple[str, str]:
        from salesstages import io

        log = [
            *_deal("W1", [(0, "a"), (1, "b"), (2, "w"), (3, "a")], amount=1.0),
            *_deal("O1", [(1, "a")], amount=5.0),
        ]
        events = tmp_path / "events.jsonl"
        io.write_jsonl(log, events)
        spec = tmp_path / "pipeline.json"
        spec.write_text(json.dumps(_pipeline().to_dict()))
        return str(events), str(spec)

    def test_exit_1_on_check_problems(self, tmp_path: Path, run: Runner) -> None:
        """The report prints, names the problem, and the exit status is 1."""
        events, spec = self._files(tmp_path)
        status, out, err = run("report", events, "-p", spec)
        assert status == 1
        assert "the log breaks the pipeline's rules: 1 problem" in out
        assert "--lenient" in err

    def test_lenient_exits_0(self, tmp_path: Path, run: Runner) -> None:
        """With --lenient the same report exits 0."""
        events, spec = self._files(tmp_path)
        status, out, _ = run("report", events, "-p", spec, "--lenient")
        assert status == 0
        assert "Data quality" in out
