"""Forecast calls held to account (issue 27, CONTRACT §21): forecast.Call,
io.read_calls, forecast.accuracy and by_owner and by_week, hand-computed."""

from __future__ import annotations

import io as stdio
import warnings
from datetime import UTC, date, datetime, timedelta

import pytest

from _helpers import plain_pipeline
from salesstages import DataError, DataTypeError, Event, MemoryStore, NaiveTimeError, forecast
from salesstages import io as ssio
from salesstages.forecast import Call, CallScore, UnknownOwnerWarning
from salesstages.forecast._calls import summarise

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def at(days: float) -> datetime:
    """2026-01-01 00:00 UTC plus ``days``."""
    return JAN + timedelta(days=days)


def log() -> list[Event]:
    """Q1 2026 is [day 0, day 90). ana wins W1 (100, raised to 120 at day 30) and W2
    (80); bob wins W3 (50) in Q1 and W4 (300) in Q2; W5 is handed from bob to ana
    before it is won (ana's at winning, nothing follows a win); L1 is lost."""
    p = plain_pipeline()
    s = MemoryStore()
    w1 = p.open_deal("W1", at=at(1), store=s, amount=100, owner="ana")
    w1.update(at=at(30), amount=120)
    w1.win(at=at(40))  # Q1, ana, 120
    p.open_deal("W2", at=at(2), store=s, amount=80, owner="ana").win(at=at(89))  # Q1, ana, 80
    p.open_deal("W3", at=at(3), store=s, amount=50, owner="bob").win(at=at(10))  # Q1, bob, 50
    p.open_deal("W4", at=at(4), store=s, amount=300, owner="bob").win(at=at(90))  # Q2
    w5 = p.open_deal("W5", at=at(5), store=s, amount=40, owner="bob")
    w5.update(at=at(20), owner="ana")
    w5.win(at=at(60))  # Q1, ana's at winning, 40
    p.open_deal("L1", at=at(6), store=s, amount=999, owner="ana").lose(at=at(50), reason="x")
    return list(s.events())


def test_call_validates_and_reads_its_period() -> None:
    c = Call("ana", "2026-Q1", "commit", 200, at(8))
    assert (c.start, c.end) == (JAN, datetime(2026, 4, 1, tzinfo=UTC))
    assert c.week == 2  # day 8 is in the second week: 8 // 7 + 1
    assert Call("ana", "2026-03", "pipeline", 1, at(0)).start == datetime(2026, 3, 1, tzinfo=UTC)
    assert Call("ana", "2026", "best_case", 1, at(0)).end == datetime(2027, 1, 1, tzinfo=UTC)
    pair = Call("ana", (date(2026, 1, 1), date(2026, 2, 1)), "commit", 1, at(0))
    assert pair.label == "2026-01-01..2026-02-01"
    assert "ana 2026-Q1 commit 200" in str(c)
    assert repr(c).startswith("Call(owner='ana', period='2026-Q1'")
    with pytest.raises(DataError, match="category"):
        Call("ana", "2026-Q1", "maybe", 1, at(0))
    with pytest.raises(DataError, match="amount"):
        Call("ana", "2026-Q1", "commit", -1, at(0))
    with pytest.raises(DataTypeError, match="amount"):
        Call("ana", "2026-Q1", "commit", "10", at(0))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="period"):
        Call("ana", "2026-Q5", "commit", 1, at(0))
    with pytest.raises(DataError, match="period"):
        Call("ana", (date(2026, 2, 1), date(2026, 1, 1)), "commit", 1, at(0))
    with pytest.raises(DataError, match="owner"):
        Call("", "2026-Q1", "commit", 1, at(0))
    with pytest.raises(NaiveTimeError):
        Call("ana", "2026-Q1", "commit", 1, datetime(2026, 1, 1))


def test_accuracy_by_hand() -> None:
    calls = [
        Call("ana", "2026-Q1", "commit", 200, at(8)),  # week 2
        Call("ana", "2026-Q1", "best_case", 300, at(70)),  # week 11 (70 // 7 + 1)
        Call("bob", "2026-Q1", "commit", 100, at(1)),  # week 1
        Call("bob", "2026-04", "commit", 300, at(85)),  # before April: week 0 or less
    ]
    scores = forecast.accuracy(log(), plain_pipeline(), calls=calls)
    # ana won in Q1: W1 120 (its amount at winning) + W2 80 + W5 40 (hers at winning) = 240
    # bob won in Q1: W3 50; in April: W4 300
    assert [s.actual for s in scores] == [240, 240, 50, 300]
    assert [s.error for s in scores] == [200 - 240, 300 - 240, 100 - 50, 0]
    assert scores[0].accuracy == pytest.approx(200 / 240)
    assert scores[2].accuracy == 2.0  # 100 / 50
    assert [s.week for s in scores] == [2, 11, 1, 0]  # -5 days // 7 + 1 = -1 + 1 = 0
    assert isinstance(scores[0], CallScore)
    row = scores[0].to_records()[0]
    assert row["owner"] == "ana"
    assert row["period"] == "2026-Q1"
    assert row["actual"] == 240
    assert "accuracy 83.3%" in str(scores[0])


def test_accuracy_as_of_cuts_the_period() -> None:
    """As of day 45 ana had won only W1 (120): W2 and W5 came later (§17)."""
    calls = [Call("ana", "2026-Q1", "commit", 200, at(8))]
    (score,) = forecast.accuracy(log(), plain_pipeline(), calls=calls, as_of=at(45))
    assert score.actual == 120
    (none,) = forecast.accuracy(log(), plain_pipeline(), calls=calls, as_of=at(5))
    assert none.actual == 0
    assert none.accuracy is None
    assert none.error == 200


def test_accuracy_warns_of_an_unknown_owner() -> None:
    calls = [Call("anna", "2026-Q1", "commit", 10, at(1))]
    with pytest.warns(UnknownOwnerWarning, match="'anna'.*did you mean 'ana'"):
        (score,) = forecast.accuracy(log(), plain_pipeline(), calls=calls)
    assert score.actual == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecast.accuracy(log(), plain_pipeline(), calls=[Call("ana", "2026", "commit", 1, at(0))])


def test_accuracy_refuses_what_is_not_a_call() -> None:
    with pytest.raises(DataTypeError, match="calls"):
        forecast.accuracy(log(), plain_pipeline(), calls=[("ana", "2026-Q1")])  # type: ignore[list-item]
    with pytest.raises(DataTypeError, match="calls"):
        forecast.accuracy(log(), plain_pipeline(), calls="ana")  # type: ignore[arg-type]


def test_scores_sum_up_per_owner_and_week() -> None:
    calls = [
        Call("ana", "2026-Q1", "commit", 200, at(8)),  # error -40, week 2
        Call("ana", "2026-Q1", "commit", 300, at(9)),  # error +60, week 2
        Call("bob", "2026-Q1", "commit", 100, at(1)),  # error +50, week 1
    ]
    scores = forecast.accuracy(log(), plain_pipeline(), calls=calls)
    ana, bob = scores.by_owner()
    assert (ana.key, ana.calls) == ("ana", 2)
    assert ana.median_abs_error == 50  # median(40, 60)
    assert ana.bias == 10  # (-40 + 60) / 2
    assert ana.median_accuracy == pytest.approx((200 / 240 + 300 / 240) / 2)
    assert (bob.key, bob.bias, bob.median_accuracy) == ("bob", 50, 2.0)
    w1, w2 = scores.by_week()
    assert (w1.key, w1.calls, w2.key, w2.calls) == (1, 1, 2, 2)
    assert "median |error| 50" in str(ana)
    assert ana.to_records()[0]["key"] == "ana"
    with pytest.raises(ValueError, match="by"):
        summarise(scores, by="stage")  # type: ignore[arg-type]
    assert len(scores.to_records()) == 3
    assert "median accuracy" in str(scores)
    assert str(forecast.CallScores()) == "no forecast calls"


CSV = """owner,period,category,amount,at,note
ana,2026-Q1,commit,"1,200.50",2026-01-08,first
bob,2026-03,best_case,0,2026-02-27T10:00:00Z,
"""


def test_read_calls() -> None:
    a, b = ssio.read_calls(stdio.StringIO(CSV))
    assert a == Call("ana", "2026-Q1", "commit", 1200.5, at(7))
    assert (b.owner, b.category, b.amount) == ("bob", "best_case", 0)
    assert b.at == datetime(2026, 2, 27, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("ana,2026-Q1,maybe,1,2026-01-08", "category", "category must be one of"),
        ("ana,2026-Q1,commit,-5,2026-01-08", "amount", "must be a finite number >= 0"),
        ("ana,2026-Q1,commit,lots,2026-01-08", "amount", "not a number"),
        ("ana,Q1 2026,commit,1,2026-01-08", "period", "not a period"),
        ("ana,2026-Q1,commit,1,yesterday", "at", "not an ISO date"),
        (",2026-Q1,commit,1,2026-01-08", "owner", "owner"),
        ("ana,2026-Q1,commit,1", None, "cells"),
    ],
)
def test_read_calls_names_row_and_field(row: str, field: str | None, words: str) -> None:
    text = "owner,period,category,amount,at\nana,2026-Q1,commit,1,2026-01-08\n" + row + "\n"
    f = stdio.StringIO(text)
    f.name = "calls.csv"
    with pytest.raises(DataError, match=words) as err:
        ssio.read_calls(f)
    assert err.value.path == "calls.csv"
    assert err.value.line == 3
    assert err.value.field == field


def test_read_calls_needs_its_columns() -> None:
    with pytest.raises(DataError, match="no column 'at'") as err:
        ssio.read_calls(stdio.StringIO("owner,period,category,amount\n"))
    assert err.value.field == "at"
