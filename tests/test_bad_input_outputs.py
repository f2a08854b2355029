"""Outputs that would destroy inputs (issue 23, item 1): every output path of every
command is refused, before anything is written, when it is one of the command's
inputs (also through a symbolic or hard link), another output, or an event store;
and every file is written atomically through one helper."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from _cli_data import Runner, cli_error
from salesstages import Event
from salesstages._files import atomic_open, atomic_path, atomic_write, same_file
from salesstages._stores import JsonlStore, SqliteStore
from salesstages.io import write_csv, write_jsonl
from salesstages.report._model import records
from salesstages.testing._store_suite import _pipeline, opening

STAGE_TABLE = "id,created,status\nA-1,2026-01-05,Open\n"
MAPPING = {
    "id_column": "id",
    "opened_column": "created",
    "stage_columns": {},
    "status_column": "status",
    "status_map": {"Open": "lead_generated"},
}


def files(tmp: Path) -> dict[str, Path]:
    """A SQLite store, a JSON Lines store, a JSONL events file, a pipeline file, a
    stage table and its mapping in ``tmp``."""
    paths = {
        "db": tmp / "crm.db",
        "jstore": tmp / "store.jsonl",
        "events": tmp / "events.jsonl",
        "pipeline": tmp / "pipeline.json",
        "table": tmp / "deals.csv",
        "mapping": tmp / "mapping.json",
    }
    for store in (SqliteStore(paths["db"]), JsonlStore(paths["jstore"], fsync=False)):
        with store:
            store.append(opening("D1"))
    with SqliteStore(paths["db"]) as store:
        events = list(store.events())
    write_jsonl(events, paths["events"])
    paths["pipeline"].write_text(json.dumps(_pipeline().to_dict()), encoding="utf-8")
    paths["table"].write_text(STAGE_TABLE, encoding="utf-8")
    paths["mapping"].write_text(json.dumps(MAPPING), encoding="utf-8")
    return paths


def _import(out: str, problems: str | None = None) -> Callable[[dict[str, Path]], list[str]]:
    def argv(p: dict[str, Path]) -> list[str]:
        extra = ["--problems", str(p.get(problems, problems))] if problems else []
        target = str(p.get(out, out))
        return [
            "import", "stage-table", str(p["table"]), "-p", str(p["pipeline"]),
            "-m", str(p["mapping"]), "-o", target, *extra,
        ]  # fmt: skip

    return argv


#: name → (argv from the files, the file that must stay unchanged, words of the error)
CASES: dict[str, tuple[Callable[[dict[str, Path]], list[str]], str, tuple[str, ...]]] = {
    "report --out its source store": (
        lambda p: ["report", str(p["db"]), "-p", "classic_b2b", "--out", str(p["db"])],
        "db",
        ("--out", "SOURCE", "crm.db"),
    ),
    "report --out its pipeline file": (
        lambda p: ["report", str(p["events"]), "-p", str(p["pipeline"]), "-o", str(p["pipeline"])],
        "pipeline",
        ("--out", "--pipeline", "pipeline.json"),
    ),
    "report --out another store": (
        lambda p: ["report", str(p["events"]), "-p", "classic_b2b", "--out", str(p["db"])],
        "db",
        ("--out", "a SQLite database"),
    ),
    "report --out a JSON Lines store": (
        lambda p: ["report", str(p["events"]), "-p", "classic_b2b", "--out", str(p["jstore"])],
        "jstore",
        ("--out", "a JSON Lines event store"),
    ),
    "import --out its input": (_import("table"), "table", ("--out", "FILE", "deals.csv")),
    "import --out its mapping": (_import("mapping"), "mapping", ("--out", "--mapping")),
    "import --problems its mapping": (
        _import("new.jsonl", "mapping"),
        "mapping",
        ("--problems", "--mapping", "mapping.json"),
    ),
    "import --out a store": (_import("jstore"), "jstore", ("--out", "event store")),
    "import --out and --problems the same": (
        _import("events", "events"),
        "events",
        ("--out", "--problems", "the same file"),
    ),
    "demo --html a store": (
        lambda p: ["demo", "--deals", "5", "--html", str(p["db"])],
        "db",
        ("--html", "a SQLite database"),
    ),
    "demo --html its --db": (
        lambda p: ["demo", "--db", str(p["db"]), "--html", str(p["db"])],
        "db",
        ("--html", "--db"),
    ),
    "diagram --out its pipeline": (
        lambda p: ["diagram", "-p", str(p["pipeline"]), "--out", str(p["pipeline"])],
        "pipeline",
        ("--out", "--pipeline"),
    ),
    "export --out its source": (
        lambda p: ["export", str(p["db"]), "--out", str(p["db"])],
        "db",
        ("--out", "crm.db"),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_output_that_would_destroy_an_input_is_refused(
    tmp_path: Path, run: Runner, name: str
) -> None:
    """Each command refuses, in one line naming both, to write over an input or a store."""
    argv, kept, words = CASES[name]
    paths = files(tmp_path)
    before, listing = paths[kept].read_bytes(), sorted(os.listdir(tmp_path))
    err = cli_error(run(*argv(paths)))
    for word in words:
        assert word in err, (word, err)
    assert paths[kept].read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == listing  # nothing written, no temporary left


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_link_to_the_source_is_the_source(tmp_path: Path, run: Runner, link: str) -> None:
    """A symbolic or hard link to the source is refused like the source itself."""
    paths = files(tmp_path)
    alias = tmp_path / "alias.txt"
    (os.symlink if link == "symlink" else os.link)(paths["events"], alias)
    before = paths["events"].read_bytes()
    err = cli_error(run("report", str(paths["events"]), "-p", "classic_b2b", "-o", str(alias)))
    assert "alias.txt" in err
    assert "events.jsonl" in err
    assert paths["events"].read_bytes() == before


def test_plot_refuses_a_chart_over_its_source(tmp_path: Path, run: Runner) -> None:
    """A source named like one of plot's chart files is refused before any chart is drawn."""
    paths = files(tmp_path)
    source = tmp_path / "funnel.png"
    source.write_bytes(paths["events"].read_bytes())
    err = cli_error(run("plot", str(source), "-p", "classic_b2b", "--out", str(tmp_path)))
    assert "funnel.png" in err
    assert "SOURCE" in err
    assert source.read_bytes() == paths["events"].read_bytes()


def test_report_out_elsewhere_still_writes(tmp_path: Path, run: Runner) -> None:
    """A fresh output path (or overwriting an earlier report) is written as before."""
    paths = files(tmp_path)
    out = tmp_path / "report.json"
    out.write_text("old", encoding="utf-8")
    argv = ["report", str(paths["events"]), "-p", str(paths["pipeline"]), "-f", "json"]
    status, _, err = run(*argv, "-o", str(out))
    assert status == 0, err
    (counts,) = records(json.loads(out.read_text(encoding="utf-8")), "counts")
    assert counts["deals"] == 1


# ----------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_whole_files_and_keeps_the_mode(tmp_path: Path) -> None:
    """The file is replaced in one step, keeps its permissions and leaves no temporary."""
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    atomic_write(target, "new\r\n")
    assert target.read_bytes() == b"new\r\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["out.txt"]


def test_an_error_while_writing_leaves_the_old_file(tmp_path: Path) -> None:
    """An error half-way through leaves the old content and no temporary file."""
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")

    def half(writer: Callable[[], object]) -> None:
        writer()
        raise RuntimeError("disk full")

    def text() -> None:
        with atomic_open(target) as f:
            half(lambda: f.write("half"))

    def path() -> None:
        with atomic_path(target) as tmp:
            half(lambda: tmp.write_text("half", encoding="utf-8"))

    with pytest.raises(RuntimeError):
        text()
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.csv"]
    with pytest.raises(RuntimeError):
        path()
    assert os.listdir(tmp_path) == ["out.csv"]


@pytest.mark.parametrize("writer", [write_jsonl, write_csv])
def test_a_writer_that_fails_leaves_the_old_file(
    tmp_path: Path, writer: Callable[..., int]
) -> None:
    """write_jsonl/write_csv failing on the second event leave the file as it was."""
    target = tmp_path / "events.out"
    target.write_text("old", encoding="utf-8")

    def events() -> object:
        yield from opening("D1")[:1]
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError):
        writer(events(), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["events.out"]


def test_same_file_follows_links(tmp_path: Path) -> None:
    """same_file is true for a path and its symbolic or hard links, false otherwise."""
    a = tmp_path / "a"
    a.write_text("x", encoding="utf-8")
    os.link(a, tmp_path / "hard")
    os.symlink(a, tmp_path / "soft")
    assert same_file(a, tmp_path / "hard")
    assert same_file(a, tmp_path / "soft")
    assert same_file(a, tmp_path / "." / "a")
    assert not same_file(a, tmp_path / "b")


def test_opening_has_events() -> None:
    """The fixture deal has at least two events (the writers' failure test needs one)."""
    assert all(isinstance(e, Event) for e in opening("D1"))
