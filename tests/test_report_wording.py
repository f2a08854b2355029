"""The text report read by a newcomer: every figure says what it counts, and every
gap in the data is named (issue 13's fresh-eyes pass), on small logs with
hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salesstages import MemoryStore, Pipeline, Stage
from salesstages.report import Report, build_report, render_html, render_text

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _pipeline() -> Pipeline:
    """qualify (stalls after 3 days) → propose → won / lost."""
    return Pipeline(
        "words",
        [
            Stage("qualify", label="Qualify", rot_after=timedelta(days=3), probability=0.2),
            Stage("propose", label="Propose", probability=0.6),
            Stage("won", label="Won", outcome="won"),
            Stage("lost", label="Lost", outcome="lost"),
        ],
    )


@pytest.fixture(scope="module")
def quarter_text() -> str:
    """Five deals reviewed on day 20 for 2026-Q1 (T0 is 5 January 2026).

    A: 100, lost on day 5, reopened on day 6, lost again on day 7.
    B: 50, won on day 10.
    C: 30, open, close date 10 May (outside Q1).
    D: 20, open, no close date, idle since day 3 (stalled: over 3 days in Qualify).
    E: 10, open, close date 1 March pushed to 25 March on day 8.
    """
    p = _pipeline()
    store = MemoryStore()
    a = p.open_deal("A", at=_day(0), store=store, amount=100, close_date="2026-02-01")
    a.lose(at=_day(5), reason="price")
    a.reopen(at=_day(6))
    a.lose(at=_day(7), reason="price")
    b = p.open_deal("B", at=_day(1), store=store, amount=50, close_date="2026-03-20")
    b.win(at=_day(10))
    p.open_deal("C", at=_day(2), store=store, amount=30, close_date="2026-05-10")
    p.open_deal("D", at=_day(3), store=store, amount=20)
    e = p.open_deal("E", at=_day(4), store=store, amount=10, close_date="2026-03-01")
    e.update(at=_day(8), close_date="2026-03-25")
    report = build_report(store.events(), p, as_of=_day(20), period="2026-Q1")
    return render_text(report)


def _section(text: str, title: str) -> str:
    return text[text.index(f"\n{title}") + 1 :].split("\n\n")[0]


def test_movement_counts_moves_and_says_so(quarter_text: str) -> None:
    """Lost counts moves (A lost twice: 2) while the header counts lost deals (1);
    the column is "count" and the note under the table says what each line counts."""
    assert "5 deals (3 open, 1 won, 1 lost)" in quarter_text
    movement = _section(quarter_text, "Movement")
    rows = {ln[:12].strip(): ln.split()[-2:] for ln in movement.split("\n")[4:12]}
    # 0 opening + 5 created + 1 reopened - 1 won - 2 lost = 3 closing;
    # amounts 210 + 100 (A reopened) - 50 (B) - 200 (A twice) = 60
    assert rows["- lost"] == ["2", "200"]
    assert rows["+ reopened"] == ["1", "100"]
    assert rows["closing"] == ["3", "60"]
    assert movement.split("\n")[2].split() == ["count", "amount"]
    assert "moves for reopened, won and lost" in movement
    assert "lost may exceed the lost deals at the top" in movement


def test_categories_name_the_open_deals_they_leave_out(quarter_text: str) -> None:
    """Of the 3 open deals only E closes in Q1: C (May) and D (no close date) are named."""
    period = _section(quarter_text, "Period 2026-Q1")
    assert (
        "Left out: 1 open deal closing outside the period; 1 open deal without a close date."
        in period
    )


def test_slipping_deals_explain_their_columns(quarter_text: str) -> None:
    """E's close date moved from 1 March to 25 March: 1 push, +24 days, and a line
    above the table says what pushes, days slipped and overdue mean."""
    slipping = _section(quarter_text, "Slipping deals (1)")
    lines = slipping.split("\n")
    assert lines[2].startswith("Open deals whose close date moved later (pushes:")
    assert lines[5].split() == ["E", "1", "+24", "2026-03-01", "2026-03-25", "10"]


def test_funnel_and_time_in_stage_say_what_they_count(quarter_text: str) -> None:
    """The funnel's and time in stage's columns are defined under their tables."""
    funnel = _section(quarter_text, "Funnel")
    assert "reached: deals that entered the stage (imputed:" in funnel
    assert "win rate: won / closed among them" in funnel
    assert "open now: deals in the stage" in _section(quarter_text, "Time in stage")


def test_stalled_deals_name_their_rule(quarter_text: str) -> None:
    """C, D and E have been idle over 3 days in Qualify (D since day 3: 17 days), and the
    line under the table names that limit."""
    stalled = _section(quarter_text, "Stalled deals (3)")
    assert ["D", "Qualify", "17.0", "d", "20"] in [ln.split() for ln in stalled.split("\n")]
    assert "listed when longer than its stage's rot_after (Qualify 3 d)" in stalled


def test_velocity_names_the_mean_cycle(quarter_text: str) -> None:
    """Velocity divides by the mean won cycle, not the median the row above shows."""
    assert "mean won amount ÷ mean won cycle" in quarter_text
    assert "÷ won cycle)" not in quarter_text


def test_backtest_counts_open_deals(export_report: Report) -> None:
    """The backtest's count column is headed "open deals", not a bare "open" beside amounts."""
    text = render_text(export_report)
    backtest = text[text.index("Forecast backtest") :]
    assert backtest.split("\n")[3].split()[:5] == ["as", "of", "open", "deals", "actual"]


def test_no_amount_notes_absent_when_open_deals_have_amounts(quarter_text: str) -> None:
    """Every open deal has an amount here: no note about zeros or hindsight."""
    assert "Open deals without an amount" not in quarter_text
    assert "not a fair test" not in quarter_text


def test_slipping_not_measured_without_close_dates() -> None:
    """With no close date on any open deal, an empty slipping list says it was not
    measured instead of "no open deal has had its close date pushed"."""
    p = _pipeline()
    store = MemoryStore()
    p.open_deal("A", at=_day(0), store=store, amount=10)
    p.open_deal("B", at=_day(1), store=store, amount=20)
    text = render_text(build_report(store.events(), p, as_of=_day(5), period="2026-Q1"))
    assert "not measured: no open deal has a close_date (2 open)" in text
    assert "pushed or passed" not in text
    assert "Left out: 2 open deals without a close date." in text


@pytest.fixture(scope="module")
def export_report() -> Report:
    """A CRM export's shape over 100 days: amounts only on closed deals (the final
    value, from the day the deal opened), none on the two open deals."""
    p = _pipeline()
    store = MemoryStore()
    for i in range(6):
        d = p.open_deal(f"W{i}", at=_day(3 * i), store=store, amount=1_000 * (i + 1))
        d.win(at=_day(3 * i + 40))
    for i in range(3):
        d = p.open_deal(f"L{i}", at=_day(5 * i + 1), store=store, amount=0)
        d.lose(at=_day(5 * i + 30), reason="price")
    p.open_deal("O1", at=_day(10), store=store)
    p.open_deal("O2", at=_day(20), store=store)
    return build_report(store.events(), p, as_of=_day(100))


def test_forecast_zero_says_no_amount_known(export_report: Report) -> None:
    """The forecasts of two open deals without an amount are 0: a note says a 0 there
    means no amount known, and names both deals' share (all 2)."""
    text = render_text(export_report)
    forecast = _section(text, "Forecast of the open pipeline")
    assert "weighted                   0" in forecast
    assert "Open deals without an amount (all 2) count as 0 in every figure above" in forecast
    assert "a 0 there means no amount is known" in forecast
    snapshot = _section(text, "Open pipeline now")
    assert "Open deals without an amount (all 2) count as 0 in the amounts above" in snapshot


def test_backtest_warns_of_hindsight_amounts(export_report: Report) -> None:
    """Amounts only on closed deals: the backtest says it is not a fair test."""
    assert export_report.section("backtest").rows
    text = render_text(export_report)
    backtest = text[text.index("Forecast backtest") : text.index("What moves deals forward")]
    assert "this backtest is not a fair test of the methods" in backtest
    # and beside the forecast (issue 22: amounts_look_final, at any as_of)
    forecast = _section(text, "Forecast of the open pipeline")
    assert "The amounts look like final values written when each deal closed" in forecast


def test_html_movement_column_is_a_count() -> None:
    """The HTML movement table heads its column "count" and carries the same note."""
    p = _pipeline()
    store = MemoryStore()
    a = p.open_deal("A", at=_day(0), store=store, amount=100)
    a.lose(at=_day(5), reason="price")
    page = render_html(build_report(store.events(), p, as_of=_day(20), period="2026-Q1"))
    movement = page[page.index("<h2>Movement ") :]
    assert '<th class="num">count</th>' in movement[: movement.index("Slipping deals")]
    assert "moves for reopened, won and lost" in movement[: movement.index("Slipping deals")]


def test_html_names_what_the_amounts_cannot_show(export_report: Report) -> None:
    """The HTML page shows the win rate by amount as n/a (lost deals at 0), and its
    backtest note says the zero forecasts mean no amount and the test is not fair."""
    page = render_html(export_report)
    kpis = page[page.index('<div class="kpis">') : page.index("</div></div>")]
    assert "<b>–</b><span>open pipeline amount: no open deal has one</span>" in kpis
    assert "<b>–</b><span>weighted forecast: no amounts</span>" in kpis
    assert '<td>win rate (amount)</td><td class="num">n/a</td>' in page
    assert "not meaningful: lost deals closed at 0 (see Data quality" in page
    backtest = page[page.index("<h2>Forecast backtest</h2>") :]
    backtest = backtest[: backtest.index("</section>")]
    assert "Open deals without an amount (all 2) count as 0 in the forecasts" in backtest
    assert "this backtest is not a fair test of the methods" in backtest


def test_html_says_stalled_and_slipping_were_not_measured() -> None:
    """Without rot_after and close dates, the page says "not measured" for the stalled
    deals (its headline figure too) and the slipping deals, instead of a bare 0."""
    p = Pipeline("bare", [Stage("a"), Stage("won", outcome="won"), Stage("lost", outcome="lost")])
    store = MemoryStore()
    p.open_deal("A", at=_day(0), store=store, amount=10)
    page = render_html(build_report(store.events(), p, as_of=_day(30), period="2026-Q1"))
    assert "stalled deals: not measured (no rot_after)" in page
    assert "not measured: no stage has rot_after" in page
    assert "not measured: no open deal has a close_date (1 open)" in page
    assert "Left out: 1 open deal without a close date." in page


def test_older_than_history_names_the_conditional_forecast() -> None:
    """An open deal 20 days in a stage whose closed stays lasted 4-5 days adds 0 to the
    conditional forecast (eventual wins, not only within a horizon), and the finding
    says so, about "it"."""
    from salesstages import forecast, metrics

    p = Pipeline(
        "t",
        [Stage("a", probability=0.5), Stage("won", outcome="won"), Stage("lost", outcome="lost")],
    )
    store = MemoryStore()
    for i in range(3):
        p.open_deal(f"W{i}", at=_day(0), store=store, amount=10).win(at=_day(5))
    p.open_deal("L", at=_day(0), store=store, amount=10).lose(at=_day(4), reason="price")
    p.open_deal("O", at=_day(0), store=store, amount=100)
    events = list(store.events())
    # O is the only open deal and has no outlook: 100 × nothing = 0
    assert forecast.conditional_forecast(events, p, as_of=_day(20)) == 0.0
    found = metrics.data_quality(events, p, as_of=_day(20)).get("older_than_history")
    assert found is not None
    assert found.message.endswith(
        "so the conditional forecast and every forecast within a horizon count it as 0"
    )
