"""Bad input at the command line (issue 12, items 1, 5-7, 9, 12): pipeline files
within limits, honest messages, terminal-safe output, and fuzzed files that only
ever exit 0, 1 or 2."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesstages import Pipeline, PipelineError, SalesStagesError, Stage
from salesstages._stores import JsonlStore, SqliteStore
from salesstages.cli import main
from salesstages.cli._spec import load_pipeline
from salesstages.presets import classic_b2b
from salesstages.testing._store_suite import opening

MAX_FILE_BYTES, MAX_NESTING, MAX_STAGES = 1 << 20, 64, 500  # CONTRACT section 12

Run = tuple[int, str, str]


def run(*argv: str) -> Run:
    """Run the command line in this process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def error_line(result: Run) -> str:
    """The one error line of a run that exited 2."""
    status, out, err = result
    assert status == 2, (status, out, err)
    assert err.startswith("salesstages: error: "), err
    assert err.count("\n") == 1, err
    return err


def plain_pipeline_dict(stages: int = 2) -> dict[str, object]:
    """A pipeline in to_dict form with ``stages`` open stages, won and lost."""
    names = [{"name": f"s{i}"} for i in range(stages)]
    return {
        "name": "p",
        "stages": [*names, {"name": "won", "outcome": "won"}, {"name": "lost", "outcome": "lost"}],
    }


def store_with_deals(path: Path, deals: int = 4) -> None:
    """A SQLite store with deals D0.. of two events each (classic_b2b's first stage)."""
    with SqliteStore(path, synchronous="NORMAL") as store:
        for i in range(deals):
            store.append(opening(f"D{i}", minutes=i))


# -------------------------------------------------------------- item 1: check
def test_check_on_a_store_missing_a_deals_row_exits_2(tmp_path: Path) -> None:
    """`check` on a store whose deals row is gone names the deal instead of passing."""
    path = tmp_path / "store.db"
    store_with_deals(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TRIGGER deals_no_delete")
        conn.execute("DELETE FROM deals WHERE deal_id = 'D1'")
        conn.commit()
    err = error_line(run("check", str(path), "-p", "classic_b2b"))
    assert "store.db" in err
    assert "deal 'D1' has 2 events in the events table but 0 read" in err
    err = error_line(run("report", str(path), "-p", "classic_b2b"))
    assert "deal 'D1'" in err


def test_check_runs_integrity_check(tmp_path: Path) -> None:
    """`check` on a store reports what PRAGMA integrity_check finds, and exits 2."""
    path = tmp_path / "store.db"
    store_with_deals(path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'UNIQUE CHECK', 'CHECK') "
            "WHERE name = 'events'"
        )
        conn.commit()
    err = error_line(run("check", str(path), "-p", "classic_b2b"))
    assert "PRAGMA integrity_check finds the database damaged" in err
    assert "store.db" in err


# -------------------------------------------------------- item 12: torn tail
def test_torn_tail_is_a_warning_for_check_and_report(tmp_path: Path) -> None:
    """A torn last line of a JSONL store is skipped with a warning line; the exit status
    stays what it would be."""
    path = tmp_path / "store.jsonl"
    with JsonlStore(path, fsync=False) as store:
        classic_b2b().open_deal("D0", at=datetime(2026, 1, 5, tzinfo=UTC), store=store)
    before = run("check", str(path), "-p", "classic_b2b")
    assert before[2] == ""
    with path.open("a", encoding="utf-8") as f:
        f.write('["D1",0,"2024-01-0')  # 18 bytes, an append cut short
    status, out, err = run("check", str(path), "-p", "classic_b2b")
    assert (status, out) == before[:2]
    assert err == (
        "salesstages: warning: store.jsonl: skipped its torn last line (18 bytes without a "
        "newline: an append that had not finished, or one a crash cut short)\n"
    )
    status, out, err = run("report", str(path), "-p", "classic_b2b", "-f", "json")
    assert status == 0
    assert json.loads(out)["source"] == "store.jsonl"
    assert err.startswith("salesstages: warning: store.jsonl: skipped its torn last line")


# ------------------------------------------------------ item 9: the messages
def test_json_nested_too_deep_is_not_called_yaml(tmp_path: Path) -> None:
    """JSON or TOML nested too deeply says so, naming the file, not "not valid YAML"."""
    cases = {
        "deep.json": '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "shallow_but_65.json": '{"name": ' + "[" * 64 + "]" * 64 + "}",
        "deep.toml": "name = " + "[" * 5_000 + "]" * 5_000 + "\n",
        "deep.yaml": "name: " + "[" * 100 + "]" * 100 + "\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(PipelineError, match=f"nests deeper than {MAX_NESTING}") as info:
            load_pipeline(str(path))
        assert isinstance(info.value, ValueError)
        assert name in str(info.value)
        assert "YAML" not in str(info.value) or name.endswith(".yaml")
        err = error_line(run("diagram", "-p", str(path)))
        assert "nests deeper than 64 levels" in err


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    """64 levels (the top-level table counts as one) are read; the error is then about
    the content, not the nesting."""
    path = tmp_path / "p.json"
    path.write_text('{"name": ' + "[" * 63 + "]" * 63 + "}", encoding="utf-8")
    with pytest.raises(PipelineError) as info:
        load_pipeline(str(path))
    assert "nests" not in str(info.value)


def sqlite_store_bytes(tmp: Path) -> bytes:
    """The bytes of a small valid SQLite store."""
    path = tmp / "seed.db"
    store_with_deals(path)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "damage", "expected"),
    [
        ("zeroed.sqlite3", "zero header", "damaged"),
        ("zeroed.bin", "zero header", "if it is a SQLite store, its header is damaged"),
        ("cut.sqlite3", "truncate", "damaged"),
        ("cut.db", "truncate small", "damaged"),
    ],
)
def test_damaged_sqlite_files_are_called_damaged(
    tmp_path: Path, name: str, damage: str, expected: str
) -> None:
    """A zeroed header or a truncated SQLite file is called damaged, not "not UTF-8 text"
    nor "a SQLite file without a salesstages store"."""
    data = sqlite_store_bytes(tmp_path)
    if damage == "zero header":
        data = bytes(100) + data[100:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = data[:50]
    path = tmp_path / name
    path.write_bytes(data)
    for command in ("check", "report"):
        err = error_line(run(command, str(path), "-p", "classic_b2b"))
        assert expected in err
        assert name in err
        assert "not UTF-8" not in err
        assert "without a salesstages store" not in err


def test_a_foreign_sqlite_file_is_still_called_foreign(tmp_path: Path) -> None:
    """A sound SQLite file without the store's tables keeps its own message."""
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    err = error_line(run("check", str(path), "-p", "classic_b2b"))
    assert "a SQLite file without a salesstages store in it" in err


@pytest.mark.parametrize("flag", ["allow_skip", "allow_regress", "allow_reopen", "auto_advance"])
@pytest.mark.parametrize("value", ["no", "false", 0, 1, None, [True]])
def test_flags_must_be_booleans(flag: str, value: object) -> None:
    """A pipeline flag that is not true or false is refused naming the flag; "no" used to
    become True."""
    d = plain_pipeline_dict()
    d[flag] = value
    with pytest.raises(PipelineError, match=f"'{flag}' must be true or false") as info:
        Pipeline.from_dict(d)
    assert isinstance(info.value, ValueError)


def test_flag_in_a_yaml_file(tmp_path: Path) -> None:
    """`allow_skip: "no"` in a YAML pipeline file exits 2 naming the file and the flag."""
    path = tmp_path / "p.yaml"
    path.write_text(
        'name: p\nallow_skip: "no"\nstages:\n  - name: a\n'
        "  - {name: won, outcome: won}\n  - {name: lost, outcome: lost}\n",
        encoding="utf-8",
    )
    err = error_line(run("diagram", "-p", str(path)))
    assert "p.yaml" in err
    assert "'allow_skip' must be true or false, got 'no'" in err


# ---------------------------------------------------- item 7: pipeline limits
ALIAS_BOMB = (
    "name: p\nstages:\n  - name: a\n    entry:\n      type: activity\n      name: x\n"
    "      match:\n"
    '        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "  - {name: won, outcome: won}\n  - {name: lost, outcome: lost}\n"
)


def limit_cases() -> dict[str, tuple[str, str]]:
    """File name → (content, what the error says), one per limit of CONTRACT section 12."""
    many = plain_pipeline_dict(MAX_STAGES - 1)  # + won + lost = 501 stages
    return {
        "big.json": (
            json.dumps(plain_pipeline_dict()) + " " * MAX_FILE_BYTES,
            "larger than 1 MiB",
        ),
        "deep.json": ('{"a": ' + "[" * 64 + "]" * 64 + "}", "nests deeper than 64 levels"),
        "bomb.yaml": (ALIAS_BOMB, "line 8: uses a YAML anchor or alias"),
        "anchor.yaml": ("name: &n p\nstages: []\n", "line 1: uses a YAML anchor or alias"),
        "alias.yaml": ("name: p\nstages: *s\n", "uses a YAML anchor or alias"),
        "many.json": (json.dumps(many), "defines 501 stages, more than the 500"),
        "many.toml": (
            'name = "p"\n'
            + "".join(f'[[stages]]\nname = "s{i}"\n' for i in range(501))
            + '[[stages]]\nname = "won"\noutcome = "won"\n',
            "defines 502 stages",
        ),
        "substates.json": (
            json.dumps(
                {
                    "name": "p",
                    "stages": [
                        {"name": "s", "substates": [f"x{i}" for i in range(10_000)]},
                        {"name": "won", "outcome": "won"},
                        {"name": "lost", "outcome": "lost"},
                    ],
                }
            ),
            "stage 's' has more than 100 sub-states, the limit",
        ),
    }


@pytest.mark.parametrize("name", sorted(limit_cases()))
def test_pipeline_file_limits(tmp_path: Path, name: str) -> None:
    """A pipeline file past a limit is refused with PipelineError naming the file,
    quickly (the 680-byte alias bomb fails at its first anchor)."""
    content, expected = limit_cases()[name]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(PipelineError, match=expected) as info:
        load_pipeline(str(path))
    assert time.perf_counter() - started < 1.0
    assert isinstance(info.value, ValueError)
    assert name in str(info.value)
    err = error_line(run("diagram", "-p", str(path)))
    assert expected in err


def test_alias_bomb_is_small() -> None:
    """The bomb of the issue: under 700 bytes, 9**9 strings if expanded."""
    assert len(ALIAS_BOMB.encode()) < 700


def test_mapping_files_have_the_same_limits(tmp_path: Path) -> None:
    """An importer's mapping file is read with the same limits (a DataError naming it)."""
    path = tmp_path / "m.yaml"
    path.write_text("id_column: &x id\nstatus_column: *x\n", encoding="utf-8")
    err = error_line(
        run("import", "stage-table", str(path), "-p", "classic_b2b", "-m", str(path), "-o", "x.csv")
    )
    assert "m.yaml" in err
    assert "uses a YAML anchor or alias" in err


def test_500_stages_load_quickly(tmp_path: Path) -> None:
    """The largest pipeline file allowed builds in well under a second, skips and
    regressions allowed (the move table has 500² entries)."""
    d = plain_pipeline_dict(MAX_STAGES - 2)  # 498 open + won + lost = 500
    d["allow_regress"] = True
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    started = time.perf_counter()
    pipeline = load_pipeline(str(path))
    elapsed = time.perf_counter() - started
    assert len(pipeline.stages) == MAX_STAGES
    # s0 may move to s1..s497 (497), won and lost: 499 targets.
    assert len(pipeline.targets("s0")) == 499
    assert pipeline.allowed("s400", "s3")
    assert elapsed < 0.5, elapsed


def test_a_pipeline_built_in_code_has_the_same_stage_limit() -> None:
    """The stage limit holds in Python too (issue 23): 501 stages are refused."""
    stages = [Stage(f"s{i}") for i in range(499)]
    with pytest.raises(PipelineError, match="more than 500 stages, the limit"):
        Pipeline("big", [*stages, Stage("won", outcome="won"), Stage("lost", outcome="lost")])


# ------------------------------------------------- items 5 and 6 in the CLI
def test_import_problems_csv_is_spreadsheet_safe(tmp_path: Path) -> None:
    """Every cell `import --problems` writes is neutralised: a deal id or message that
    starts like a formula gets a leading quote."""
    table = tmp_path / "t.csv"
    table.write_text(
        'id,created,status\n"=HYPERLINK(""http://x"")",2026-01-05,Open\n@SUM(A1),not a date,Open\n',
        encoding="utf-8",
    )
    mapping = tmp_path / "m.json"
    mapping.write_text(
        json.dumps(
            {
                "id_column": "id",
                "opened_column": "created",
                "stage_columns": {},
                "status_column": "status",
                "status_map": {"Open": "lead_generated", "Gone": "closed_lost"},
            }
        ),
        encoding="utf-8",
    )
    problems = tmp_path / "problems.csv"
    status, _, err = run(
        "import", "stage-table", str(table), "-p", "classic_b2b", "-m", str(mapping),
        "-o", str(tmp_path / "out.csv"), "--problems", str(problems),
    )  # fmt: skip
    assert status == 0, err
    with problems.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["deal_id", "row", "rule", "message"]
    cells = [c for r in rows[1:] for c in r]
    assert any(c.startswith("'@SUM") for c in cells), rows
    assert not any(c[:1] in "=+-@\t\r" for c in cells if c), rows


@pytest.mark.parametrize("exists", [True, False])
def test_error_messages_escape_control_characters(tmp_path: Path, exists: bool) -> None:
    """An error naming a file with terminal escapes prints them escaped (a DataError
    names the file as it is, without repr)."""
    name = "evil\x1b]0;pwned\x07\x1b[2J.jsonl"
    if exists:
        (tmp_path / name).write_text("not json\n", encoding="utf-8")
    err = error_line(run("check", str(tmp_path / name), "-p", "classic_b2b"))
    assert "\x1b" not in err
    assert "\x07" not in err
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J.jsonl" in err


def test_check_output_escapes_deal_ids(tmp_path: Path) -> None:
    """`check` lists problems of a deal whose id holds escapes with them escaped."""
    path = tmp_path / "e.jsonl"
    deal = "D\x1b[2J\u202e"
    path.write_text(
        json.dumps({"deal_id": deal, "seq": 0, "at": "2026-01-05T00:00:00+00:00", "kind": "opened"})
        + "\n",
        encoding="utf-8",
    )
    status, out, err = run("check", str(path), "-p", "classic_b2b")
    assert status == 1, err
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert "D\\x1b[2J\\u202e" in out


def test_pipeline_name_is_escaped_in_check(tmp_path: Path) -> None:
    """The pipeline's name, read from a file, is escaped in the summary line."""
    d = plain_pipeline_dict()
    d["name"] = "p\x1b[31m"
    pipe = tmp_path / "p.json"
    pipe.write_text(json.dumps(d), encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text("", encoding="utf-8")
    status, out, _ = run("check", str(events), "-p", str(pipe))
    assert status == 0
    assert "\x1b" not in out
    assert "p\\x1b[31m" in out


# ------------------------------------------------------------ CLI fuzzing
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def seeds() -> dict[str, bytes]:
    """A valid file of each kind the CLI reads (JSON Lines and CSV events, both stores,
    a stage table, pipeline files), to cut and corrupt."""
    events = (
        '{"deal_id":"D","seq":0,"at":"2026-01-05T09:00:00+00:00","kind":"opened",'
        '"data":{"amount":100,"owner":"ana"}}\n'
        '{"deal_id":"D","seq":1,"at":"2026-01-05T09:00:00+00:00","kind":"stage_entered",'
        '"stage":"lead_generated"}\n'
        '{"deal_id":"D","seq":2,"at":"2026-01-06T09:00:00+00:00","kind":"stage_entered",'
        '"stage":"closed_lost","data":{"reason":"price"}}\n'
    )
    store = (
        '[["D",0,"2026-01-05T09:00:00+00:00","opened",null,null,{"amount":100}],'
        '["D",1,"2026-01-05T09:00:00+00:00","stage_entered","lead_generated",null,{}]]\n'
        '["D",2,"2026-01-06T09:00:00+00:00","activity","lead_generated","call",{}]\n'
    )
    table = (
        "id,created,status,closed,amount\n"
        "A,2026-01-05,Won,2026-02-01,100\n"
        "B,2026-01-06,Lost,2026-01-09,20\n"
    )
    d = classic_b2b().to_dict()
    toml_text = 'name = "t"\nallow_skip = true\n' + "".join(
        f'[[stages]]\nname = "{s.name}"\noutcome = "{s.outcome}"\n' for s in classic_b2b().stages
    )
    yaml_text = "name: y\nstages:\n" + "".join(
        f"  - {{name: {s.name}, outcome: {s.outcome}}}\n" for s in classic_b2b().stages
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.db"
        with SqliteStore(db, synchronous="NORMAL") as sqlite_store:
            classic_b2b().open_deal("D", at=datetime(2026, 1, 5, tzinfo=UTC), store=sqlite_store)
        sqlite_data = db.read_bytes()
    return {
        "store.db": sqlite_data,
        "events.jsonl": events.encode(),
        "events.csv": (
            b"deal_id,seq,at,kind,stage,name,data\n"
            b"D,0,2026-01-05T09:00:00+00:00,opened,,,{}\n"
            b"D,1,2026-01-05T09:00:00+00:00,stage_entered,lead_generated,,{}\n"
        ),
        "store.jsonl": store.encode(),
        "table.csv": table.encode(),
        "pipeline.json": json.dumps(d).encode(),
        "pipeline.toml": toml_text.encode(),
        "pipeline.yaml": yaml_text.encode(),
    }


SEEDS = seeds()
MAPPING = json.dumps(
    {
        "id_column": "id",
        "opened_column": "created",
        "stage_columns": {},
        "status_column": "status",
        "status_map": {"Won": "closed_won", "Lost": "closed_lost"},
        "close_column": "closed",
        "amount_column": "amount",
    }
)


@contextlib.contextmanager
def folder() -> Iterator[Path]:
    """A temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def mutate(data: bytes, how: str, pos: int, junk: bytes) -> bytes:
    """``data`` cut at ``pos``, or with ``junk`` written over it there."""
    pos %= len(data) + 1
    if how == "cut":
        return data[:pos]
    return data[:pos] + junk + data[pos + len(junk) :]


def cli_run(tmp: Path, name: str, data: bytes) -> Run:
    """The command that reads a file of this kind, on ``data``."""
    path = tmp / name
    path.write_bytes(data)
    if name.startswith("pipeline"):
        return run("check", str(tmp / "events.jsonl"), "-p", str(path))
    if name == "table.csv":
        (tmp / "m.json").write_text(MAPPING, encoding="utf-8")
        out = str(tmp / "out.jsonl")
        return run("import", "stage-table", str(path), "-p", "classic_b2b", "-m",
                   str(tmp / "m.json"), "-o", out, "--problems", str(tmp / "p.csv"))  # fmt: skip
    if name == "events.csv":
        return run("report", str(path), "-p", "classic_b2b", "-f", "csv")
    return run("check", str(path), "-p", "classic_b2b")


def assert_clean_exit(result: Run) -> None:
    """Exit status 0, 1 or 2, and an error (if any) in one line without a traceback."""
    status, _, err = result
    assert status in (0, 1, 2), result
    assert "Traceback" not in err
    if status == 2:
        assert err.startswith("salesstages: error: "), err
        assert err.count("\n") == 1, err


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    how=st.sampled_from(["cut", "junk"]),
    pos=st.integers(0, 20_000),
    junk=st.binary(min_size=1, max_size=4),
)
def test_cli_on_damaged_files(name: str, how: str, pos: int, junk: bytes) -> None:
    """check, report and import on a valid file cut or corrupted anywhere exit 0, 1 or 2
    with at most one error line, never a traceback."""
    with folder() as tmp:
        (tmp / "events.jsonl").write_bytes(SEEDS["events.jsonl"])
        assert_clean_exit(cli_run(tmp, name, mutate(SEEDS[name], how, pos, junk)))


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), data=st.binary(max_size=200))
def test_cli_on_random_bytes(name: str, data: bytes) -> None:
    """Random bytes in place of any file the CLI reads: exit 0, 1 or 2, no traceback."""
    with folder() as tmp:
        (tmp / "events.jsonl").write_bytes(SEEDS["events.jsonl"])
        assert_clean_exit(cli_run(tmp, name, data))


def test_a_file_that_only_starts_like_parquet() -> None:
    """A file starting with Parquet's magic bytes but not Parquet (found by the fuzzer:
    events.csv holding b"PAR1") is one error line naming the file, not DuckDB's exception."""
    with folder() as tmp:
        status, _, err = cli_run(tmp, "events.csv", b"PAR1")
    assert status == 2
    assert err.startswith("salesstages: error: "), err
    assert err.count("\n") == 1, err
    assert "Parquet" in err
    assert "events.csv" in err


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
PIPELINE_KEYS = ["name", "stages", "allow_skip", "allow_regress", "transitions", "format"]
STAGE_KEYS = ["name", "outcome", "entry", "substates", "probability", "rot_after_seconds"]


@st.composite
def pipeline_documents(draw: st.DrawFn) -> object:
    """Documents shaped roughly like a pipeline, with random values in every slot."""
    stages = draw(
        st.lists(
            st.dictionaries(st.sampled_from(STAGE_KEYS), JSON_VALUES | st.text(max_size=8)),
            max_size=4,
        )
    )
    doc: dict[str, object] = draw(st.dictionaries(st.sampled_from(PIPELINE_KEYS), JSON_VALUES))
    if draw(st.booleans()):
        doc["stages"] = stages
    return doc


def dump(document: object, suffix: str) -> str | None:
    """The document as a JSON or YAML file's text (None when it cannot be written)."""
    if suffix == ".json":
        return json.dumps(document)
    yaml = pytest.importorskip("yaml")
    text: str = yaml.safe_dump(document)
    return text


def assert_loads_or_refuses(path: Path) -> None:
    """load_pipeline gives a Pipeline, or a PipelineError (also a SalesStagesError and a
    ValueError) naming the file; nothing else escapes."""
    outcome: object
    try:
        outcome = load_pipeline(str(path))
    except PipelineError as exc:
        outcome = exc
    if isinstance(outcome, PipelineError):
        assert isinstance(outcome, SalesStagesError)
        assert isinstance(outcome, ValueError)
        assert path.name in str(outcome)
    else:
        assert isinstance(outcome, Pipeline)


@FUZZ
@given(document=pipeline_documents(), suffix=st.sampled_from([".json", ".yaml"]))
def test_load_pipeline_on_random_documents(document: object, suffix: str) -> None:
    """load_pipeline on any document gives a Pipeline or a PipelineError, nothing else."""
    text = dump(document, suffix)
    assert text is not None
    with folder() as tmp:
        path = tmp / f"p{suffix}"
        path.write_text(text, encoding="utf-8")
        assert_loads_or_refuses(path)


@FUZZ
@given(
    name=st.sampled_from(["pipeline.json", "pipeline.toml", "pipeline.yaml"]),
    how=st.sampled_from(["cut", "junk"]),
    pos=st.integers(0, 4000),
    junk=st.binary(min_size=1, max_size=4),
)
def test_load_pipeline_on_damaged_files(name: str, how: str, pos: int, junk: bytes) -> None:
    """A pipeline file cut or corrupted anywhere loads or raises PipelineError."""
    with folder() as tmp:
        path = tmp / name
        path.write_bytes(mutate(SEEDS[name], how, pos, junk))
        assert_loads_or_refuses(path)


def test_seeds_are_valid() -> None:
    """The fuzzers start from files the CLI reads without a problem."""
    with folder() as tmp:
        (tmp / "events.jsonl").write_bytes(SEEDS["events.jsonl"])
        for name, data in SEEDS.items():
            status, out, err = cli_run(tmp, name, data)
            assert status == 0, (name, out, err)
