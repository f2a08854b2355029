"""``--as-of now|today|DATE``: one parser for every command that takes it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from _cli_data import cli_error
from _helpers import day
from salesstages import Event, Pipeline, Stage
from salesstages import io as sio
from salesstages.cli._spec import parse_as_of
from salesstages.report._model import records

Runner = Any
NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


class TestParse:
    """The shared parser."""

    def test_now_is_this_moment(self) -> None:
        """``now`` is the clock's moment, in UTC."""
        assert parse_as_of("now", now=lambda: NOW) == NOW
        east = timezone(timedelta(hours=2))
        assert parse_as_of(" NOW ", now=lambda: NOW.astimezone(east)) == NOW

    def test_today_is_the_end_of_today(self) -> None:
        """``today`` is the end of the clock's day in UTC, as a date is."""
        got = parse_as_of("today", now=lambda: NOW)
        assert got == datetime.combine(NOW.date(), time.max, tzinfo=UTC)
        assert got == parse_as_of("2026-03-04")

    def test_default_clock_is_the_current_time(self) -> None:
        """Without a clock, ``now`` lies between two readings of the current time."""
        before = datetime.now(UTC)
        got = parse_as_of("now")
        assert before <= got <= datetime.now(UTC)

    def test_dates_and_times_still_parse(self) -> None:
        """ISO dates and date-times are read as before."""
        assert parse_as_of("2026-03-31T17:00+02:00") == datetime(2026, 3, 31, 15, tzinfo=UTC)

    def test_bad_value_names_every_form(self) -> None:
        """A bad value says which forms are accepted."""
        from salesstages.cli._spec import CliError

        with pytest.raises(CliError, match=re.escape("2026-03-31T17:00+02:00, now or today")):
            parse_as_of("yesterday")


def _files(tmp_path: Path) -> tuple[str, str]:
    p = Pipeline("ab", [Stage("a"), Stage("w", outcome="won"), Stage("l", outcome="lost")])
    log = [
        Event.create(deal_id="D", seq=0, at=day(0), kind="opened", data={"amount": 5}),
        Event.create(deal_id="D", seq=1, at=day(0), kind="stage_entered", stage="a"),
    ]
    events = tmp_path / "events.jsonl"
    sio.write_jsonl(log, events)
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps(p.to_dict()))
    return str(events), str(spec)


def test_report_as_of_now(tmp_path: Path, run: Runner) -> None:
    """``report --as-of now`` reports as of the current time: the open deal's age runs to now."""
    events, spec = _files(tmp_path)
    before = datetime.now(UTC)
    status, out, _ = run("report", events, "-p", spec, "-f", "json", "--as-of", "now")
    assert status == 0
    report = json.loads(out)
    as_of = datetime.fromisoformat(report["as_of"])
    assert before <= as_of <= datetime.now(UTC)
    # the deal entered a on day 0 (2026-01-05 09:00 UTC); its age is measured to now
    (row,) = [r for r in records(report, "time-in-stage") if r["stage"] == "a"]
    assert row["open_median_age_days"] == pytest.approx((as_of - day(0)) / timedelta(days=1))


@pytest.mark.parametrize("command", ["report", "plot"])
def test_every_command_reads_as_of_alike(tmp_path: Path, run: Runner, command: str) -> None:
    """Every command taking ``--as-of`` refuses a bad value with the same message."""
    events, spec = _files(tmp_path)
    extra = ["--out", str(tmp_path)] if command == "plot" else []
    err = cli_error(run(command, events, "-p", spec, "--as-of", "soon", *extra))
    assert "2026-03-31T17:00+02:00, now or today" in err


class TestOneGrammar:
    """Issue 22: a bare date in any spelling means the same day everywhere."""

    @pytest.mark.parametrize("text", ["2026-03-31", "20260331", "2026-03-31Z", " 2026-03-31z "])
    def test_a_bare_date_is_the_end_of_that_day(self, text: str) -> None:
        """Every spelling of a date as ``--as-of`` is the end of that day, UTC."""
        assert parse_as_of(text) == datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)

    def test_a_date_time_is_that_moment(self) -> None:
        """``Z`` on a date-time is UTC, as before."""
        assert parse_as_of("2026-03-31T00:00Z") == datetime(2026, 3, 31, tzinfo=UTC)

    @pytest.mark.parametrize("text", ["20260331", "2026-03-31Z", "2026-03-31"])
    def test_from_and_to_read_every_spelling(self, text: str) -> None:
        """``--from`` is the start of its day, ``--to`` the start of the next day."""
        import argparse

        from salesstages.cli._period import period_options

        ns = argparse.Namespace(
            period=None, period_from=text, period_to=text, target=None, targets=None
        )
        period = period_options(ns)["period"]
        assert (period.start, period.end) == (
            datetime(2026, 3, 31, tzinfo=UTC),
            datetime(2026, 4, 1, tzinfo=UTC),
        )

    def test_a_bad_day_names_the_option(self) -> None:
        """``--from soon`` names the option and the accepted spellings."""
        import argparse

        from salesstages.cli._period import period_options
        from salesstages.cli._spec import CliError

        ns = argparse.Namespace(
            period=None, period_from="soon", period_to="2026-01-01", target=None, targets=None
        )
        with pytest.raises(CliError, match=r"--from 'soon' is not a date.*20260331"):
            period_options(ns)

    def test_far_future_is_refused_unless_forced(self) -> None:
        """More than a day after now is refused; ``force`` accepts it."""
        from salesstages.cli._spec import CliError, as_of_arg

        with pytest.raises(CliError, match="more than a day after now"):
            as_of_arg("2026-03-10", now=lambda: NOW)
        assert as_of_arg("2026-03-05T10:00", now=lambda: NOW) is not None  # within a day
        assert as_of_arg("today", now=lambda: NOW) is not None
        assert as_of_arg("2026-03-10", force=True, now=lambda: NOW) is not None


def test_report_as_of_after_now_is_refused(tmp_path: Path, run: Runner) -> None:
    """``--as-of`` years ahead exits 2 with one line, unless ``--force``."""
    events, spec = _files(tmp_path)
    status, out, err = run("report", events, "-p", spec, "-f", "json", "--as-of", "2999-01-01")
    assert (status, out) == (2, "")
    assert "more than a day after now" in err
    status, _, _ = run(
        "report", events, "-p", spec, "-f", "json", "--as-of", "2999-01-01", "--force"
    )
    assert status == 0


def test_report_as_of_before_the_log_on_duckdb(tmp_path: Path, run: Runner) -> None:
    """The first-event check runs on a table too (the DuckDB engine)."""
    pytest.importorskip("duckdb")
    pytest.importorskip("ibis")
    events, spec = _files(tmp_path)
    parquet = tmp_path / "events.parquet"
    sio.write_parquet(sio.read_jsonl(events), parquet)
    status, _, err = run(
        "report", str(parquet), "-p", spec, "--engine", "duckdb", "--as-of", "2025-01-01"
    )
    assert status == 2
    assert "before the first event" in err
