"""Black-box checks of docs CONTRACT.md, sections 1–9, through public names only."""

from __future__ import annotations

import inspect
import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import RuleBasedStateMachine

import salesstages
import salesstages.forecast as forecast
import salesstages.guards as guards_mod
import salesstages.metrics as metrics
import salesstages.testing as sstesting
from salesstages import (
    ConcurrencyError,
    DataError,
    Event,
    InvalidLogError,
    JsonlStore,
    MemoryStore,
    NaiveTimeError,
    OutOfOrderError,
    Pipeline,
    PipelineError,
    SalesStagesError,
    SqliteStore,
    Stage,
    TransitionRefused,
    UnknownStageError,
    Verdict,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """The moment ``n`` days after T0."""
    return T0 + timedelta(days=n)


def abc(**kw: object) -> Pipeline:
    """a → b → c, won, lost; probabilities and a rot_after on b."""
    return Pipeline(
        "abc",
        [
            Stage("a", probability=0.1),
            Stage("b", probability=0.4, rot_after=timedelta(days=5)),
            Stage("c", probability=0.7, substates=("review", "signing")),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        **kw,  # type: ignore[arg-type]
    )


def make_store(kind: str, tmp_path):
    """A fresh store of the given kind."""
    if kind == "memory":
        return MemoryStore()
    if kind == "jsonl":
        return JsonlStore(tmp_path / "events.jsonl")
    return SqliteStore(tmp_path / "events.sqlite")


STORES = ["memory", "jsonl", "sqlite"]


@pytest.fixture
def p() -> Pipeline:
    """The abc pipeline with default flags."""
    return abc()


@pytest.fixture
def log(p: Pipeline) -> list[Event]:
    """The hand-computed log used by the metric tests (see comments)."""
    # D1 (eu, 100): a@0, b@2, amount→150 @5, c@5, won@6
    # D2 (us, 200): a@0, c@1 (skips b), lost@4 reason "price", amount→999 @7
    # D3 (eu, 50):  a@1, b@3, region→"apac" @4, activity "call" @10 (still open in b)
    d1 = p.open_deal("D1", at=day(0), amount=100, region="eu")
    d1.move("b", at=day(2))
    d1.update(at=day(5), amount=150)
    d1.move("c", at=day(5))
    d1.win(at=day(6))
    d2 = p.open_deal("D2", at=day(0), amount=200, region="us")
    d2.move("c", at=day(1))
    d2.lose(at=day(4), reason="price")
    d2.update(at=day(7), amount=999)
    d3 = p.open_deal("D3", at=day(1), amount=50, region="eu")
    d3.move("b", at=day(3))
    d3.update(at=day(4), region="apac")
    d3.record("call", at=day(10))
    events = [*d1.events, *d2.events, *d3.events]
    random.Random(7).shuffle(events)
    return events


# ----------------------------------------------------------------- 1. time


def test_naive_timestamp_refused_by_open_deal(p: Pipeline) -> None:
    """A naive timestamp is refused with NaiveTimeError."""
    with pytest.raises(NaiveTimeError):
        p.open_deal("X", at=datetime(2024, 1, 1))


def test_naive_timestamp_refused_by_deal_methods(p: Pipeline) -> None:
    """Deal methods refuse naive timestamps and record nothing."""
    d = p.open_deal("X", at=day(0))
    naive = datetime(2024, 1, 2)
    for call in (
        lambda: d.record("call", at=naive),
        lambda: d.move("b", at=naive),
        lambda: d.update(at=naive, amount=1),
        lambda: d.win(at=naive),
        lambda: d.lose(at=naive, reason="x"),
        lambda: d.enter_substate("review", at=naive),
    ):
        with pytest.raises(NaiveTimeError):
            call()
    assert len(d.events) == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda ev, p: metrics.visits(ev, p, as_of=datetime(2024, 1, 5)),
        lambda ev, p: metrics.stage_durations(ev, p, as_of=datetime(2024, 1, 5)),
        lambda ev, p: metrics.snapshot(ev, p, as_of=datetime(2024, 1, 5)),
        lambda ev, p: metrics.stalled(ev, p, as_of=datetime(2024, 1, 5)),
        lambda ev, p: forecast.weighted(ev, p, as_of=datetime(2024, 1, 5)),
        lambda ev, p: forecast.time_to_close(ev, p, as_of=datetime(2024, 1, 5)),
    ],
)
def test_naive_as_of_refused(call, log: list[Event], p: Pipeline) -> None:
    """A naive ``as_of`` passed to a metric or forecast is refused with NaiveTimeError."""
    with pytest.raises(NaiveTimeError):
        call(log, p)


def test_timestamps_normalised_to_utc(p: Pipeline) -> None:
    """Timestamps with another offset are stored as the same instant in UTC."""
    plus2 = timezone(timedelta(hours=2))
    d = p.open_deal("X", at=datetime(2024, 1, 1, 12, tzinfo=plus2))
    e = d.record("call", at=datetime(2024, 1, 1, 13, tzinfo=plus2))
    assert e.at == datetime(2024, 1, 1, 11, tzinfo=UTC)
    assert e.at.utcoffset() == timedelta(0)
    assert all(ev.at.utcoffset() == timedelta(0) for ev in d.events)


def test_out_of_order_raises_and_records_nothing(p: Pipeline) -> None:
    """An ``at`` earlier than the deal's last event raises OutOfOrderError and records nothing."""
    d = p.open_deal("X", at=day(1))
    for call in (
        lambda: d.record("call", at=day(0)),
        lambda: d.move("b", at=day(0)),
        lambda: d.update(at=day(0), amount=1),
        lambda: d.win(at=day(0)),
        lambda: d.lose(at=day(0), reason="x"),
    ):
        with pytest.raises(OutOfOrderError):
            call()
    assert len(d.events) == 2
    assert d.stage == "a"


def test_equal_timestamps_are_fine(p: Pipeline) -> None:
    """Several hops at one moment are allowed."""
    d = p.open_deal("X", at=day(1))
    d.move("b", at=day(1))
    d.move("c", at=day(1))
    d.win(at=day(1))
    assert d.outcome == "won"


# ----------------------------------------------------------------- 2. errors


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (SalesStagesError, (Exception,)),
        (salesstages.PipelineError, (SalesStagesError, ValueError)),
        (salesstages.NaiveTimeError, (SalesStagesError, ValueError)),
        (salesstages.OutOfOrderError, (SalesStagesError,)),
        (salesstages.TransitionRefused, (SalesStagesError,)),
        (salesstages.UnknownStageError, (SalesStagesError, KeyError)),
        (salesstages.ConcurrencyError, (SalesStagesError,)),
        (salesstages.InvalidLogError, (SalesStagesError,)),
        (salesstages.DataError, (SalesStagesError, ValueError)),
    ],
)
def test_error_hierarchy(cls: type, bases: tuple[type, ...]) -> None:
    """Each error subclasses the root and the builtin the contract names."""
    for base in bases:
        assert issubclass(cls, base)


def test_transition_refused_carries_verdict(p: Pipeline) -> None:
    """TransitionRefused carries ``.verdict``, a false Verdict with reasons."""
    d = p.open_deal("X", at=day(0))
    d.win(at=day(1))
    with pytest.raises(TransitionRefused) as info:
        d.move("a", at=day(2))
    assert isinstance(info.value.verdict, Verdict)
    assert not info.value.verdict
    assert info.value.verdict.reasons


def test_invalid_log_error_carries_deal_and_seq(p: Pipeline) -> None:
    """InvalidLogError carries ``.deal_id`` and ``.seq`` of the bad event."""
    d = p.open_deal("X", at=day(0))
    d.record("call", at=day(1))
    events = list(d.events)
    events[2] = Event.from_dict({**events[2].to_dict(), "seq": 5})
    with pytest.raises(InvalidLogError) as info:
        p.replay(events)
    assert info.value.deal_id == "X"
    assert info.value.seq == 5


def test_data_error_names_file_line_field(tmp_path, p: Pipeline) -> None:
    """A bad data file raises DataError naming the file, the line and the field."""
    path = tmp_path / "bad.jsonl"
    store = JsonlStore(path)
    d = p.open_deal("X", at=day(0), store=store)
    d.record("call", at=day(1))
    lines = path.read_text().splitlines()
    good_at = day(1).isoformat()
    assert good_at in lines[-1]
    lines[-1] = lines[-1].replace(good_at, "not-a-time")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        list(JsonlStore(path).events())
    text = str(info.value)
    assert "bad.jsonl" in text
    assert f"line {len(lines)}" in text
    assert "at" in text


# ----------------------------------------------------------------- 3. pipelines


def test_stage_and_pipeline_signatures() -> None:
    """Stage and Pipeline take the contract's keyword-only arguments and defaults."""
    sig = inspect.signature(Stage)
    expected = {
        "label": None,
        "entry": None,
        "substates": (),
        "probability": None,
        "rot_after": None,
        "outcome": "open",
    }
    for name, default in expected.items():
        assert sig.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters[name].default == default
    psig = inspect.signature(Pipeline)
    pexp = {
        "allow_skip": True,
        "allow_regress": False,
        "allow_reopen": True,
        "auto_advance": False,
        "transitions": None,
    }
    for name, default in pexp.items():
        assert psig.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert psig.parameters[name].default == default


def test_pipeline_queries(p: Pipeline) -> None:
    """stages, open_stages, stage(), next_stage() behave as documented."""
    assert [s.name for s in p.stages] == ["a", "b", "c", "won", "lost"]
    assert [s.name for s in p.open_stages] == ["a", "b", "c"]
    assert p.stage("b").probability == 0.4
    assert p.next_stage("a") == "b"
    assert p.next_stage("c") is None
    with pytest.raises(UnknownStageError):
        p.stage("nope")


@pytest.mark.parametrize(
    ("flags", "moves"),
    [
        (
            {},
            {
                ("a", "b"): True,
                ("a", "c"): True,
                ("b", "a"): False,
                ("a", "won"): True,
                ("a", "lost"): True,
                ("lost", "a"): True,
                ("lost", "c"): True,
                ("won", "a"): False,
                ("won", "lost"): False,
                ("lost", "won"): False,
            },
        ),
        (
            {"allow_skip": False},
            {
                ("a", "b"): True,
                ("a", "c"): False,
                ("a", "won"): False,
                ("b", "won"): False,
                ("c", "won"): True,
                ("b", "lost"): True,
            },
        ),
        ({"allow_regress": True}, {("c", "a"): True, ("b", "a"): True}),
        ({"allow_reopen": False}, {("lost", "a"): False, ("lost", "b"): False}),
    ],
)
def test_allowed_moves(flags: dict[str, bool], moves: dict[tuple[str, str], bool]) -> None:
    """Allowed moves follow the skip / regress / reopen rules; nothing leaves won."""
    pl = abc(**flags)
    for (a, b), ok in moves.items():
        assert pl.allowed(a, b) is ok, (a, b)


def test_allowed_moves_with_transitions() -> None:
    """With ``transitions``, exactly those moves plus open → lost are allowed."""
    pl = abc(transitions=[("a", "b"), ("b", "c"), ("c", "won"), ("lost", "b")])
    assert pl.allowed("a", "b")
    assert not pl.allowed("a", "c")
    assert not pl.allowed("a", "won")
    assert pl.allowed("a", "lost")
    assert pl.allowed("b", "lost")
    assert pl.allowed("lost", "b")
    assert not pl.allowed("lost", "a")


@pytest.mark.parametrize(
    "build",
    [
        lambda: Pipeline(
            "x", [Stage("a"), Stage("a"), Stage("w", outcome="won"), Stage("l", outcome="lost")]
        ),
        lambda: Pipeline("x", [Stage(""), Stage("w", outcome="won"), Stage("l", outcome="lost")]),
        lambda: Pipeline("x", [Stage("a"), Stage("l", outcome="lost")]),
        lambda: Pipeline("x", [Stage("a"), Stage("w", outcome="won")]),
        lambda: Pipeline(
            "x",
            [Stage("a"), Stage("w", outcome="won"), Stage("l", outcome="lost")],
            transitions=[("a", "zz")],
        ),
        lambda: Stage("w", outcome="won", substates=("s",)),
        lambda: Stage("a", probability=1.5),
        lambda: Stage("a", probability=-0.1),
        lambda: Pipeline(
            "x",
            [Stage("a"), Stage("b"), Stage("w", outcome="won"), Stage("l", outcome="lost")],
            transitions=[("a", "w")],
        ),
        lambda: Pipeline(
            "x",
            [Stage("a"), Stage("b"), Stage("w", outcome="won"), Stage("l", outcome="lost")],
            transitions=[("a", "b"), ("a", "w")],
        ),
    ],
    ids=[
        "duplicate",
        "empty-name",
        "no-won",
        "no-lost",
        "unknown-in-transitions",
        "substates-on-closed",
        "probability-high",
        "probability-low",
        "unreachable-open",
        "cannot-win",
    ],
)
def test_bad_definitions_raise_pipeline_error(build, request) -> None:
    """Every bad definition the contract lists raises PipelineError naming the problem."""
    names = {
        "duplicate": "duplicate",
        "empty-name": "non-empty",
        "no-won": "no won",
        "no-lost": "no lost",
        "unknown-in-transitions": "zz",
        "substates-on-closed": "sub-state",
        "probability-high": "1.5",
        "probability-low": "-0.1",
        "unreachable-open": "reached",
        "cannot-win": "won",
    }
    key = request.node.callspec.id
    with pytest.raises(PipelineError, match=re.escape(names[key])):
        build()


def test_to_mermaid(p: Pipeline) -> None:
    """to_mermaid returns a Mermaid stateDiagram-v2."""
    text = p.to_mermaid()
    assert isinstance(text, str)
    assert text.lstrip().startswith("stateDiagram-v2")


def test_to_dict_round_trips_every_builtin_guard() -> None:
    """to_dict is JSON-friendly and from_dict round-trips every built-in guard."""
    g = guards_mod
    entry = g.all_of(
        g.meeting_accepted("demo", by=("prospect",)),
        g.document_sent("nda"),
        g.activity("call", outcome="ok"),
        g.field("budget"),
        g.any_of(g.field("a"), g.field("b")),
        g.at_least(1, g.field("c"), g.field("d")),
        g.not_(g.field("e")),
    )
    pl = Pipeline(
        "x",
        [
            Stage("a", rot_after=timedelta(days=3)),
            Stage("b", entry=entry, substates=("s1", "s2"), probability=0.5, label="B"),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
        allow_regress=True,
    )
    d = json.loads(json.dumps(pl.to_dict()))
    back = Pipeline.from_dict(d)
    assert back.to_dict() == pl.to_dict()
    assert back.stage("a").rot_after == timedelta(days=3)
    assert back.allow_regress is True


def test_to_dict_refuses_custom_guard() -> None:
    """A pipeline with a custom callable guard refuses to_dict with PipelineError."""

    @guards_mod.guard("custom rule")
    def custom(deal) -> bool:
        return True

    for entry in (custom, lambda deal: True):
        pl = Pipeline(
            "x",
            [
                Stage("a"),
                Stage("b", entry=entry),
                Stage("w", outcome="won"),
                Stage("l", outcome="lost"),
            ],
        )
        with pytest.raises(PipelineError):
            pl.to_dict()


# ----------------------------------------------------------------- 4. guards


def guarded(entry) -> Pipeline:
    """a → b where b has the given entry guard."""
    return Pipeline(
        "g",
        [
            Stage("a"),
            Stage("b", entry=entry),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
    )


def test_verdict_truthiness() -> None:
    """A Verdict is truthy exactly when ok."""
    assert Verdict(True, ())
    assert not Verdict(False, ("x",))
    assert Verdict(False, ("x",)).reasons == ("x",)


def test_guards_reexported() -> None:
    """The built-in guards are importable from salesstages.guards and the top level."""
    for name in (
        "meeting_accepted",
        "document_sent",
        "activity",
        "field",
        "all_of",
        "any_of",
        "at_least",
        "not_",
        "guard",
    ):
        assert getattr(salesstages, name) is getattr(guards_mod, name)


def test_meeting_accepted_needs_booking_then_every_party() -> None:
    """meeting_accepted needs a booking and, after it, acceptance by every party."""
    d = guarded(guards_mod.meeting_accepted("demo")).open_deal("X", at=day(0))
    d.record("meeting_accepted", at=day(0), meeting="demo", party="prospect")
    d.record("meeting_booked", at=day(1), meeting="demo")
    d.record("meeting_accepted", at=day(1), meeting="demo", party="prospect")
    v = d.can_move("b")
    assert not v
    assert any("rep" in r for r in v.reasons)
    d.record("meeting_accepted", at=day(2), meeting="other", party="rep")
    assert not d.can_move("b")
    d.record("meeting_accepted", at=day(2), meeting="demo", party="rep")
    assert d.can_move("b")


@pytest.mark.parametrize("undo", ["meeting_declined", "meeting_cancelled"])
def test_meeting_accepted_undone_by_decline_or_cancel(undo: str) -> None:
    """A later decline/cancel undoes the acceptance until booked and accepted again."""
    d = guarded(guards_mod.meeting_accepted("demo", by=("prospect",))).open_deal("X", at=day(0))
    d.record("meeting_booked", at=day(1), meeting="demo")
    d.record("meeting_accepted", at=day(1), meeting="demo", party="prospect")
    assert d.can_move("b")
    d.record(undo, at=day(2), meeting="demo", party="prospect")
    assert not d.can_move("b")
    d.record("meeting_accepted", at=day(3), meeting="demo", party="prospect")
    assert not d.can_move("b")
    d.record("meeting_booked", at=day(4), meeting="demo")
    assert not d.can_move("b")
    d.record("meeting_accepted", at=day(5), meeting="demo", party="prospect")
    assert d.can_move("b")


def test_document_sent_and_activity_match() -> None:
    """document_sent and activity(name, **match) look for matching activity data."""
    d = guarded(
        guards_mod.all_of(
            guards_mod.document_sent("nda"), guards_mod.activity("call", outcome="ok")
        )
    ).open_deal("X", at=day(0))
    d.record("document_sent", at=day(0), document="other")
    d.record("call", at=day(0), outcome="bad", extra=1)
    v = d.can_move("b")
    assert not v
    assert len(v.reasons) == 2
    d.record("document_sent", at=day(0), document="nda")
    d.record("call", at=day(0), outcome="ok", extra=1)
    assert d.can_move("b")


def test_field_guard() -> None:
    """field() needs the attribute present, not empty, and the predicate to hold."""
    pl = guarded(guards_mod.field("amount", lambda v: v > 10))
    assert not pl.open_deal("A", at=day(0)).can_move("b")
    assert not pl.open_deal("B", at=day(0), amount=5).can_move("b")
    assert pl.open_deal("C", at=day(0), amount=50).can_move("b")
    pl2 = guarded(guards_mod.field("owner"))
    assert not pl2.open_deal("D", at=day(0), owner="").can_move("b")
    assert pl2.open_deal("E", at=day(0), owner="ann").can_move("b")


def test_combinators() -> None:
    """all_of, any_of, at_least and not_ combine guards as named."""
    f = guards_mod.field
    bant = (f("budget"), f("authority"), f("need"), f("timeline"))
    cases = [
        (guards_mod.at_least(3, *bant), True),
        (guards_mod.at_least(4, *bant), False),
        (guards_mod.any_of(f("authority"), f("need")), True),
        (guards_mod.any_of(f("authority"), f("nope")), False),
        (guards_mod.all_of(f("budget"), f("need")), True),
        (guards_mod.all_of(f("budget"), f("authority")), False),
        (guards_mod.not_(f("authority")), True),
        (guards_mod.not_(f("budget")), False),
    ]
    for entry, ok in cases:
        deal = guarded(entry).open_deal("X", at=day(0), budget=1, need=1, timeline=1)
        verdict = deal.can_move("b")
        assert bool(verdict) is ok, entry
        assert bool(verdict.reasons) is not ok


def test_guard_decorator_reason() -> None:
    """@guard(description) makes a guard whose failure reason is the description."""

    @guards_mod.guard("the deal must be big")
    def big(deal) -> bool:
        return deal.attributes.get("amount", 0) >= 100

    d = guarded(big).open_deal("X", at=day(0), amount=1)
    v = d.can_move("b")
    assert not v
    assert "the deal must be big" in v.reasons
    assert guarded(big).open_deal("Y", at=day(0), amount=100).can_move("b")


# ----------------------------------------------------------------- 5. deals


def test_open_deal_signature() -> None:
    """open_deal(deal_id, *, at, store=None, stage=None, **attributes)."""
    sig = inspect.signature(Pipeline.open_deal)
    for name in ("at", "store", "stage"):
        assert sig.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["store"].default is None
    assert sig.parameters["stage"].default is None


def test_open_deal_events_and_fields(p: Pipeline) -> None:
    """open_deal appends opened + stage_entered; the Deal exposes the documented fields."""
    d = p.open_deal("X", at=day(0), amount=10)
    assert d.id == "X"
    assert d.pipeline is p
    assert d.stage == "a"
    assert d.substate is None
    assert d.outcome == "open"
    assert d.is_open is True
    assert isinstance(d.events, tuple)
    assert [(e.kind, e.stage, e.seq) for e in d.events] == [
        ("opened", None, 0),
        ("stage_entered", "a", 1),
    ]
    assert dict(d.events[0].data) == {"amount": 10}
    assert dict(d.attributes) == {"amount": 10}
    with pytest.raises(TypeError):
        d.attributes["amount"] = 5  # type: ignore[index]


def test_open_deal_in_given_stage(p: Pipeline) -> None:
    """``stage`` picks the starting stage, which must be open."""
    assert p.open_deal("X", at=day(0), stage="b").stage == "b"
    with pytest.raises(SalesStagesError):
        p.open_deal("Y", at=day(0), stage="won")


def test_record_update_and_events(p: Pipeline) -> None:
    """record() appends an activity event; update() an updated event with the changes."""
    d = p.open_deal("X", at=day(0), amount=10)
    e = d.record("call", at=day(1), who="ann")
    assert (e.kind, e.name, e.stage, dict(e.data), e.seq) == (
        "activity",
        "call",
        "a",
        {"who": "ann"},
        2,
    )
    u = d.update(at=day(2), amount=20)
    assert (u.kind, u.stage, dict(u.data)) == ("updated", "a", {"amount": 20})
    assert d.attributes["amount"] == 20
    assert d.events[-1] == u


def test_auto_advance_hops_to_furthest_guarded_stage() -> None:
    """With auto_advance, record() moves hop by hop while the next stage's guard holds."""
    g = guards_mod
    pl = Pipeline(
        "auto",
        [
            Stage("a"),
            Stage("b", entry=g.activity("call")),
            Stage("c", entry=g.activity("demo")),
            Stage("d", entry=g.activity("nda")),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
        auto_advance=True,
    )
    d = pl.open_deal("X", at=day(0))
    d.record("demo", at=day(1))
    assert d.stage == "a"
    d.record("call", at=day(2))
    assert d.stage == "c"
    hops = [e for e in d.events if e.kind == "stage_entered"][1:]
    assert [(e.stage, e.at) for e in hops] == [("b", day(2)), ("c", day(2))]


def test_can_move_lists_every_reason() -> None:
    """can_move's reasons list both a graph refusal and an unmet guard."""
    pl = Pipeline(
        "x",
        [
            Stage("a"),
            Stage("b"),
            Stage("c", entry=guards_mod.document_sent("nda")),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
        allow_skip=False,
    )
    v = pl.open_deal("X", at=day(0)).can_move("c")
    assert not v
    assert len(v.reasons) >= 2


def test_move_refused_records_nothing() -> None:
    """move() raises TransitionRefused when can_move is false, and records nothing."""
    pl = guarded(guards_mod.document_sent("nda"))
    d = pl.open_deal("X", at=day(0))
    before = d.events
    with pytest.raises(TransitionRefused):
        d.move("b", at=day(1))
    assert d.events == before
    assert d.stage == "a"
    d.record("document_sent", at=day(1), document="nda")
    e = d.move("b", at=day(2))
    assert (e.kind, e.stage) == ("stage_entered", "b")


def test_substates(p: Pipeline) -> None:
    """enter_substate enters a sub-state of the current stage; others are refused."""
    d = p.open_deal("X", at=day(0), stage="c")
    e = d.enter_substate("review", at=day(1))
    assert (e.kind, e.name, e.stage) == ("substate_entered", "review", "c")
    assert d.substate == "review"
    assert d.stage == "c"
    with pytest.raises(SalesStagesError):
        d.enter_substate("nope", at=day(1))
    d2 = p.open_deal("Y", at=day(0))
    with pytest.raises(SalesStagesError):
        d2.enter_substate("review", at=day(1))
    assert len(d2.events) == 2


def test_win_lose_reopen(p: Pipeline) -> None:
    """win/lose/reopen go to the first won/lost stage, keep the reason, reopen where lost from."""
    d = p.open_deal("X", at=day(0))
    d.move("b", at=day(1))
    e = d.lose(at=day(2), reason="price")
    assert (e.stage, dict(e.data)) == ("lost", {"reason": "price"})
    assert d.outcome == "lost"
    assert d.is_open is False
    r = d.reopen(at=day(3))
    assert r.stage == "b"
    assert d.stage == "b"
    d.win(at=day(4))
    assert (d.stage, d.outcome) == ("won", "won")
    for call in (
        lambda: d.move("a", at=day(5)),
        lambda: d.lose(at=day(5), reason="x"),
        lambda: d.reopen(at=day(5)),
    ):
        with pytest.raises(TransitionRefused):
            call()
    assert d.stage == "won"


def test_reopen_to_and_disallowed() -> None:
    """reopen(to=...) goes to the named stage; allow_reopen=False refuses it."""
    d = abc().open_deal("X", at=day(0))
    d.lose(at=day(1), reason="x")
    d.reopen(at=day(2), to="c")
    assert d.stage == "c"
    d2 = abc(allow_reopen=False).open_deal("Y", at=day(0))
    d2.lose(at=day(1), reason="x")
    with pytest.raises(TransitionRefused):
        d2.reopen(at=day(2))
    assert d2.stage == "lost"


def test_win_follows_move_rules() -> None:
    """win() from a non-last open stage is refused when allow_skip is False."""
    d = abc(allow_skip=False).open_deal("X", at=day(0))
    with pytest.raises(TransitionRefused):
        d.win(at=day(1))
    assert len(d.events) == 2


@pytest.mark.parametrize(
    ("name", "keyword_only"),
    [
        ("record", ("at",)),
        ("update", ("at",)),
        ("move", ("at",)),
        ("enter_substate", ("at",)),
        ("win", ("at", "stage")),
        ("lose", ("at", "reason", "stage")),
        ("reopen", ("at", "to")),
    ],
)
def test_deal_method_keyword_only(p: Pipeline, name: str, keyword_only: tuple[str, ...]) -> None:
    """The Deal methods take the arguments the contract puts after ``*`` keyword-only."""
    sig = inspect.signature(getattr(p.open_deal("X", at=day(0)), name))
    for pname in keyword_only:
        assert sig.parameters[pname].kind is inspect.Parameter.KEYWORD_ONLY, pname


# ----------------------------------------------------------------- 6. events and stores


def test_event_fields_frozen_and_json_round_trip(p: Pipeline) -> None:
    """Event is frozen, has the documented fields, and round-trips through JSON."""
    d = p.open_deal("X", at=day(0), amount=3)
    d.lose(at=day(1), reason="price")
    for e in d.events:
        back = Event.from_dict(json.loads(json.dumps(e.to_dict())))
        assert back == e
        assert dict(back.data) == dict(e.data)
    with pytest.raises(AttributeError):
        d.events[0].seq = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        d.events[0].data["amount"] = 4  # type: ignore[index]
    text = d.events[0].to_dict()["at"]
    assert datetime.fromisoformat(text).utcoffset() == timedelta(0)


@pytest.mark.parametrize("kind", STORES)
def test_store_open_load_and_iterate(kind: str, tmp_path, p: Pipeline) -> None:
    """A store keeps a deal's events, lists its ids, iterates in seq order and loads it."""
    store = make_store(kind, tmp_path)
    d1 = p.open_deal("D1", at=day(0), store=store, amount=1)
    d2 = p.open_deal("D2", at=day(0), store=store)
    d1.move("b", at=day(1))
    d2.record("call", at=day(2))
    assert set(store.deal_ids()) == {"D1", "D2"}
    it = store.events("D1")
    assert iter(it) is it
    assert list(it) == list(d1.events)
    all_events = list(store.events())
    assert len(all_events) == 6
    for did in ("D1", "D2"):
        seqs = [e.seq for e in all_events if e.deal_id == did]
        assert seqs == sorted(seqs)
    loaded = p.load_deal(store, "D1")
    assert (loaded.stage, dict(loaded.attributes), loaded.events) == ("b", {"amount": 1}, d1.events)
    loaded.move("c", at=day(3))
    assert [e.stage for e in store.events("D1")][-1] == "c"


@pytest.mark.parametrize("kind", STORES)
def test_store_taken_seq_raises_concurrency_error(kind: str, tmp_path, p: Pipeline) -> None:
    """A second writer whose seq is taken gets ConcurrencyError and writes nothing."""
    store = make_store(kind, tmp_path)
    p.open_deal("D", at=day(0), store=store)
    a = p.load_deal(store, "D")
    b = p.load_deal(store, "D")
    a.record("call", at=day(1))
    with pytest.raises(ConcurrencyError):
        b.record("email", at=day(1))
    assert len(b.events) == 2
    assert [e.name for e in store.events("D")] == [None, None, "call"]
    stale = Event(deal_id="D", seq=1, at=day(2), kind="activity", stage="a", name="x")
    with pytest.raises(ConcurrencyError):
        store.append([stale])
    assert len(list(store.events("D"))) == 3


@pytest.mark.parametrize("kind", STORES)
def test_store_append_all_or_nothing(kind: str, tmp_path, p: Pipeline) -> None:
    """A batch that breaks the rules is refused whole."""
    store = make_store(kind, tmp_path)
    p.open_deal("D", at=day(0), store=store)
    ok = Event(deal_id="D", seq=2, at=day(1), kind="activity", stage="a", name="x")
    dup = Event(deal_id="D", seq=2, at=day(1), kind="activity", stage="a", name="y")
    other = Event(deal_id="E", seq=3, at=day(1), kind="activity", stage="a", name="y")
    for batch in ([ok, dup], [ok, other]):
        with pytest.raises((SalesStagesError, ValueError)):
            store.append(batch)
    assert len(list(store.events("D"))) == 2
    assert "E" not in store.deal_ids()
    nxt = Event(deal_id="D", seq=3, at=day(1), kind="activity", stage="a", name="z")
    store.append([ok, nxt])
    assert [e.seq for e in store.events("D")] == [0, 1, 2, 3]


@pytest.mark.parametrize("kind", STORES)
def test_store_new_deal_batch_and_taken_seq_zero(kind: str, tmp_path, p: Pipeline) -> None:
    """A brand-new deal must start at seq 0; a batch for it starting at seq 0 works."""
    store = make_store(kind, tmp_path)
    e0 = Event(deal_id="N", seq=0, at=T0, kind="opened")
    e1 = Event(deal_id="N", seq=1, at=T0, kind="stage_entered", stage="a")
    store.append([e0, e1])
    with pytest.raises(ConcurrencyError):
        store.append([e0])
    assert list(store.events("N")) == [e0, e1]
    assert p.load_deal(store, "N").stage == "a"


def test_replay_any_order_and_equal_to_live(p: Pipeline) -> None:
    """replay rebuilds deals from shuffled events with the live state."""
    d = p.open_deal("X", at=day(0), amount=1)
    d.move("c", at=day(1))
    d.enter_substate("review", at=day(2))
    d.update(at=day(3), amount=2)
    d2 = p.open_deal("Y", at=day(0))
    d2.lose(at=day(1), reason="r")
    events = [*d.events, *d2.events]
    random.Random(1).shuffle(events)
    deals = p.replay(events)
    assert set(deals) == {"X", "Y"}
    r = deals["X"]
    assert (r.stage, r.substate, dict(r.attributes), r.events) == (
        "c",
        "review",
        {"amount": 2},
        d.events,
    )
    assert deals["Y"].outcome == "lost"
    deals["Y"].reopen(at=day(2))
    assert deals["Y"].stage == "a"


def _base_events(p: Pipeline) -> list[Event]:
    """A short valid log: opened, a, b, activity, won."""
    d = p.open_deal("X", at=day(0))
    d.move("b", at=day(1))
    d.record("call", at=day(2))
    d.win(at=day(3))
    return list(d.events)


def _with(events: list[Event], i: int, **changes: object) -> list[Event]:
    """Replace event ``i`` with a copy that has ``changes``."""
    out = list(events)
    out[i] = Event.from_dict({**events[i].to_dict(), **changes})
    return out


@pytest.mark.parametrize(
    ("mutate", "bad_seq"),
    [
        (lambda ev: _with(ev, 0, kind="activity", name="x"), 0),
        (lambda ev: _with(ev, 1, kind="activity", name="x"), 1),
        (lambda ev: [e for e in ev if e.seq != 2], 3),
        (lambda ev: _with(ev, 3, at=day(0.5).isoformat()), 3),
        (lambda ev: _with(ev, 2, kind="stage_entered", stage="a", name=None), 2),
        (
            lambda ev: [
                *ev,
                Event(deal_id="X", seq=5, at=day(4), kind="activity", stage="won", name="x"),
            ],
            5,
        ),
        (lambda ev: _with(ev, 3, kind="substate_entered", stage="b", name="review"), 3),
    ],
    ids=[
        "first-not-opened",
        "second-not-stage",
        "seq-gap",
        "time-back",
        "move-not-allowed",
        "after-won",
        "substate-wrong-stage",
    ],
)
def test_replay_rules(mutate, bad_seq, p: Pipeline) -> None:
    """Each broken rule raises InvalidLogError (strict) and shows up in check()."""
    events = mutate(_base_events(p))
    with pytest.raises(InvalidLogError) as info:
        p.replay(events, strict=True)
    assert (info.value.deal_id, info.value.seq) == ("X", bad_seq)
    problems = p.check(events)
    assert problems
    first = problems[0]
    assert (first.deal_id, first.seq) == ("X", bad_seq)
    assert first.rule
    assert first.message


def test_replay_non_strict_keeps_prefix(p: Pipeline) -> None:
    """strict=False keeps a deal as far as its events make sense."""
    events = _with(_base_events(p), 3, at=day(0.5).isoformat())  # seq 3 (call) goes back in time
    deals = p.replay(events, strict=False)
    assert deals["X"].stage == "b"


def test_replay_ignores_guards_but_check_can_evaluate_them() -> None:
    """Replay does not re-evaluate entry criteria; check(guards=True) does."""
    pl = guarded(guards_mod.document_sent("nda"))
    events = [
        Event(deal_id="X", seq=0, at=T0, kind="opened"),
        Event(deal_id="X", seq=1, at=T0, kind="stage_entered", stage="a"),
        Event(deal_id="X", seq=2, at=T0, kind="stage_entered", stage="b"),
    ]
    assert pl.replay(events)["X"].stage == "b"
    assert pl.check(events) == []
    problems = pl.check(events, guards=True)
    assert [(q.deal_id, q.seq) for q in problems] == [("X", 2)]


# ----------------------------------------------------------------- 7. metrics


def test_visits(log: list[Event], p: Pipeline) -> None:
    """visits: one record per stay in an open stage, hand-computed."""
    got = {(v.deal_id, v.stage, v.entered_at): v for v in metrics.visits(log, p)}
    # as_of = latest event = day 10
    # D1: a[0,2] b[2,5] c[5,6]; D2: a[0,1] c[1,4]; D3: a[1,3] b[3,open → 7d]
    assert len(got) == 7
    v = got[("D1", "b", day(2))]
    assert (v.exited_at, v.next_stage, v.duration, v.is_open) == (
        day(5),
        "c",
        timedelta(days=3),
        False,
    )
    v = got[("D2", "c", day(1))]
    assert (v.exited_at, v.next_stage, v.duration) == (day(4), "lost", timedelta(days=3))
    v = got[("D3", "b", day(3))]
    assert (v.exited_at, v.next_stage, v.duration, v.is_open) == (
        None,
        None,
        timedelta(days=7),
        True,
    )
    early = {(v.deal_id, v.stage): v for v in metrics.visits(log, p, as_of=day(4))}
    # as of day 4: D3 in b for 1 day; D1 still in b (entered day 2) for 2 days
    assert early[("D3", "b")].duration == timedelta(days=1)
    assert early[("D1", "b")].is_open
    assert early[("D1", "b")].duration == timedelta(days=2)
    assert ("D1", "c") not in early


def test_visits_reentered_stage_and_per_deal() -> None:
    """A re-entered stage is a new visit; per='deal' adds a deal's visits up."""
    pl = abc(allow_regress=True)
    d = pl.open_deal("X", at=day(0))
    d.move("b", at=day(1))
    d.move("a", at=day(3))
    d.move("b", at=day(4))
    d.win(at=day(6))
    vs = metrics.visits(d.events, pl)
    # a[0,1] 1d, b[1,3] 2d, a[3,4] 1d, b[4,6] 2d
    assert [(v.stage, v.duration.days) for v in vs] == [("a", 1), ("b", 2), ("a", 1), ("b", 2)]
    per_visit = metrics.stage_durations(d.events, pl)
    assert (per_visit["a"].count, per_visit["a"].mean) == (2, timedelta(days=1))
    per_deal = metrics.stage_durations(d.events, pl, per="deal")
    assert (per_deal["a"].count, per_deal["a"].mean) == (1, timedelta(days=2))
    assert (per_deal["b"].count, per_deal["b"].mean) == (1, timedelta(days=4))


def test_stage_durations(log: list[Event], p: Pipeline) -> None:
    """stage_durations: count/open_count/mean/median/p90/min/max, hand-computed."""
    sd = metrics.stage_durations(log, p)
    assert set(sd) == {"a", "b", "c"}
    a = sd["a"]
    # a: [1, 2, 2] days; mean 5/3 d; median 2; p90 pos 1.8 → 2; min 1; max 2
    assert (a.count, a.open_count) == (3, 0)
    assert a.mean == timedelta(days=5) / 3
    assert (a.median, a.p90, a.min, a.max) == (
        timedelta(days=2),
        timedelta(days=2),
        timedelta(days=1),
        timedelta(days=2),
    )
    b = sd["b"]
    # b: completed [3]; one open (7 days) not included
    assert (b.count, b.open_count, b.mean) == (1, 1, timedelta(days=3))
    c = sd["c"]
    # c: [1, 3]; p90 = 1 + 0.9 * 2 = 2.8 days
    assert (c.median, c.p90) == (timedelta(days=2), timedelta(days=2.8))
    bo = metrics.stage_durations(log, p, include_open=True)["b"]
    # b with the open one: [3, 7] → mean 5, p90 = 3 + 0.9 * 4 = 6.6
    assert (bo.count, bo.open_count, bo.mean, bo.p90) == (
        2,
        1,
        timedelta(days=5),
        timedelta(days=6.6),
    )


def test_stage_durations_empty_stage_is_none(p: Pipeline) -> None:
    """A stage with no durations has count 0 and None statistics."""
    d = p.open_deal("X", at=day(0))
    d.record("call", at=day(1))
    s = metrics.stage_durations(d.events, p)["c"]
    assert (s.count, s.mean, s.median, s.p90, s.min, s.max) == (0, None, None, None, None, None)


def test_stage_durations_by_uses_value_at_opening(log: list[Event], p: Pipeline) -> None:
    """by='region' keys by the value when the deal was opened (D3's later 'apac' ignored)."""
    by = metrics.stage_durations(log, p, by="region")
    assert set(by) == {"eu", "us"}
    # eu: a visits D1 2d, D3 2d; us: a visit D2 1d
    assert (by["eu"]["a"].count, by["eu"]["a"].mean) == (2, timedelta(days=2))
    assert (by["us"]["a"].count, by["us"]["a"].mean) == (1, timedelta(days=1))


@pytest.mark.parametrize(
    ("skips", "rows"),
    [
        # imputed: a 3; b 3 (D2 skipped b into c); c 2; won 1
        ("imputed", [("a", 3, 1.0, 0.5), ("b", 3, 2 / 3, 0.5), ("c", 2, 0.5, 0.5)]),
        # touched: a 3; b 2 (D1, D3); c 2 (D1, D2); won 1
        ("touched", [("a", 3, 2 / 3, 0.5), ("b", 2, 1.0, 1.0), ("c", 2, 0.5, 0.5)]),
        # ordered: a 3; b 2 (D1, D3); c 1 (D1); won 1 (D1)
        ("ordered", [("a", 3, 2 / 3, 0.5), ("b", 2, 0.5, 1.0), ("c", 1, 1.0, 1.0)]),
    ],
)
def test_funnel(skips: str, rows, log: list[Event], p: Pipeline) -> None:
    """funnel rows per skip policy, hand-computed."""
    got = metrics.funnel(log, p, skips=skips)
    assert [r.stage for r in got] == ["a", "b", "c"]
    for r, (stage, reached, conv, win) in zip(got, rows, strict=True):
        assert r.stage == stage
        assert r.reached == reached
        assert r.conversion_rate == pytest.approx(conv)
        assert r.win_rate == pytest.approx(win)


def test_funnel_default_is_imputed_and_by(log: list[Event], p: Pipeline) -> None:
    """The default skip policy is 'imputed'; by= groups by the opening value."""
    assert metrics.funnel(log, p) == metrics.funnel(log, p, skips="imputed")
    by = metrics.funnel(log, p, by="region")
    assert set(by) == {"eu", "us"}
    # eu: D1 (won), D3 (open in b); b reached 2, won 1 → c conversion 1/1
    assert [r.reached for r in by["eu"]] == [2, 2, 1]
    assert by["eu"][0].win_rate == 1.0


def test_funnel_win_rate_none_when_none_closed(p: Pipeline) -> None:
    """win_rate is None when no deal that reached the stage closed."""
    d = p.open_deal("X", at=day(0))
    rows = metrics.funnel(d.events, p)
    assert rows[0].reached == 1
    assert rows[0].win_rate is None


def test_conversion(log: list[Event], p: Pipeline) -> None:
    """conversion counts deals entering to_stage after their first entry into from_stage."""
    r = metrics.conversion(log, p, from_stage="a", to_stage="c")
    # entered a: 3; entered c afterwards: D1, D2
    assert (r.numerator, r.denominator) == (2, 3)
    assert r.rate == pytest.approx(2 / 3)
    r = metrics.conversion(log, p, from_stage="c", to_stage="b")
    # D1 entered b before c, D2 never entered b
    assert (r.numerator, r.denominator, r.rate) == (0, 2, 0.0)
    r = metrics.conversion([e for e in log if e.deal_id == "D3"], p, from_stage="c", to_stage="won")
    assert (r.numerator, r.denominator, r.rate) == (0, 0, None)


def test_win_rate(log: list[Event], p: Pipeline) -> None:
    """win_rate by count, by value at closing, and by attribute."""
    r = metrics.win_rate(log, p)
    assert (r.numerator, r.denominator, r.rate) == (1, 2, 0.5)
    # by value: D1 won at 150 (updated before winning), D2 lost at 200 (999 came after)
    v = metrics.win_rate(log, p, by_value=True)
    assert (v.numerator, v.denominator) == (150, 350)
    assert v.rate == pytest.approx(150 / 350)
    by = metrics.win_rate(log, p, by="region")
    assert by["eu"].rate == 1.0
    assert by["us"].rate == 0.0
    assert "apac" not in by


def test_sales_cycle(log: list[Event], p: Pipeline) -> None:
    """sales_cycle: opened → latest closing over deals with that outcome now."""
    won = metrics.sales_cycle(log, p)
    assert (won.count, won.mean) == (1, timedelta(days=6))
    lost = metrics.sales_cycle(log, p, outcome="lost")
    assert (lost.count, lost.mean) == (1, timedelta(days=4))


def test_sales_cycle_latest_closing(p: Pipeline) -> None:
    """A lost-then-reopened-then-won deal's cycle runs to its latest closing."""
    d = p.open_deal("X", at=day(0))
    d.lose(at=day(1), reason="r")
    d.reopen(at=day(2))
    d.win(at=day(5))
    assert metrics.sales_cycle(d.events, p).mean == timedelta(days=5)
    assert metrics.sales_cycle(d.events, p, outcome="lost").count == 0


def test_snapshot(log: list[Event], p: Pipeline) -> None:
    """snapshot: where open deals stood at as_of (events at as_of included)."""
    snap = metrics.snapshot(log, p, as_of=day(2))
    # day 2: D1 in b (entered at day 2, amount 100), D2 in c (200), D3 in a (50)
    assert {k: (v.count, v.amount) for k, v in snap.items() if v.count} == {
        "a": (1, 50),
        "b": (1, 100),
        "c": (1, 200),
    }
    snap = metrics.snapshot(log, p, as_of=day(10))
    assert {k: (v.count, v.amount) for k, v in snap.items() if v.count} == {"b": (1, 50)}


def test_stalled(log: list[Event], p: Pipeline) -> None:
    """stalled: open deals idle longer than rot_after; idle = as_of − last event."""
    # D3 in b (rot_after 5d); last event day 10
    assert metrics.stalled(log, p) == []
    got = metrics.stalled(log, p, as_of=day(20))
    assert [(s.deal_id, s.stage, s.idle) for s in got] == [("D3", "b", timedelta(days=10))]
    # as of day 9: the day-10 call is ignored, last event is the day-4 update → idle 5d, not > 5d
    assert metrics.stalled(log, p, as_of=day(9)) == []
    got = metrics.stalled(log, p, as_of=day(9.5))
    assert [(s.deal_id, s.idle) for s in got] == [("D3", timedelta(days=5.5))]


def test_lost_reasons(log: list[Event], p: Pipeline) -> None:
    """lost_reasons: reason, number of deals, sum of amount at closing."""
    assert metrics.lost_reasons(log, p) == [("price", 1, 200.0)]


def test_lost_reasons_ordering(p: Pipeline) -> None:
    """Most deals first, then by reason."""
    evs: list[Event] = []
    for i, reason in enumerate(["b", "a", "c", "c"]):
        d = p.open_deal(f"L{i}", at=day(0), amount=10)
        d.lose(at=day(1), reason=reason)
        evs += d.events
    assert metrics.lost_reasons(evs, p) == [("c", 2, 20.0), ("a", 1, 10.0), ("b", 1, 10.0)]


def test_velocity(log: list[Event], p: Pipeline) -> None:
    """velocity = open deals × win rate × mean won amount / mean won cycle days."""
    # 1 open (D3) × 0.5 × 150 (D1's amount at closing) / 6 days = 12.5
    assert metrics.velocity(log, p) == pytest.approx(12.5)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("visits", {"as_of": None}),
        ("stage_durations", {"as_of": None, "include_open": False, "per": "visit", "by": None}),
        ("funnel", {"skips": "imputed", "by": None}),
        ("win_rate", {"by_value": False, "by": None}),
        ("sales_cycle", {"outcome": "won", "by": None}),
        ("stalled", {"as_of": None}),
        ("velocity", {"as_of": None}),
    ],
)
def test_metric_signatures(name: str, params: dict[str, object]) -> None:
    """Metric options are keyword-only with the contract's defaults."""
    sig = inspect.signature(getattr(metrics, name))
    for pname, default in params.items():
        assert sig.parameters[pname].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters[pname].default == default


def test_metrics_ignore_events_after_as_of(log: list[Event], p: Pipeline) -> None:
    """Events after as_of are ignored: as of day 3 the later closings do not count."""
    # as of day 3: D1 in b, D2 in c, D3 in b → weighted 100*.4 + 200*.7 + 50*.4 = 200
    assert forecast.weighted(log, p, as_of=day(3)) == pytest.approx(200.0)
    assert metrics.stage_durations(log, p, as_of=day(3))["c"].count == 0


# ----------------------------------------------------------------- 8. forecasts


def test_weighted(log: list[Event], p: Pipeline) -> None:
    """weighted: sum of amount × stage probability over open deals."""
    # day 10: D3 in b, 50 × 0.4
    assert forecast.weighted(log, p) == pytest.approx(20.0)
    # day 2: D1 b 100 × .4 + D2 c 200 × .7 + D3 a 50 × .1 = 185
    assert forecast.weighted(log, p, as_of=day(2)) == pytest.approx(185.0)


def test_markov(log: list[Event], p: Pipeline) -> None:
    """markov: absorption probabilities and expected moves, hand-solved."""
    m = forecast.markov(log, p)
    # from a: b 2/3, c 1/3; from b: c 1; from c: won 1/2, lost 1/2
    assert set(m.win_probability) == {"a", "b", "c"}
    assert m.win_probability["c"] == pytest.approx(0.5)
    assert m.win_probability["b"] == pytest.approx(0.5)
    assert m.win_probability["a"] == pytest.approx(0.5)
    # moves: c 1; b 1 + 1 = 2; a 1 + 2/3·2 + 1/3·1 = 8/3
    assert m.expected_moves["c"] == pytest.approx(1.0)
    assert m.expected_moves["b"] == pytest.approx(2.0)
    assert m.expected_moves["a"] == pytest.approx(8 / 3)


def test_markov_reopen_starts_new_path(p: Pipeline) -> None:
    """Lost is absorbing: a reopening is not a move out of lost."""
    d = p.open_deal("X", at=day(0))
    d.lose(at=day(1), reason="r")
    d.reopen(at=day(2))
    d.win(at=day(3))
    m = forecast.markov(d.events, p)
    # from a: lost 1, won 1 → 0.5, one move
    assert m.win_probability["a"] == pytest.approx(0.5)
    assert m.expected_moves["a"] == pytest.approx(1.0)
    assert set(m.win_probability) == {"a"}


def test_time_to_close(log: list[Event], p: Pipeline) -> None:
    """Kaplan–Meier with open deals censored at as_of − opened, hand-computed."""
    s = forecast.time_to_close(log, p)
    # D2 closes at 4d (3 at risk → 2/3), D1 at 6d (2 at risk → 1/3), D3 censored at 9d
    assert tuple(s.times) == (timedelta(days=4), timedelta(days=6))
    assert list(s.survival) == pytest.approx([2 / 3, 1 / 3])
    assert s.median == timedelta(days=6)
    s2 = forecast.time_to_close([e for e in log if e.deal_id != "D1"], p)
    # D2 at 4d (2 at risk → 1/2): median 4d
    assert s2.median == timedelta(days=4)
    s3 = forecast.time_to_close([e for e in log if e.deal_id == "D3"], p)
    assert (tuple(s3.times), s3.median) == ((), None)


def test_time_to_close_latest_closing(p: Pipeline) -> None:
    """A deal's closing time is its latest closing."""
    d = p.open_deal("X", at=day(0))
    d.lose(at=day(1), reason="r")
    d.reopen(at=day(2))
    d.win(at=day(5))
    s = forecast.time_to_close(d.events, p)
    assert tuple(s.times) == (timedelta(days=5),)
    assert list(s.survival) == [0.0]


# ----------------------------------------------------------------- 9. testing toolkit


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sstesting.events(abc()))
def test_testing_events_replay_strictly(events: list[Event]) -> None:
    """Every log that testing.events draws replays with strict=True."""
    pl = abc()
    deals = pl.replay(events, strict=True)
    assert len(deals) >= 1
    assert pl.check(events) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sstesting.deals(abc()))
def test_testing_deals_are_live_deals(deal) -> None:
    """testing.deals draws live Deals whose events replay to the same state."""
    assert isinstance(deal, salesstages.Deal)
    again = deal.pipeline.replay(deal.events)[deal.id]
    assert (again.stage, again.substate) == (deal.stage, deal.substate)


def test_pipeline_machine_runs_and_finds_user_rule() -> None:
    """pipeline_machine gives a RuleBasedStateMachine whose TestCase runs; subclasses add invariants."""
    from hypothesis.stateful import invariant, run_state_machine_as_test

    machine = sstesting.pipeline_machine(abc())
    assert issubclass(machine, RuleBasedStateMachine)
    assert hasattr(machine, "TestCase")
    import unittest

    assert issubclass(machine.TestCase, unittest.TestCase)
    run_state_machine_as_test(
        machine, settings=settings(max_examples=5, stateful_step_count=10, deadline=None)
    )

    class NeverWon(machine):  # type: ignore[misc, valid-type]
        @invariant()
        def never_won(self) -> None:
            assert self.deal.outcome != "won"

    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            NeverWon,
            settings=settings(
                max_examples=200, stateful_step_count=20, deadline=None, database=None
            ),
        )


# ----------------------------------------------------------------- extra contract details


def test_replay_and_check_signatures() -> None:
    """replay(events, *, strict=True) and check(events, *, guards=False)."""
    for name, pname, default in (("replay", "strict", True), ("check", "guards", False)):
        param = inspect.signature(getattr(Pipeline, name)).parameters[pname]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY
        assert param.default is default


def test_lose_reason_is_required_keyword() -> None:
    """lose(*, at, reason, stage=None): reason is a required keyword-only argument."""
    sig = inspect.signature(salesstages.Deal.lose)
    assert sig.parameters["reason"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["reason"].default is inspect.Parameter.empty
    assert sig.parameters["stage"].default is None
    assert inspect.signature(salesstages.Deal.reopen).parameters["to"].default is None


def test_invalid_log_error_message_names_deal_seq_rule(p: Pipeline) -> None:
    """The strict replay error names the deal, the seq and the rule."""
    events = [e for e in _base_events(p) if e.seq != 2]
    with pytest.raises(InvalidLogError) as info:
        p.replay(events)
    text = str(info.value)
    assert "'X'" in text
    assert "3" in text
    problem = p.check(events)[0]
    assert problem.rule in text


def test_out_of_order_on_substate_and_reopen(p: Pipeline) -> None:
    """enter_substate and reopen also refuse an earlier ``at`` and record nothing."""
    d = p.open_deal("X", at=day(0), stage="c")
    d.record("call", at=day(2))
    with pytest.raises(OutOfOrderError):
        d.enter_substate("review", at=day(1))
    d.lose(at=day(3), reason="r")
    with pytest.raises(OutOfOrderError):
        d.reopen(at=day(2))
    assert (d.stage, len(d.events)) == ("lost", 4)


def test_markov_with_regressions() -> None:
    """Regressions are observed moves; absorption is solved through them."""
    pl = abc(allow_regress=True)
    x = pl.open_deal("X", at=day(0))
    x.move("b", at=day(1))
    x.move("a", at=day(2))
    x.move("b", at=day(3))
    x.win(at=day(4))
    y = pl.open_deal("Y", at=day(0))
    y.lose(at=day(1), reason="r")
    m = forecast.markov([*x.events, *y.events], pl)
    # a: b 2/3, lost 1/3; b: a 1/2, won 1/2
    # W_a = 2/3 W_b, W_b = 1/2 + 1/2 W_a → W_b = 3/4, W_a = 1/2
    # E_a = 1 + 2/3 E_b, E_b = 1 + 1/2 E_a → E_b = 9/4, E_a = 5/2
    assert m.win_probability["a"] == pytest.approx(0.5)
    assert m.win_probability["b"] == pytest.approx(0.75)
    assert m.expected_moves["a"] == pytest.approx(2.5)
    assert m.expected_moves["b"] == pytest.approx(2.25)


def test_markov_only_estimates_stages_with_observed_moves(p: Pipeline) -> None:
    """win_probability never names a stage without observed moves."""
    d = p.open_deal("X", at=day(0))
    d.move("b", at=day(1))
    m = forecast.markov(d.events, p)
    assert "b" not in m.win_probability
    assert "c" not in m.win_probability


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_two_store_instances_share_one_file(kind: str, tmp_path, p: Pipeline) -> None:
    """Two store objects on one file see each other's writes and never both take a seq."""
    one = make_store(kind, tmp_path)
    two = make_store(kind, tmp_path)
    p.open_deal("D", at=day(0), store=one)
    a = p.load_deal(two, "D")
    b = p.load_deal(one, "D")
    a.record("call", at=day(1))
    with pytest.raises(ConcurrencyError):
        b.record("mail", at=day(1))
    assert [e.name for e in one.events("D")] == [None, None, "call"]
    assert [e.name for e in two.events("D")] == [None, None, "call"]


def test_pipeline_to_dict_has_no_nulls() -> None:
    """to_dict is TOML-friendly: no None values anywhere."""

    def walk(value: object) -> None:
        assert value is not None
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(abc().to_dict())
    walk(guarded(guards_mod.meeting_accepted("m")).to_dict())


def test_event_constructor_accepts_valid_kinds() -> None:
    """Every kind the contract lists can be built directly."""
    for kind in ("opened", "stage_entered", "substate_entered", "activity", "updated"):
        assert Event(deal_id="X", seq=0, at=T0, kind=kind).kind == kind


def test_event_constructor_refuses_unknown_kind() -> None:
    """An Event whose kind is not one of the five is refused."""
    with pytest.raises((ValueError, TypeError)):
        Event(deal_id="X", seq=0, at=T0, kind="bogus")  # type: ignore[arg-type]


def test_replay_flags_unknown_kind(p: Pipeline) -> None:
    """An event of a kind outside the contract is a problem for replay and check."""
    events = [
        Event(deal_id="X", seq=0, at=T0, kind="opened"),
        Event(deal_id="X", seq=1, at=T0, kind="stage_entered", stage="a"),
        _tampered(Event(deal_id="X", seq=2, at=T0, kind="activity"), "kind", "bogus"),
    ]
    assert [q.rule for q in p.check(events)] == ["unknown_kind"]
    with pytest.raises(InvalidLogError):
        p.replay(events)


def _tampered(event: Event, field: str, value: object) -> Event:
    """The event with one field changed behind the constructor's back (as corrupt code might)."""
    object.__setattr__(event, field, value)
    return event


def _bad_event(which: str) -> Event:
    """An Event whose ``which`` field was made to break its type after construction."""
    event = Event(deal_id="X", seq=2, at=day(1), kind="activity", stage="a", name="call")
    return _tampered(event, which, {"kind": "bogus", "name": 5, "stage": 7}[which])


@pytest.mark.parametrize(
    ("field", "value"), [("kind", "bogus"), ("seq", -1), ("deal_id", ""), ("stage", 7), ("name", 5)]
)
def test_event_constructor_refuses_ill_typed_fields(field: str, value: object) -> None:
    """The constructor itself refuses a field outside its type."""
    fields: dict[str, object] = {"deal_id": "X", "seq": 0, "kind": "activity", field: value}
    with pytest.raises(ValueError, match=field):
        Event(at=T0, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "which"),
    [
        pytest.param("memory", "kind"),
        pytest.param("memory", "name"),
        pytest.param("memory", "stage"),
        pytest.param("jsonl", "kind"),
        pytest.param("jsonl", "name"),
        pytest.param("jsonl", "stage"),
        pytest.param("sqlite", "kind"),
        pytest.param("sqlite", "name"),
        pytest.param("sqlite", "stage"),
    ],
)
def test_store_never_writes_what_it_cannot_give_back(
    kind: str, which: str, tmp_path, p: Pipeline
) -> None:
    """An append either refuses an ill-typed event and writes nothing, or gives it back unchanged."""
    store = make_store(kind, tmp_path)
    p.open_deal("X", at=day(0), store=store)
    bad = _bad_event(which)
    reopened = store if kind == "memory" else make_store(kind, tmp_path)
    try:
        store.append([bad])
    except (SalesStagesError, ValueError, TypeError):
        assert len(list(reopened.events("X"))) == 2
        return
    again = store if kind == "memory" else make_store(kind, tmp_path)
    assert list(again.events("X"))[-1] == bad


def _toolkit_pipelines() -> list[Pipeline]:
    """Pipelines with different flags, guards and sub-states for the testing toolkit."""
    g = guards_mod
    return [
        abc(allow_skip=False, allow_regress=True),
        abc(allow_reopen=False),
        abc(transitions=[("a", "b"), ("b", "c"), ("c", "won"), ("lost", "a"), ("c", "a")]),
        Pipeline(
            "guarded",
            [
                Stage("lead"),
                Stage(
                    "mql",
                    entry=g.at_least(2, g.field("budget"), g.field("need"), g.field("timeline")),
                ),
                Stage("meeting", entry=g.meeting_accepted("intro")),
                Stage(
                    "proposal",
                    entry=g.all_of(g.document_sent("proposal"), g.activity("call", outcome="ok")),
                    substates=("delivered", "review", "negotiation", "signing"),
                ),
                Stage("won", outcome="won"),
                Stage("lost", outcome="lost"),
                Stage("disqualified", outcome="lost"),
            ],
            allow_skip=False,
            auto_advance=True,
        ),
    ]


@pytest.mark.parametrize(
    "pl", _toolkit_pipelines(), ids=["regress", "noreopen", "transitions", "guarded"]
)
def test_testing_tools_on_varied_pipelines(pl: Pipeline) -> None:
    """events() logs replay strictly, deals() replay to their live state, and the machine runs."""
    from hypothesis.stateful import run_state_machine_as_test

    @settings(
        max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(sstesting.events(pl), sstesting.deals(pl))
    def check(events: list[Event], deal) -> None:
        pl.replay(events, strict=True)
        assert pl.check(events) == []
        again = pl.replay(deal.events)[deal.id]
        assert (again.stage, again.substate, dict(again.attributes)) == (
            deal.stage,
            deal.substate,
            dict(deal.attributes),
        )

    check()
    run_state_machine_as_test(
        sstesting.pipeline_machine(pl),
        settings=settings(max_examples=5, stateful_step_count=15, deadline=None, database=None),
    )


def test_testing_reaches_guarded_stages() -> None:
    """events() on a guarded pipeline draws logs that get past the guards."""
    pl = _toolkit_pipelines()[3]
    seen: set[str] = set()

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(sstesting.events(pl))
    def check(events: list[Event]) -> None:
        seen.update(e.stage for e in events if e.kind == "stage_entered" and e.stage)

    check()
    assert {"mql", "meeting", "proposal"} <= seen


def test_snapshot_as_of_is_keyword_only() -> None:
    """snapshot(events, pipeline, *, as_of=None) takes as_of as every metric does (§16)."""
    param = inspect.signature(metrics.snapshot).parameters["as_of"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY
    assert param.default is None


def test_time_to_close_ties(p: Pipeline) -> None:
    """Tied closing times give one entry; censoring at the same time counts as at risk."""
    evs: list[Event] = []
    won = p.open_deal("C0", at=day(0))
    won.win(at=day(2))
    lost = p.open_deal("C1", at=day(0))
    lost.lose(at=day(2), reason="r")
    evs += [*won.events, *lost.events]
    evs += p.open_deal("O", at=day(0)).events
    s = forecast.time_to_close(evs, p, as_of=day(2))
    # 3 at risk at 2d, 2 close: S = 1/3; the open deal is censored at 2d
    assert tuple(s.times) == (timedelta(days=2),)
    assert list(s.survival) == pytest.approx([1 / 3])
    assert s.median == timedelta(days=2)


def _sqlite_writer(path: str, n: int) -> None:
    """Append ``n`` activities to deal D, retrying on ConcurrencyError."""
    pl = abc()
    store = SqliteStore(path)
    done = 0
    while done < n:
        deal = pl.load_deal(store, "D")
        try:
            deal.record("call", at=day(1))
        except ConcurrencyError:
            continue
        done += 1


def test_two_processes_share_sqlite(tmp_path) -> None:
    """Two processes appending to one SQLite file never lose or duplicate an event."""
    import multiprocessing

    path = str(tmp_path / "shared.sqlite")
    abc().open_deal("D", at=day(0), store=SqliteStore(path))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_sqlite_writer, args=(path, 15)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    seqs = [e.seq for e in SqliteStore(path).events("D")]
    assert seqs == list(range(32))


def test_event_constructor_data_is_read_only() -> None:
    """An Event built directly has read-only data, detached from the caller's dict."""
    source = {"amount": 1}
    e = Event(deal_id="X", seq=0, at=T0, kind="opened", data=source)
    source["amount"] = 2
    assert e.data["amount"] == 1
    with pytest.raises(TypeError):
        e.data["amount"] = 3  # type: ignore[index]


def test_event_constructor_normalises_to_utc() -> None:
    """Event(at=...) with another offset stores the same instant in UTC; naive is refused."""
    e = Event(
        deal_id="X",
        seq=0,
        at=datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
        kind="opened",
    )
    assert e.at == T0
    assert e.at.utcoffset() == timedelta(0)
    with pytest.raises(NaiveTimeError):
        Event(deal_id="X", seq=0, at=datetime(2024, 1, 1), kind="opened")


def test_guard_signatures() -> None:
    """meeting_accepted's default parties and field's optional predicate."""
    sig = inspect.signature(guards_mod.meeting_accepted)
    assert tuple(sig.parameters["by"].default) == ("prospect", "rep")
    assert inspect.signature(guards_mod.field).parameters["predicate"].default is None


@pytest.mark.parametrize(
    ("fn", "params"),
    [
        (forecast.weighted, ("as_of",)),
        (forecast.time_to_close, ("as_of",)),
        (metrics.stalled, ("as_of",)),
    ],
)
def test_forecast_signatures(fn, params: tuple[str, ...]) -> None:
    """Forecast and metric ``as_of`` options are keyword-only and default to None."""
    sig = inspect.signature(fn)
    for name in params:
        assert sig.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters[name].default is None


def test_result_types(log: list[Event], p: Pipeline) -> None:
    """Results have the documented types: floats, timedeltas, tuples of str/int/float."""
    assert isinstance(metrics.velocity(log, p), float)
    assert isinstance(forecast.weighted(log, p), float)
    reason, count, amount = metrics.lost_reasons(log, p)[0]
    assert (type(reason), type(count), type(amount)) == (str, int, float)
    assert isinstance(metrics.win_rate(log, p).rate, float)
    assert isinstance(metrics.funnel(log, p)[1].conversion_rate, float)
    s = forecast.time_to_close(log, p)
    assert all(isinstance(t, timedelta) for t in s.times)
    assert all(isinstance(x, float) for x in s.survival)
    assert isinstance(metrics.visits(log, p), list)


def test_unknown_stage_in_deal_calls(p: Pipeline) -> None:
    """can_move/move to an unknown stage raise UnknownStageError (a KeyError)."""
    d = p.open_deal("X", at=day(0))
    with pytest.raises(UnknownStageError):
        d.can_move("zz")
    with pytest.raises(KeyError):
        d.move("zz", at=day(1))
    with pytest.raises(UnknownStageError):
        p.allowed("a", "zz")
    assert len(d.events) == 2


def test_pipeline_from_dict_equals_original() -> None:
    """Pipeline.from_dict(p.to_dict()) gives an equal pipeline, guards included."""
    g = guards_mod
    pl = Pipeline(
        "x",
        [
            Stage("a"),
            Stage("b", entry=g.any_of(g.meeting_accepted("m"), g.not_(g.field("f")))),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
        transitions=[("a", "b"), ("b", "w"), ("l", "a")],
    )
    back = Pipeline.from_dict(json.loads(json.dumps(pl.to_dict())))
    assert back == pl
    assert back.allowed("l", "a")
    assert not back.allowed("a", "w")


def test_sqlite_data_error_names_row_and_field(tmp_path, p: Pipeline) -> None:
    """A bad row in a SQLite store raises DataError naming the file, the row and the field."""
    import sqlite3

    path = tmp_path / "bad.sqlite"
    store = SqliteStore(path)
    p.open_deal("X", at=day(0), store=store)
    store.close()
    con = sqlite3.connect(path)
    cols = [r[1] for r in con.execute("PRAGMA table_info(events)")]
    row = {
        "deal_id": "X",
        "seq": 2,
        "position": 99,
        "at": "garbage",
        "kind": "activity",
        "stage": "a",
        "name": "n",
        "data": "{}",
    }
    con.execute(
        f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols],
    )
    con.commit()
    con.close()
    with pytest.raises(DataError) as info:
        list(SqliteStore(path).events("X"))
    text = str(info.value)
    assert "bad.sqlite" in text
    assert "'at'" in text or "field at" in text
    assert "seq 2" in text or "row" in text


@pytest.mark.parametrize(
    "call",
    [
        lambda ev, p: sorted(metrics.visits(ev, p), key=lambda v: (v.deal_id, v.entered_at)),
        lambda ev, p: metrics.stage_durations(ev, p, by="region"),
        lambda ev, p: metrics.funnel(ev, p, by="region"),
        lambda ev, p: metrics.conversion(ev, p, from_stage="a", to_stage="c"),
        lambda ev, p: metrics.win_rate(ev, p, by_value=True),
        lambda ev, p: metrics.sales_cycle(ev, p, by="region"),
        lambda ev, p: metrics.snapshot(ev, p, as_of=day(2)),
        lambda ev, p: metrics.stalled(ev, p, as_of=day(20)),
        lambda ev, p: metrics.lost_reasons(ev, p),
        lambda ev, p: metrics.velocity(ev, p),
        lambda ev, p: forecast.weighted(ev, p),
        lambda ev, p: dict(forecast.markov(ev, p).win_probability),
        lambda ev, p: forecast.time_to_close(ev, p).survival,
    ],
)
def test_metrics_take_any_iterable_in_any_order(call, log: list[Event], p: Pipeline) -> None:
    """Every metric gives the same answer for a list, a one-shot generator and a reversed tuple."""
    expected = call(list(log), p)
    assert call((e for e in log), p) == expected
    assert call(tuple(reversed(log)), p) == expected


def test_as_of_with_other_offset_is_the_same_instant(log: list[Event], p: Pipeline) -> None:
    """An as_of in another timezone means the same instant as its UTC equivalent."""
    plus5 = day(4).astimezone(timezone(timedelta(hours=5)))
    assert metrics.visits(log, p, as_of=plus5) == metrics.visits(log, p, as_of=day(4))
    assert metrics.snapshot(log, p, as_of=plus5) == metrics.snapshot(log, p, as_of=day(4))


def test_sales_cycle_by(log: list[Event], p: Pipeline) -> None:
    """sales_cycle(by=) groups by the opening value of the attribute."""
    by = metrics.sales_cycle(log, p, by="region")
    assert (by["eu"].count, by["eu"].mean) == (1, timedelta(days=6))
    assert "apac" not in by


@pytest.mark.parametrize(
    "call",
    [
        lambda ev, p: metrics.funnel(ev, p, skips="bogus"),
        lambda ev, p: metrics.stage_durations(ev, p, per="bogus"),
    ],
)
def test_bad_option_values_raise_value_error(call, log: list[Event], p: Pipeline) -> None:
    """An option value outside the documented ones raises ValueError."""
    with pytest.raises(ValueError, match="bogus"):
        call(log, p)


def test_event_with_tuple_data_round_trips_through_json(p: Pipeline) -> None:
    """An event whose data the library accepted round-trips through JSON unchanged."""
    d = p.open_deal("X", at=day(0), tags=("a", "b"))
    e = d.record("call", at=day(1), items=(1, 2))
    for event in (d.events[0], e):
        assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event


@pytest.mark.parametrize("kind", ["memory", "jsonl", "sqlite"])
def test_loaded_deal_equals_live_deal_with_sequence_values(
    kind: str, tmp_path, p: Pipeline
) -> None:
    """A deal loaded back from its store has the live deal's events and attributes."""
    store = make_store(kind, tmp_path)
    d = p.open_deal("X", at=day(0), store=store, tags=("a", "b"))
    d.record("call", at=day(1), items=(1, 2))
    again = make_store(kind, tmp_path) if kind != "memory" else store
    loaded = p.load_deal(again, "X")
    assert loaded.events == d.events
    assert dict(loaded.attributes) == dict(d.attributes)
