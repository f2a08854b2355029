"""salesstages.io: the canonical formats and the CRM importers."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from salesstages import DataError, Event, Pipeline, Stage, UnknownStageError, presets
from salesstages.io import (
    ImportProblem,
    ImportResult,
    read_csv,
    read_jsonl,
    read_opportunity_history,
    read_stage_table,
    write_csv,
    write_jsonl,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
MAVEN = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "maven-crm-sales-opportunities"
    / "sales_pipeline.csv"
).resolve()


def small() -> Pipeline:
    """prospecting → engaging → won / lost."""
    return Pipeline(
        "small",
        [
            Stage("prospecting"),
            Stage("engaging"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def sample_events() -> list[Event]:
    """A valid log of two deals with every kind of event and awkward data."""
    pipeline = presets.inbound_b2b()
    from salesstages import MemoryStore

    store = MemoryStore()
    d = pipeline.open_deal("A,1", at=T0, store=store, amount=1200.5, owner='Zoë "Z"', tags=["x"])
    d.record("meeting_booked", at=T0 + timedelta(hours=1), meeting="discovery", note="a\nb")
    d.update(at=T0 + timedelta(hours=2), amount=1500, nested={"k": [1, None]})
    pipeline.open_deal("B", at=T0, store=store)
    b = pipeline.load_deal(store, "B")
    b.lose(at=T0 + timedelta(days=1), reason="no budget")
    return list(store.events())


# ---------------------------------------------------------------------- canonical
@pytest.mark.parametrize(("write", "read"), [(write_jsonl, read_jsonl), (write_csv, read_csv)])
def test_canonical_round_trip_via_path(tmp_path: Path, write: object, read: object) -> None:
    """Writing then reading a file gives back equal events."""
    events = sample_events()
    path = tmp_path / "events.out"
    assert write(events, path) == len(events)  # type: ignore[operator]
    assert read(path) == events  # type: ignore[operator]


@pytest.mark.parametrize(("write", "read"), [(write_jsonl, read_jsonl), (write_csv, read_csv)])
def test_canonical_round_trip_via_streams(write: object, read: object) -> None:
    """Text and binary file objects work as sources and targets."""
    events = sample_events()
    buf = io.StringIO(newline="")
    write(events, buf)  # type: ignore[operator]
    assert read(io.StringIO(buf.getvalue(), newline="")) == events  # type: ignore[operator]
    assert read(io.BytesIO(buf.getvalue().encode("utf-8"))) == events  # type: ignore[operator]


def test_jsonl_is_one_object_per_line() -> None:
    """The JSON Lines form is Event.to_dict's object, one per line."""
    buf = io.StringIO()
    events = sample_events()
    write_jsonl(events, buf)
    import json

    lines = buf.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [e.to_dict() for e in events]


def test_csv_header_and_empty_cells() -> None:
    """The CSV has the seven columns; None stage/name are empty cells, data is JSON."""
    buf = io.StringIO(newline="")
    write_csv(sample_events()[:1], buf)
    header, row = buf.getvalue().splitlines()
    assert header == "deal_id,seq,at,kind,stage,name,data"
    assert row.startswith('"A,1",0,2024-05-01T09:00:00+00:00,opened,,,"{')


def test_events_in_any_order_are_fine() -> None:
    """A file may list events in any order, as long as each deal is complete."""
    events = sample_events()
    buf = io.StringIO()
    write_jsonl(reversed(events), buf)
    assert sorted(read_jsonl(io.StringIO(buf.getvalue())), key=lambda e: (e.deal_id, e.seq)) == (
        sorted(events, key=lambda e: (e.deal_id, e.seq))
    )


def jsonl(*lines: str) -> io.StringIO:
    """A JSON Lines stream named ``events.jsonl``."""
    f = io.StringIO("".join(line + "\n" for line in lines))
    f.name = "events.jsonl"
    return f


def line(deal_id: str = "A", seq: int = 0, **over: object) -> str:
    """One canonical JSON line, with fields overridden."""
    import json

    d: dict[str, object] = {
        "deal_id": deal_id,
        "seq": seq,
        "at": "2024-05-01T09:00:00+00:00",
        "kind": "opened" if seq == 0 else "activity",
        "stage": None,
        "name": None,
        "data": {},
    }
    d.update(over)
    return json.dumps(d)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("{oops", "line 1", "not valid JSON"),
        ("[1, 2]", "line 1", "expected a JSON object"),
        (line(seq="1"), "line 1, field 'seq'", "integer >= 0"),
        (line(at="2024-05-01T09:00:00"), "line 1, field 'at'", "no UTC offset"),
        (line(at=5), "line 1, field 'at'", "ISO 8601 string"),
        (line(kind="won"), "line 1, field 'kind'", "expected one of"),
        (line(deal_id=""), "line 1, field 'deal_id'", "non-empty string"),
        (line(data=[1]), "line 1, field 'data'", "JSON object"),
        (line(stage=3), "line 1, field 'stage'", "string or null"),
    ],
)
def test_read_jsonl_names_file_line_and_field(text: str, where: str, message: str) -> None:
    """Each malformed line raises DataError naming the file, the line and the field."""
    with pytest.raises(DataError, match=rf"^events\.jsonl, {where}: .*{message}") as info:
        read_jsonl(jsonl(text))
    assert info.value.path == "events.jsonl"
    assert info.value.line == 1


def test_read_jsonl_missing_field() -> None:
    """A line without ``at`` names the field as missing."""
    with pytest.raises(DataError, match=r"line 2, field 'at': missing"):
        read_jsonl(jsonl(line(), '{"deal_id": "A", "seq": 1, "kind": "activity"}'))


def test_read_jsonl_refuses_half_a_deal() -> None:
    """A deal with a gap or a repeat in its seq is refused, naming the line."""
    with pytest.raises(DataError, match=r"line 2, field 'seq': deal 'A': seq 1 is missing"):
        read_jsonl(jsonl(line(seq=0), line(seq=2)))
    with pytest.raises(DataError, match=r"line 2, field 'seq': deal 'A': seq 0 appears twice"):
        read_jsonl(jsonl(line(seq=0), line(seq=0)))
    assert [e.seq for e in read_jsonl(jsonl(line(seq=3), line(seq=4)), complete=False)] == [3, 4]


def test_read_jsonl_truncated_file_hint() -> None:
    """A cut-off last line is refused with a hint that the file was cut short."""
    with pytest.raises(DataError, match=r"line 2: not valid JSON .*was the file cut short\?"):
        read_jsonl(io.StringIO(line() + "\n" + line(seq=1)[:20]))


def test_read_jsonl_not_utf8() -> None:
    """Bytes that are not UTF-8 are refused naming the line."""
    with pytest.raises(DataError, match=r"line 2: not UTF-8 text \(byte 0xff\)"):
        read_jsonl(io.BytesIO(line().encode() + b"\n\xff\n"))


def test_read_missing_file(tmp_path: Path) -> None:
    """A missing file raises DataError naming it."""
    with pytest.raises(DataError, match=r"nope\.jsonl: cannot read the file"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_read_jsonl_blank_lines_and_bom() -> None:
    """Blank lines and a UTF-8 byte order mark are ignored."""
    raw = ("\ufeff" + line() + "\n\n  \n" + line(seq=1) + "\n").encode("utf-8")
    assert [e.seq for e in read_jsonl(io.BytesIO(raw))] == [0, 1]


def test_read_jsonl_normalises_offsets() -> None:
    """Timestamps with another offset come back in UTC."""
    (e,) = read_jsonl(jsonl(line(at="2024-05-01T11:00:00+02:00")))
    assert e.at == T0
    assert e.at.tzinfo is UTC


def csvfile(text: str) -> io.StringIO:
    """A CSV stream named ``events.csv``."""
    f = io.StringIO(text, newline="")
    f.name = "events.csv"
    return f


HEADER = "deal_id,seq,at,kind,stage,name,data\n"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("", "line 1", "the file is empty"),
        ("deal_id,seq,at,kind,stage,name\n", "line 1, field 'data'", "lacks this column"),
        (HEADER.replace("\n", ",extra\n"), "line 1, field 'extra'", "unknown column"),
        ("deal_id,deal_id\n", "line 1, field 'deal_id'", "appears twice"),
        ("deal_id,,seq\n", "line 1", "a column has no name"),
        (HEADER + "A,x,2024-05-01T09:00:00+00:00,opened,,,{}\n", "line 2, field 'seq'", "integer"),
        (HEADER + "A,0,2024-05-01T09:00:00+00:00,opened,,,[]\n", "line 2, field 'data'", "object"),
        (HEADER + "A,0,2024-05-01T09:00:00+00:00,opened,,,{x\n", "line 2, field 'data'", "JSON"),
        (HEADER + "A,0,2024-05-01,opened,,,{}\n", "line 2, field 'at'", "no UTC offset"),
        (HEADER + "A,0,2024-05-01T09:00:00+00:00,opened\n", "line 2", "expected 7 cells, got 4"),
        (HEADER + 'A,0,"2024\n', "line 2", "bad CSV"),
        (HEADER + "A,1,2024-05-01T09:00:00+00:00,opened,,,{}\n", "line 2, field 'seq'", "missing"),
    ],
)
def test_read_csv_names_file_line_and_field(text: str, where: str, message: str) -> None:
    """Each malformed CSV raises DataError naming the file, the line and the column."""
    with pytest.raises(DataError, match=rf"^events\.csv, {where}: .*{message}"):
        read_csv(csvfile(text))


def test_read_csv_columns_in_any_order() -> None:
    """Columns may come in any order; empty data is {}."""
    text = "data,name,stage,kind,at,seq,deal_id\n,,,opened,2024-05-01T09:00:00+00:00,0,A\n"
    (e,) = read_csv(csvfile(text))
    assert (e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, dict(e.data)) == (
        "A",
        0,
        T0,
        "opened",
        None,
        None,
        {},
    )


# ---------------------------------------------------------------------- stage tables
TABLE = """id,stage,engaged,closed,value,rep,why
D1,Won,2024-01-02,2024-02-01,"1,200",ann,
D2,Lost,2024-01-03,2024-01-20,0,bob,too expensive
D3,Engaging,2024-01-04,,,ann,
D4,Prospecting,,,,cid,
"""


def table(text: str = TABLE) -> io.StringIO:
    """A stage table stream named ``table.csv``."""
    f = io.StringIO(text, newline="")
    f.name = "table.csv"
    return f


def import_table(text: str = TABLE, **kw: object) -> ImportResult:
    """Import a small stage table onto :func:`small`."""
    options: dict[str, object] = {
        "id_column": "id",
        "stage_columns": {"engaged": "engaging"},
        "status_column": "stage",
        "status_map": {
            "Won": "won",
            "Lost": "lost",
            "Engaging": "engaging",
            "Prospecting": "prospecting",
        },
        "close_column": "closed",
        "amount_column": "value",
        "attribute_columns": {"rep": "owner"},
        "lost_reason_column": "why",
    }
    options.update(kw)
    return read_stage_table(table(text), small(), **options)  # type: ignore[arg-type]


def test_stage_table_builds_each_deal() -> None:
    """Each dated row becomes a deal opened at its first date and closed at the close date."""
    result = import_table()
    assert (result.rows, result.deals) == (4, 3)
    deals = small().replay(result.events)
    assert {k: d.stage for k, d in deals.items()} == {"D1": "won", "D2": "lost", "D3": "engaging"}
    assert dict(deals["D1"].attributes) == {"amount": 1200, "owner": "ann"}
    d2 = [(e.kind, e.stage, e.at.date().isoformat(), dict(e.data)) for e in deals["D2"].events]
    assert d2 == [
        ("opened", None, "2024-01-03", {"amount": 0, "owner": "bob"}),
        ("stage_entered", "engaging", "2024-01-03", {}),
        ("stage_entered", "lost", "2024-01-20", {"reason": "too expensive"}),
    ]
    assert result.problems == (
        ImportProblem("D4", 5, "no_dates", "deal 'D4': no stage date at all; skipped"),
    )
    assert result.counts() == {"no_dates": 1}


def test_stage_table_strict_raises_at_first_problem() -> None:
    """strict=True raises DataError naming the file, line and rule of the first problem."""
    with pytest.raises(
        DataError, match=r"^table\.csv, line 5: deal 'D4': no stage date .*'no_dates'"
    ):
        import_table(strict=True)
    ok = TABLE.replace("D4,Prospecting,,,,cid,\n", "")
    assert import_table(ok, strict=True).problems == ()


@pytest.mark.parametrize(
    ("row", "rule", "field"),
    [
        ("D5,Won,2024-01-02,someday,5,ann,", "date", "closed"),
        ("D5,Won,2024-01-02,,5,ann,", "no_close_date", "closed"),
        ("D5,Engaging,2024-01-02,2024-01-09,5,ann,", "status_mismatch", "closed"),
        ("D5,Stalled,2024-01-02,,5,ann,", "unknown_status", "stage"),
        ("D5,Won,2024-01-09,2024-01-02,5,ann,", "time", "closed"),
        ("D5,Engaging,2024-01-02,,lots,ann,", "amount", "value"),
        ("D5,Engaging,2024-01-02,,nan,ann,", "amount", "value"),
        (",Won,2024-01-02,2024-01-09,5,ann,", "no_id", "id"),
        ("D1,Won,2024-01-02,2024-01-09,5,ann,", "duplicate_id", "id"),
        ("D5,Won,2024-01-02", "columns", None),
        ("D5,Prospecting,2024-01-02,,5,ann,", "status_mismatch", "stage"),
    ],
)
def test_stage_table_problems(row: str, rule: str, field: str | None) -> None:
    """Each kind of bad row is reported leniently and raised strictly, naming the column."""
    text = TABLE.replace("D4,Prospecting,,,,cid,\n", row + "\n")
    result = import_table(text)
    assert [p.rule for p in result.problems] == [rule]
    assert result.problems[0].row == 5
    small().replay(result.events)  # whatever was kept is a valid log
    where = r"table\.csv, line 5" + (f", field '{field}'" if field else "")
    with pytest.raises(DataError, match=rf"^{where}: .*\(rule '{rule}'\)"):
        import_table(text, strict=True)


def test_stage_table_disallowed_move_is_skipped() -> None:
    """A move the pipeline forbids is reported as move_not_allowed and left out."""
    strict_graph = Pipeline(
        "strict",
        [
            Stage("prospecting"),
            Stage("engaging"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        transitions=[("prospecting", "engaging"), ("engaging", "won")],
    )
    text = "id,p,w\nD1,2024-01-01,2024-01-05\n"
    result = read_stage_table(
        io.StringIO(text),
        strict_graph,
        id_column="id",
        stage_columns={"p": "prospecting", "w": "won"},
    )
    assert [p.rule for p in result.problems] == ["move_not_allowed"]
    assert "allowed next: engaging, lost" in result.problems[0].message
    assert strict_graph.replay(result.events)["D1"].stage == "prospecting"


def test_stage_table_opened_column_and_formats() -> None:
    """opened_column sets the opening time; date_format and tz read local dates."""
    text = "id,created,e\nD1,01/01/2024 08:00,05/01/2024 09:30\n"
    tz = timezone(timedelta(hours=2))
    result = read_stage_table(
        io.StringIO(text),
        small(),
        id_column="id",
        stage_columns={"e": "engaging"},
        opened_column="created",
        date_format="%d/%m/%Y %H:%M",
        tz=tz,
    )
    events = result.events
    assert [(e.kind, e.stage, e.at) for e in events] == [
        ("opened", None, datetime(2024, 1, 1, 6, tzinfo=UTC)),
        ("stage_entered", "prospecting", datetime(2024, 1, 1, 6, tzinfo=UTC)),
        ("stage_entered", "engaging", datetime(2024, 1, 5, 7, 30, tzinfo=UTC)),
    ]


def test_stage_table_bad_configuration() -> None:
    """Unknown stages in a mapping raise UnknownStageError; missing columns raise DataError."""
    with pytest.raises(UnknownStageError, match="nowhere"):
        import_table(stage_columns={"engaged": "nowhere"})
    with pytest.raises(UnknownStageError, match="gone"):
        import_table(status_map={"Won": "gone"})
    with pytest.raises(DataError, match=r"line 1, field 'missing': the header has no column"):
        import_table(amount_column="missing")
    with pytest.raises(TypeError, match="not a string"):
        import_table(attribute_columns="rep")


def test_stage_table_status_without_map_uses_stage_names() -> None:
    """Without status_map a status must be a stage name."""
    text = "id,s,e,c\nD1,won,2024-01-01,2024-01-02\nD2,Won,2024-01-01,2024-01-02\n"
    result = read_stage_table(
        io.StringIO(text),
        small(),
        id_column="id",
        stage_columns={"e": "engaging"},
        status_column="s",
        close_column="c",
    )
    assert [p.rule for p in result.problems] == ["unknown_status"]
    assert {d: x.stage for d, x in small().replay(result.events).items()} == {
        "D1": "won",
        "D2": "engaging",
    }


@pytest.mark.skipif(not MAVEN.exists(), reason="the Maven data set is not beside the repo")
def test_maven_import_onto_small_pipeline() -> None:
    """The Maven CRM table imports: 8,300 dated deals, 500 undated prospects reported."""
    result = read_stage_table(
        MAVEN,
        small(),
        id_column="opportunity_id",
        stage_columns={"engage_date": "engaging"},
        status_column="deal_stage",
        status_map={
            "Prospecting": "prospecting",
            "Engaging": "engaging",
            "Won": "won",
            "Lost": "lost",
        },
        close_column="close_date",
        amount_column="close_value",
        attribute_columns={"sales_agent": "owner", "product": "product", "account": "account"},
    )
    assert (result.rows, result.deals) == (8800, 8300)
    assert result.counts() == {"no_dates": 500}
    deals = small().replay(result.events, strict=True)
    assert Counter(d.stage for d in deals.values()) == {"won": 4238, "lost": 2473, "engaging": 1589}


@pytest.mark.skipif(not MAVEN.exists(), reason="the Maven data set is not beside the repo")
def test_maven_import_onto_a_preset() -> None:
    """The Maven table maps onto the classic B2B preset too (engaging as demo completed)."""
    pipeline = presets.classic_b2b()
    result = read_stage_table(
        MAVEN,
        pipeline,
        id_column="opportunity_id",
        stage_columns={"engage_date": "demo_completed"},
        status_column="deal_stage",
        status_map={
            "Prospecting": "lead_generated",
            "Engaging": "demo_completed",
            "Won": "closed_won",
            "Lost": "closed_lost",
        },
        close_column="close_date",
        amount_column="close_value",
    )
    deals = pipeline.replay(result.events)
    assert len(deals) == 8300
    assert sum(d.outcome == "won" for d in deals.values()) == 4238


# ---------------------------------------------------------------------- Salesforce
HISTORY = """OpportunityId,CreatedDate,StageName,Amount,CloseDate,Probability,Owner
006A,2024-01-01T09:00:00.000+0000,Prospecting,1000,2024-03-31,10,ann
006B,2024-01-02T09:00:00.000+0000,Prospecting,500,2024-04-30,10,bob
006A,2024-01-05T10:00:00.000+0000,Qualification,1200,2024-03-31,20,ann
006A,2024-01-03T10:00:00.000+0000,Qualification,1000,2024-03-31,20,ann
006A,2024-02-01T10:00:00.000+0000,Closed Won,1300,2024-02-01,100,ann
006B,2024-01-09T09:00:00.000+0000,Closed Lost,500,2024-04-30,0,bob
"""
STAGE_MAP = {
    "Prospecting": "prospecting",
    "Qualification": "engaging",
    "Closed Won": "won",
    "Closed Lost": "lost",
}


def history(text: str = HISTORY) -> io.StringIO:
    """A history stream named ``history.csv``."""
    f = io.StringIO(text, newline="")
    f.name = "history.csv"
    return f


def test_opportunity_history_rows_become_events() -> None:
    """Stage changes become stage_entered, amount / close date changes become updated."""
    result = read_opportunity_history(
        history(), small(), stage_map=STAGE_MAP, attribute_columns={"Owner": "owner"}
    )
    assert (result.rows, result.deals, result.problems) == (6, 2, ())
    deals = small().replay(result.events)
    a = [(e.kind, e.stage, dict(e.data)) for e in deals["006A"].events]
    assert a == [
        ("opened", None, {"amount": 1000, "close_date": "2024-03-31", "owner": "ann"}),
        ("stage_entered", "prospecting", {}),
        ("stage_entered", "engaging", {}),  # sorted by CreatedDate: Jan 3 before Jan 5
        ("updated", "engaging", {"amount": 1200}),
        ("updated", "engaging", {"amount": 1300, "close_date": "2024-02-01"}),
        ("stage_entered", "won", {}),
    ]
    assert deals["006B"].stage == "lost"
    assert deals["006A"].events[0].at == datetime(2024, 1, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "rule", "field"),
    [
        (
            "006A,2024-02-02T00:00:00Z,Negotiation,1300,2024-02-01,90,ann",
            "unknown_stage",
            "StageName",
        ),
        (
            "006A,2024-02-02T00:00:00Z,Qualification,1300,2024-02-01,90,ann",
            "after_won",
            "StageName",
        ),
        ("006A,yesterday,Qualification,1300,2024-02-01,90,ann", "date", "CreatedDate"),
        (
            "006A,2024-01-10T00:00:00Z,Prospecting,1000,2024-03-31,10,ann",
            "move_not_allowed",
            "StageName",
        ),
        ("006A,2024-02-02T00:00:00Z,Closed Won,lots,2024-02-01,90,ann", "amount", "Amount"),
        ("006A,2024-02-02T00:00:00Z,Closed Won,1300,soon,90,ann", "date", "CloseDate"),
        (",2024-02-02T00:00:00Z,Closed Won,1300,2024-02-01,90,ann", "no_id", "OpportunityId"),
        ("006A,2024-02-02T00:00:00Z", "columns", None),
    ],
)
def test_opportunity_history_problems(row: str, rule: str, field: str | None) -> None:
    """Each kind of bad history row is reported leniently and raised strictly."""
    text = HISTORY + row + "\n"
    result = read_opportunity_history(history(text), small(), stage_map=STAGE_MAP)
    assert [p.rule for p in result.problems] == [rule]
    assert result.problems[0].row == 8
    small().replay(result.events)
    where = r"history\.csv, line 8" + (f", field '{field}'" if field else "")
    with pytest.raises(DataError, match=rf"^{where}: .*\(rule '{rule}'\)"):
        read_opportunity_history(history(text), small(), stage_map=STAGE_MAP, strict=True)


def test_opportunity_history_first_row_unknown_stage_skipped() -> None:
    """An opportunity whose first row has an unmapped stage starts at its next usable row."""
    text = HISTORY + "006C,2024-01-01T00:00:00Z,Legacy,1,2024-01-01,1,x\n"
    text += "006C,2024-01-02T00:00:00Z,Qualification,1,2024-01-01,1,x\n"
    result = read_opportunity_history(history(text), small(), stage_map=STAGE_MAP)
    assert [p.rule for p in result.problems] == ["unknown_stage"]
    assert "row skipped" in result.problems[0].message
    assert small().replay(result.events)["006C"].stage == "engaging"


def test_opportunity_history_opens_in_a_closed_stage_via_the_first() -> None:
    """A history starting closed opens in the first stage and moves at once."""
    text = "OpportunityId,CreatedDate,StageName\n006Z,2024-01-01,Closed Lost\n"
    result = read_opportunity_history(
        history(text),
        small(),
        stage_map=STAGE_MAP,
        amount_column=None,
        close_date_column=None,
    )
    assert [(e.kind, e.stage) for e in result.events] == [
        ("opened", None),
        ("stage_entered", "prospecting"),
        ("stage_entered", "lost"),
    ]


def test_opportunity_history_lost_reason() -> None:
    """lost_reason_column lands in the lost stage's event data."""
    text = "OpportunityId,CreatedDate,StageName,Reason\n"
    text += "1,2024-01-01,Prospecting,\n1,2024-01-02,Closed Lost,price\n"
    result = read_opportunity_history(
        history(text),
        small(),
        stage_map=STAGE_MAP,
        amount_column=None,
        close_date_column=None,
        lost_reason_column="Reason",
    )
    assert dict(result.events[-1].data) == {"reason": "price"}


def test_opportunity_history_bad_configuration() -> None:
    """A stage_map naming an unknown stage, or a missing column, is refused up front."""
    with pytest.raises(UnknownStageError, match="negotiation"):
        read_opportunity_history(history(), small(), stage_map={"X": "negotiation"})
    with pytest.raises(DataError, match=r"line 1, field 'Reason': the header has no column"):
        read_opportunity_history(
            history(), small(), stage_map=STAGE_MAP, lost_reason_column="Reason"
        )


def test_io_public_surface_is_exact_and_documented() -> None:
    """salesstages.io exports a sorted __all__ of documented names, and nothing else public."""
    import inspect

    import salesstages.io as module

    assert list(module.__all__) == sorted(module.__all__)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(module.__all__)
    for name in module.__all__:
        assert inspect.getdoc(getattr(module, name)), name


def test_import_result_helpers() -> None:
    """batches() groups the events by deal; counts() tallies problems, most frequent first."""
    result = import_table(TABLE + "D6,Prospecting,,,,x,\nD7,Won,2024-01-01,,1,y,\n")
    assert [b[0].deal_id for b in result.batches()] == ["D1", "D2", "D3", "D7"]
    assert all(e.deal_id == b[0].deal_id for b in result.batches() for e in b)
    assert result.counts() == {"no_dates": 2, "no_close_date": 1}


@pytest.mark.parametrize("write", [write_jsonl, write_csv])
def test_writers_refuse_data_json_cannot_hold(write: object) -> None:
    """An event whose data is not JSON raises ValueError naming the deal and seq."""
    bad = Event(deal_id="A", seq=0, at=T0, kind="opened", data={"when": T0})
    with pytest.raises(ValueError, match=r"deal 'A', seq 0: data is not JSON"):
        write([bad], io.StringIO())  # type: ignore[operator]
