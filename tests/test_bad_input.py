"""Bad input at the API's boundary (issue 12, CONTRACT §12): every refusal is typed,
names the field, and records nothing."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0, day, plain_pipeline
from salesstages import (
    DataError,
    DataTypeError,
    Deal,
    Event,
    JsonlStore,
    MemoryStore,
    Pipeline,
    PipelineError,
    SalesStagesError,
    SqliteStore,
)
from salesstages._stores import EventStore
from salesstages.guards import activity, all_of, document_sent, field, not_
from salesstages.io import read_csv, read_jsonl, write_csv, write_jsonl

UTC_MINUS_5 = timezone(timedelta(hours=-5))
UTC_PLUS_1 = timezone(timedelta(hours=1))


@pytest.fixture(params=["memory", "jsonl", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> EventStore:
    """Each of the three stores, empty."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "jsonl":
        return JsonlStore(tmp_path / "log.jsonl", fsync=False)
    return SqliteStore(tmp_path / "log.db")


def assert_refused(
    exc: BaseException, builtin: type[Exception], *words: str
) -> None:  # shared by the tables below
    """The error is a SalesStagesError and ``builtin``, and names every word."""
    assert isinstance(exc, SalesStagesError)
    assert isinstance(exc, builtin)
    for word in words:
        assert word in str(exc), (word, str(exc))


# ---------------------------------------------------------------------- amounts
BAD_AMOUNTS: list[tuple[object, type[Exception]]] = [
    ("12,000", TypeError),
    ("12k", TypeError),
    ("12000", TypeError),
    ("", TypeError),
    (True, TypeError),
    (False, TypeError),
    ([12], TypeError),
    ({"value": 12}, TypeError),
    (complex(1, 0), TypeError),
    (-1, ValueError),
    (-0.01, ValueError),
    (Decimal("-5"), ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    (-math.inf, ValueError),
    (Decimal("NaN"), ValueError),
    (Decimal("Infinity"), ValueError),
    (10**400, ValueError),  # no float holds it: every money figure would overflow
    (Decimal("1E+400"), ValueError),
    (Decimal("0.1000000000000000000001"), ValueError),  # a float would round it
]


class TestAmounts:
    """``amount`` is a finite, non-negative int, float or Decimal, or absent (§12)."""

    @pytest.mark.parametrize(("amount", "builtin"), BAD_AMOUNTS)
    def test_open_deal_refuses(self, store: EventStore, amount: object, builtin: type) -> None:
        """open_deal refuses a bad amount with a typed error naming it, and stores nothing."""
        with pytest.raises(DataError) as info:
            plain_pipeline().open_deal("D1", at=T0, store=store, amount=amount)
        assert_refused(info.value, builtin, "amount", "D1")
        assert list(store.events()) == []

    @pytest.mark.parametrize(("amount", "builtin"), BAD_AMOUNTS)
    def test_update_refuses(self, store: EventStore, amount: object, builtin: type) -> None:
        """update refuses a bad amount with a typed error naming it, and records nothing."""
        deal = plain_pipeline().open_deal("D1", at=T0, store=store, amount=10)
        before = (deal.events, list(store.events()), dict(deal.attributes))
        with pytest.raises(DataError) as info:
            deal.update(at=day(1), amount=amount, owner="ana")
        assert_refused(info.value, builtin, "amount")
        assert (deal.events, list(store.events()), dict(deal.attributes)) == before

    @pytest.mark.parametrize(
        ("amount", "kept"),
        [
            (0, 0),
            (12_000, 12_000),
            (12.5, 12.5),
            (-0.0, -0.0),
            (Decimal("48000"), 48_000),  # integral: an exact int
            (Decimal("48000.00"), 48_000),
            (Decimal("19.99"), 19.99),  # float(19.99) reads back as 19.99
            (Decimal("1E+3"), 1000),
            (None, None),  # no amount, as when it is left out
        ],
    )
    def test_good_amounts_are_kept(self, amount: object, kept: object) -> None:
        """Numbers are kept as they are; a Decimal becomes the int or float of the same value."""
        deal = plain_pipeline().open_deal("D1", at=T0, amount=amount)
        assert deal.attributes["amount"] == kept
        assert type(deal.attributes["amount"]) is type(kept)
        assert deal.events[0].data["amount"] == kept

    def test_decimal_amount_round_trips_through_json(self, tmp_path: Path) -> None:
        """A Decimal amount is stored as a JSON number and reads back equal from a store."""
        store = JsonlStore(tmp_path / "log.jsonl", fsync=False)
        deal = plain_pipeline().open_deal("D1", at=T0, store=store, amount=Decimal("19.99"))
        deal.update(at=day(1), amount=Decimal("25000"))
        assert [
            e.data["amount"]
            for e in JsonlStore(tmp_path / "log.jsonl").events()
            if "amount" in e.data
        ] == [19.99, 25_000]

    @given(amount=st.integers(0, 10**18) | st.floats(0, 1e300))
    def test_any_finite_non_negative_number_is_kept(self, amount: float) -> None:
        """Every finite amount >= 0 is accepted and kept unchanged."""
        deal = plain_pipeline().open_deal("D1", at=T0, amount=amount)
        assert deal.attributes["amount"] == amount

    @given(text=st.text(max_size=12))
    def test_no_string_is_ever_cast(self, text: str) -> None:
        """Any string as an amount is refused (a TypeError flavour of DataError)."""
        with pytest.raises(DataTypeError, match="amount"):
            plain_pipeline().open_deal("D1", at=T0, amount=text)

    def test_amount_in_activity_data_is_plain_data(self) -> None:
        """Only the deal attribute is an amount: an activity's data may carry any JSON value."""
        deal = plain_pipeline().open_deal("D1", at=T0)
        event = deal.record("quote_sent", at=day(1), amount="12k")
        assert event.data["amount"] == "12k"


# ---------------------------------------------------------------------- data values
class _Thing:
    """An arbitrary object, not a JSON value."""


def _self_holding() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


BAD_VALUES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("set", lambda: {1, 2}, TypeError, "set"),
    ("frozenset", lambda: frozenset(), TypeError, "frozenset"),
    ("bytes", lambda: b"\x00", TypeError, "bytes"),
    ("object", _Thing, TypeError, "_Thing"),
    ("datetime", lambda: T0, TypeError, "isoformat"),
    ("decimal", lambda: Decimal("1.5"), TypeError, "Decimal"),
    ("set in a list", lambda: [1, {2}], TypeError, "[1]"),
    ("int key", lambda: {1: "a"}, TypeError, "key 1"),
    ("nan", lambda: math.nan, ValueError, "finite"),
    ("nested inf", lambda: {"x": [math.inf]}, ValueError, "finite"),
    ("900 deep", lambda: _deep(900), ValueError, "deeper than 64"),
    ("holds itself", _self_holding, ValueError, "holds itself"),
]


def _calls(deal: Deal) -> dict[str, Callable[[object], object]]:
    return {
        "record": lambda v: deal.record("note", at=day(1), meta=v),
        "update": lambda v: deal.update(at=day(1), meta=v),
        "move": lambda v: deal.move("b", at=day(1), meta=v),
        "lose": lambda v: deal.lose(at=day(1), reason="price", meta=v),
    }


class TestDataValues:
    """Attribute and activity values that JSON cannot hold are a DataError naming the field."""

    @pytest.mark.parametrize("call", ["record", "update", "move", "lose"])
    @pytest.mark.parametrize(("label", "make", "builtin", "word"), BAD_VALUES)
    def test_deal_methods_refuse(
        self,
        store: EventStore,
        call: str,
        label: str,
        make: Callable[[], object],
        builtin: type[Exception],
        word: str,
    ) -> None:
        """Each deal method refuses the value, naming the field, and records nothing."""
        deal = plain_pipeline().open_deal("D1", at=T0, store=store)
        before = (deal.events, deal.state, list(store.events()))
        with pytest.raises(DataError) as info:
            _calls(deal)[call](make())
        assert_refused(info.value, builtin, "'meta'", word)
        assert (deal.events, deal.state, list(store.events())) == before

    @pytest.mark.parametrize(("label", "make", "builtin", "word"), BAD_VALUES)
    def test_open_deal_refuses(
        self,
        store: EventStore,
        label: str,
        make: Callable[[], object],
        builtin: type[Exception],
        word: str,
    ) -> None:
        """open_deal refuses the attribute, naming it, and stores nothing."""
        with pytest.raises(DataError) as info:
            plain_pipeline().open_deal("D1", at=T0, store=store, meta=make())
        assert_refused(info.value, builtin, "'meta'", word)
        assert list(store.events()) == []

    @pytest.mark.parametrize(
        ("call", "word"),
        [
            (lambda d: d.record("", at=day(1)), "activity"),
            (lambda d: d.record(5, at=day(1)), "activity"),
            (lambda d: d.lose(at=day(1), reason=5), "reason"),
            (lambda d: d.update(at=day(1)), "at least one attribute"),
        ],
    )
    def test_bad_arguments_are_data_errors(self, call: Callable[[Deal], object], word: str) -> None:
        """A bad activity name, lost reason or empty update is a DataError, not a bare builtin."""
        deal = plain_pipeline().open_deal("D1", at=T0)
        with pytest.raises(DataError, match=word):
            call(deal)
        assert len(deal.events) == 2

    @pytest.mark.parametrize("deal_id", ["", 5, None, b"D1"])
    def test_bad_deal_id(self, deal_id: object) -> None:
        """open_deal refuses a deal id that is not a non-empty string, naming the field."""
        with pytest.raises(DataError, match="deal_id"):
            plain_pipeline().open_deal(deal_id, at=T0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- time
class TestTimes:
    """Timestamps out of range once in UTC, or not datetimes, are typed errors naming ``at``."""

    EXTREMES = (
        datetime(9999, 12, 31, 23, tzinfo=UTC_MINUS_5),  # 10000-01-01 04:00 UTC
        datetime(9999, 12, 31, 19, 0, 1, tzinfo=UTC_MINUS_5),
        datetime(1, 1, 1, 0, 30, tzinfo=UTC_PLUS_1),  # year 0 in UTC
    )

    @pytest.mark.parametrize("at", EXTREMES)
    def test_open_deal(self, store: EventStore, at: datetime) -> None:
        """open_deal at a moment UTC cannot show is a DataError naming ``at``; nothing stored."""
        with pytest.raises(DataError) as info:
            plain_pipeline().open_deal("D1", at=at, store=store)
        assert_refused(info.value, ValueError, "'at'", "0001-01-01", "9999-12-31")
        assert isinstance(info.value.__cause__, OverflowError)
        assert list(store.events()) == []

    @pytest.mark.parametrize("at", EXTREMES[:2])
    @pytest.mark.parametrize("call", ["record", "update", "move", "win", "enter_substate"])
    def test_deal_methods(self, store: EventStore, at: datetime, call: str) -> None:
        """Each deal method refuses such an ``at`` with DataError; nothing is recorded."""
        deal = plain_pipeline().open_deal("D1", at=T0, store=store)
        before = (deal.events, list(store.events()))
        calls: dict[str, Callable[[], object]] = {
            "record": lambda: deal.record("note", at=at),
            "update": lambda: deal.update(at=at, owner="ana"),
            "move": lambda: deal.move("b", at=at),
            "win": lambda: deal.win(at=at),
            "enter_substate": lambda: deal.enter_substate("x", at=at),
        }
        with pytest.raises(DataError) as info:
            calls[call]()
        assert_refused(info.value, ValueError, "'at'")
        assert (deal.events, list(store.events())) == before

    @pytest.mark.parametrize("at", ["2024-01-01", 1704067200, 1.5])
    def test_not_a_datetime(self, at: object) -> None:
        """A string or number as ``at`` is a DataTypeError (also a TypeError) naming ``at``."""
        deal = plain_pipeline().open_deal("D1", at=T0)
        with pytest.raises(DataTypeError) as info:
            deal.record("note", at=at)  # type: ignore[arg-type]
        assert_refused(info.value, TypeError, "'at'", "timezone-aware datetime")
        assert len(deal.events) == 2

    def test_clock_out_of_range(self) -> None:
        """A clock whose time overflows UTC is a DataError naming the clock."""
        pipeline = plain_pipeline()
        pipeline = Pipeline.from_dict(
            pipeline.to_dict(), clock=lambda: datetime(9999, 12, 31, 23, tzinfo=UTC_MINUS_5)
        )
        with pytest.raises(DataError, match="clock"):
            pipeline.open_deal("D1")


# ---------------------------------------------------------------------- definitions
def _nested_guard(levels: int) -> dict[str, Any]:
    guard: dict[str, Any] = {"type": "field", "name": "budget"}
    for i in range(levels):
        guard = {"type": "not", "guard": guard} if i % 2 else {"type": "all_of", "guards": [guard]}
    return guard


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    d = plain_pipeline().to_dict()
    change(d)
    return d


def _set_stage(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        d["stages"][1][key] = value

    return change


class TestDefinitions:
    """Pipeline.from_dict turns every fault of a definition into PipelineError."""

    @pytest.mark.parametrize(
        ("change", "word"),
        [
            (_set_stage("entry", _nested_guard(900)), "deeper than 64"),
            (_set_stage("entry", _nested_guard(65)), "deeper than 64"),
            (_set_stage("rot_after_seconds", 1e300), "rot_after_seconds"),
            (_set_stage("rot_after_seconds", math.inf), "rot_after_seconds"),
            (_set_stage("rot_after_seconds", math.nan), "rot_after_seconds"),
            (_set_stage("rot_after_seconds", -5), "rot_after_seconds"),
            (_set_stage("rot_after_seconds", 10**20), "rot_after_seconds"),
            (_set_stage("rot_after_seconds", "3600"), "rot_after_seconds"),
            (_set_stage("substates", 5), "must be a list of names"),
            (_set_stage("entry", {"type": "at_least", "k": "2", "guards": []}), "'k'"),
            (_set_stage("entry", {"type": "all_of", "guards": 7}), "'guards'"),
            (
                _set_stage("entry", {"type": "activity", "name": "a", "match": {"x": {1}}}),
                "JSON",
            ),
            (
                _set_stage("entry", {"type": "activity", "name": "a", "match": {"x": _deep(100)}}),
                "deeper than 64",
            ),
            (lambda d: d.__setitem__("transitions", [1, 2]), "malformed"),
            (lambda d: d.__setitem__("stages", [{"name": "a"}, 5]), "stage"),
        ],
    )
    def test_from_dict_refuses(self, change: Callable[[dict[str, Any]], None], word: str) -> None:
        """The definition is refused with PipelineError (a ValueError) naming the problem."""
        with pytest.raises(PipelineError) as info:
            Pipeline.from_dict(_with(change))
        assert_refused(info.value, ValueError, word)

    def test_deepest_allowed_guard_round_trips(self) -> None:
        """Guards nested exactly 64 deep are fine, and survive to_dict/from_dict."""
        d = _with(_set_stage("entry", _nested_guard(63)))
        pipeline = Pipeline.from_dict(d)
        assert Pipeline.from_dict(pipeline.to_dict()) == pipeline

    @pytest.mark.parametrize(
        "build", [not_, lambda g: all_of(g, document_sent("x")), lambda g: all_of(g)]
    )
    def test_guards_in_code_cannot_nest_too_deep(self, build: Callable[[Any], Any]) -> None:
        """Nesting combinators more than 64 deep in code is a PipelineError, not a later
        RecursionError when the guard runs."""
        g: Any = field("budget")
        for _ in range(63):
            g = build(g)
        with pytest.raises(PipelineError, match="deeper than 64"):
            build(g)

    @pytest.mark.parametrize("match", [{"x": {1}}, {"x": b"a"}, {"x": _deep(80)}])
    def test_activity_match_must_be_json(self, match: dict[str, Any]) -> None:
        """activity(**match) refuses values no event's data could ever hold."""
        with pytest.raises(PipelineError, match="JSON"):
            activity("a", **match)


# ---------------------------------------------------------------------- writers
@pytest.mark.parametrize("writer", ["jsonl", "csv"])
@pytest.mark.parametrize("where", ["deal_id", "name", "data"])
def test_writer_refuses_text_it_cannot_encode(tmp_path: Path, writer: str, where: str) -> None:
    """A lone surrogate in an event is a DataError naming the file, not a UnicodeEncodeError."""
    bad = "x\ud800"
    event = Event(
        deal_id=bad if where == "deal_id" else "D1",
        seq=0,
        at=T0,
        kind="activity",
        stage="a",
        name=bad if where == "name" else "call",
        data={"note": bad} if where == "data" else {},
    )
    path = tmp_path / f"out.{writer}"
    with pytest.raises(DataError) as info:
        (write_jsonl if writer == "jsonl" else write_csv)([event], path)
    assert_refused(info.value, ValueError, str(path), "cannot be encoded")


# ---------------------------------------------------------------------- canonical readers
_GOOD_LINE = '{"deal_id":"A","seq":0,"at":"2024-01-01T00:00:00+00:00","kind":"opened"}\n'


@pytest.mark.parametrize(
    ("second", "word"),
    [
        ('{"deal_id":"A","seq":1,"at":"9999-12-31T23:00:00-05:00","kind":"opened"}', "range"),
        ('{"deal_id":"A","seq":1,"at":"0001-01-01T00:00:00+01:00","kind":"opened"}', "range"),
        (
            '{"deal_id":"A","seq":1,"at":"2024-01-01T00:00:00+00:00","kind":"updated",'
            '"data":{"x":' + "[" * 100_000 + "]" * 100_000 + "}}",
            "deeply",
        ),
    ],
)
def test_read_jsonl_faults_are_data_errors(second: str, word: str) -> None:
    """A date out of range or data nested past the recursion limit is a DataError naming
    the file and the line, not an OverflowError or a RecursionError."""
    source = io.StringIO(_GOOD_LINE + second + "\n")
    source.name = "events.jsonl"
    with pytest.raises(
        DataError, match=rf"^events\.jsonl, line 2(, field .at.)?: .*{word}"
    ) as info:
        read_jsonl(source)
    assert_refused(info.value, ValueError)


@pytest.mark.parametrize(
    ("row", "word"),
    [
        ("A,0,9999-12-31T23:00:00-05:00,opened,,,{}", "range"),
        (
            'A,0,2024-01-01T00:00:00+00:00,opened,,,"{""x"":' + "[" * 5000 + "]" * 5000 + '}"',
            "deeply",
        ),
    ],
)
def test_read_csv_faults_are_data_errors(row: str, word: str) -> None:
    """The canonical CSV reader names the file and the line the same way."""
    source = io.StringIO("deal_id,seq,at,kind,stage,name,data\n" + row + "\n", newline="")
    source.name = "events.csv"
    with pytest.raises(DataError, match=rf"^events\.csv, line 2(, field .at.)?: .*{word}"):
        read_csv(source)
