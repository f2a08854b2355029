"""Imports, grouping and messages (issue 23, items 6 and 7): a stray quote costs only
its own row, ``--targets`` reads with the importers' reader, an unhashable ``by=``
value is one line, and each misleading message says what is wrong and where."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from _cli_data import Runner, cli_error
from salesstages import DataError
from salesstages._stores import JsonlStore
from salesstages.cli import main
from salesstages.io import read_stage_table, write_jsonl
from salesstages.metrics import win_rate
from salesstages.presets import classic_b2b
from salesstages.testing._store_suite import opening

STAGE_TABLE: dict[str, Any] = {
    "id_column": "id",
    "opened_column": "created",
    "stage_columns": {},
    "status_column": "status",
    "status_map": {"Open": "lead_generated"},
}


def _table(rows: int, bad: dict[int, str]) -> str:
    lines = ["id,created,status"] + [f"A-{i},2026-01-05,Open" for i in range(rows)]
    for i, text in bad.items():
        lines[i] = text
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('A-4,"2026-01-05,Open', "a quote opens a cell that never closes"),  # 128 KiB later
        ('A-4,2026-01-05,"Open', "a quote opens a cell that never closes"),
    ],
)
def test_a_stray_quote_costs_only_its_row(bad: str, reason: str) -> None:
    """Of 20,000 rows, only the one holding a stray quote is skipped, and the problem
    names it (before: the import aborted, or 14,999 rows vanished)."""
    result = read_stage_table(io.StringIO(_table(20_000, {5: bad})), classic_b2b(), **STAGE_TABLE)
    assert result.deals == 19_999
    assert [(p.row, p.rule) for p in result.problems] == [(6, "stray_quote")]
    assert reason in result.problems[0].message
    assert "line 6 skipped, reading resumed at line 7" in result.problems[0].message


def test_a_quoted_cell_over_several_lines_still_reads() -> None:
    """A well-formed quoted cell holding a line break is not a stray quote."""
    text = 'id,created,status,note\nA-1,2026-01-05,Open,"two\nlines"\nA-2,2026-01-05,Open,x\n'
    result = read_stage_table(
        io.StringIO(text), classic_b2b(), **STAGE_TABLE, attribute_columns=["note"]
    )
    assert result.deals == 2
    assert not result.problems


def test_strict_import_still_stops_at_a_stray_quote() -> None:
    """With strict=True a stray quote is a DataError naming the line."""
    with pytest.raises(DataError, match="line 6"):
        read_stage_table(
            io.StringIO(_table(20, {5: 'A-4,2026-01-05,"Open'})),
            classic_b2b(),
            strict=True,
            **STAGE_TABLE,
        )


# ------------------------------------------------------------------ --targets
def _events(tmp: Path) -> Path:
    path = tmp / "log.jsonl"
    deal = classic_b2b().open_deal("D1", at=datetime(2026, 1, 5, tzinfo=UTC), owner="ann")
    write_jsonl(deal.events, path)
    return path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read the targets file (No such file or directory); check the path"),
        ("owner,target\nann," + "9" * 200_000 + "\n", "larger than 131,072 characters"),
        ('owner,target\n"ann,5\n', "bad CSV"),
    ],
    ids=["missing", "a cell over 128 KiB", "a stray quote"],
)
def test_targets_read_like_an_import(
    tmp_path: Path, run: Runner, content: str | None, words: str
) -> None:
    """--targets: a missing file, an oversized cell or a broken quote is one line naming
    the file (before: a bare [Errno 2] or a _csv.Error traceback)."""
    targets = tmp_path / "targets.csv"
    if content is not None:
        targets.write_text(content, encoding="utf-8")
    err = cli_error(
        run("report", str(_events(tmp_path)), "-p", "classic_b2b", "--period", "2026-Q1",
            "--targets", str(targets))
    )  # fmt: skip
    assert "targets.csv" in err
    assert words in err


# ------------------------------------------------------------------ by=
def test_by_an_attribute_holding_dicts_is_one_data_error() -> None:
    """Segmenting on an attribute holding an object is a DataError naming it."""
    deal = classic_b2b().open_deal("D1", at=datetime(2026, 1, 5, tzinfo=UTC), owner={"a": 1})
    with pytest.raises(DataError, match=r"by='owner': deal 'D1' has owner=\{'a': 1\}, a dict"):
        win_rate(list(deal.events), classic_b2b(), by="owner")


# ------------------------------------------------------------------ messages
def test_a_jsonl_store_named_csv_is_read_as_a_store(tmp_path: Path, run: Runner) -> None:
    """A JsonlStore file named .csv is read as the store it is (before: "the column
    appears twice")."""
    path = tmp_path / "store.csv"
    with JsonlStore(path, fsync=False) as store:
        store.append(opening("D1"))
    _, _, err = run("check", str(path), "-p", "classic_b2b")
    assert "appears twice" not in err
    assert "the log's stages are not the pipeline's" in err  # read, then judged


def test_a_huge_integer_in_a_pipeline_file_names_the_file(tmp_path: Path, run: Runner) -> None:
    """A 100,000-digit integer in a pipeline file: one line naming the file."""
    path = tmp_path / "p.json"
    path.write_text('{"name": "p", "stages": [], "x": ' + "9" * 100_000 + "}", encoding="utf-8")
    err = cli_error(run("diagram", "-p", str(path)))
    assert "pipeline file" in err
    assert "p.json" in err


def test_a_10000_character_tz_is_not_a_time_zone(tmp_path: Path, run: Runner) -> None:
    """A 10,000-character tz says it is not a time zone (before: File name too long)."""
    table = tmp_path / "t.csv"
    table.write_text(_table(2, {}), encoding="utf-8")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps(STAGE_TABLE | {"tz": "x" * 10_000}), encoding="utf-8")
    err = cli_error(
        run("import", "stage-table", str(table), "-p", "classic_b2b", "-m", str(mapping),
            "-o", str(tmp_path / "out.jsonl"))
    )  # fmt: skip
    assert "is not a time zone" in err
    assert "(10,000 characters)" in err
    assert "too long" not in err


def test_check_against_the_wrong_pipeline_is_one_line(tmp_path: Path, run: Runner) -> None:
    """check with a pipeline none of whose stages the log enters says so in one line
    (before: a problem per event, some of them false)."""
    path = tmp_path / "log.jsonl"
    write_jsonl([e for i in range(50) for e in opening(f"D{i}")], path)
    err = cli_error(run("check", str(path), "-p", "classic_b2b"))
    assert "the log's stages are not the pipeline's: it enters 'lead'" in err
    assert "is this the pipeline the log was written with?" in err


def test_check_still_lists_a_few_unknown_stages(tmp_path: Path, run: Runner) -> None:
    """A log of the right pipeline with one unknown stage still lists it as a problem."""
    from salesstages import Event

    deal = classic_b2b().open_deal("D1", at=datetime(2026, 1, 5, tzinfo=UTC))
    events = [
        *deal.events,
        Event(deal_id="D1", seq=2, at=datetime(2026, 1, 7, tzinfo=UTC), kind="stage_entered",
              stage="nowhere"),
    ]  # fmt: skip
    path = tmp_path / "log.jsonl"
    write_jsonl(events, path)
    status, out, _ = run("check", str(path), "-p", "classic_b2b")
    assert status == 1
    assert "unknown_stage" in out


def test_a_mistyped_option_shows_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """--peroid: the report's own usage and the closest option (before: the top-level
    usage)."""
    with pytest.raises(SystemExit) as info:
        main(["report", "x.jsonl", "-p", "classic_b2b", "--peroid", "2026-Q1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: salesstages report")
    assert "salesstages report: error: unrecognized arguments: --peroid 2026-Q1" in err
    assert "did you mean --period?" in err


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_by_an_object_is_one_line_on_both_engines(tmp_path: Path, run: Runner, engine: str) -> None:
    """`report --by owner` where an owner is an object: one error line on either engine
    (before: a TypeError traceback on the Python engine)."""
    pytest.importorskip("pyarrow")
    if engine == "duckdb":
        pytest.importorskip("duckdb")
    from salesstages import Event
    from salesstages.io import write_parquet

    events: list[Event] = []
    for i, owner in enumerate([{"a": 1}, "x"]):
        deal = classic_b2b().open_deal(f"D{i}", at=datetime(2026, 1, 5, tzinfo=UTC), owner=owner)
        events += deal.events
    path = tmp_path / "log.parquet"
    write_parquet(events, path)
    err = cli_error(
        run("report", str(path), "-p", "classic_b2b", "--by", "owner", "--engine", engine)
    )
    assert "by='owner'" in err
