"""The importers read the recurring-revenue attributes (issue 25): the stage-table
importer's account, deal type, ARR and contract columns, and Salesforce's ``Type`` and
``AccountId``; a bad cell is an import problem, never a silent gap."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _cli_data import Runner
from _helpers import plain_pipeline
from salesstages import DataError, metrics
from salesstages.io import read_jsonl, read_opportunity_history, read_stage_table
from salesstages.io._contracts import deal_type_of

P = plain_pipeline()

TABLE = """\
id,a,won,status,account,type,arr,start,end
D1,2026-01-01,2026-01-10,won,acme,New Business,"12,000",2026-01-15,2027-01-15
D2,2026-02-01,2026-02-10,won,acme,Existing Customer - Upgrade,3000,2026-03-01,2027-01-15
D3,2026-02-01,2026-02-10,won,,Renewal,100,2026-03-01,2026-02-01
D4,2026-02-01,,,bolt,Partner Deal,-5,2026-03-01,
"""


def _read(text: str, **options: object) -> object:
    source = io.StringIO(text)
    source.name = "deals.csv"
    return read_stage_table(
        source,
        P,
        id_column="id",
        stage_columns={"a": "a"},
        status_column="status",
        close_column="won",
        account_column="account",
        deal_type_column="type",
        arr_column="arr",
        contract_start_column="start",
        contract_end_column="end",
        **options,  # type: ignore[arg-type]
    )


def test_stage_table_reads_the_contract_columns() -> None:
    """Good cells become attributes; each bad one is a problem naming deal and column."""
    result = _read(TABLE)
    deals = P.replay(result.events)  # type: ignore[attr-defined]
    assert dict(deals["D1"].attributes) == {
        "account": "acme",
        "deal_type": "new",
        "arr": 12_000,
        "contract_start": "2026-01-15",
        "contract_end": "2027-01-15",
    }
    assert deals["D2"].attributes["deal_type"] == "expansion"
    problems = {(p.deal_id, p.rule) for p in result.problems}  # type: ignore[attr-defined]
    # D3: end before start (both dates left out), a renewal with no account
    assert ("D3", "contract") in problems
    assert "contract_start" not in deals["D3"].attributes
    assert "deal_type" not in deals["D3"].attributes
    # D4: an unknown type, a negative ARR
    assert ("D4", "deal_type") in problems
    assert ("D4", "arr") in problems
    # on 2026-03-15: D1 12,000 + D2 3,000 + D3 100 (no dates kept: from its win on)
    march = datetime(2026, 3, 15, tzinfo=UTC)
    assert metrics.arr(result.events, P, as_of=march) == 15_100.0  # type: ignore[attr-defined]


def test_stage_table_strict_mode_raises_at_a_bad_contract_cell() -> None:
    """In strict mode the first bad cell is a DataError naming the column."""
    with pytest.raises(DataError, match="end"):
        _read(TABLE, strict=True)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("New Business", "new"),
        ("Existing Customer - Upgrade", "expansion"),
        ("Existing Customer - Replacement", "renewal"),
        ("Existing Customer - Downgrade", "renewal"),
        ("Renewal", "renewal"),
        ("expansion", "expansion"),
    ],
)
def test_salesforce_types_map_to_deal_types(text: str, kind: str) -> None:
    """Salesforce's Type picklist maps to the three deal types."""
    assert deal_type_of(text) == kind


def test_salesforce_reads_type_and_account_id() -> None:
    """AccountId and Type come in from an OpportunityHistory export when present."""
    export = io.StringIO(
        "OpportunityId,CreatedDate,StageName,Amount,CloseDate,AccountId,Type\n"
        "006A,2026-01-05T09:00:00Z,A,100,2026-02-01,001X,Existing Customer - Upgrade\n"
        "006A,2026-01-20T09:00:00Z,Won,100,2026-01-20,001X,Existing Customer - Upgrade\n"
    )
    export.name = "history.csv"
    result = read_opportunity_history(export, P, stage_map={"A": "a", "Won": "won"})
    deals = P.replay(result.events)
    assert deals["006A"].attributes["account"] == "001X"
    assert deals["006A"].attributes["deal_type"] == "expansion"
    assert deals["006A"].outcome == "won"


def _table(text: str, name: str) -> io.StringIO:
    source = io.StringIO(text)
    source.name = name
    return source


def test_reference_tables_join_by_key_and_a_missing_key_is_a_problem() -> None:
    """join=[(accounts.csv, "account")]: the account's sector and employees become
    attributes usable in by=; an account with no row is a ``join`` problem."""
    accounts = _table("account,sector,employees\nacme,retail,120\nbolt,software,40\n", "a.csv")
    deals = _table(
        "id,a,account\nD1,2026-01-01,acme\nD2,2026-01-02,bolt\nD3,2026-01-03,zeta\n", "d.csv"
    )
    result = read_stage_table(
        deals,
        P,
        id_column="id",
        stage_columns={"a": "a"},
        account_column="account",
        join=[(accounts, "account")],
    )
    replayed = P.replay(result.events)
    assert replayed["D1"].attributes["sector"] == "retail"
    assert replayed["D2"].attributes["employees"] == "40"
    assert "sector" not in replayed["D3"].attributes
    assert [(p.deal_id, p.rule) for p in result.problems] == [("D3", "join")]
    assert set(metrics.funnel(result.events, P, by="sector")) == {"retail", "software", None}


def test_a_reference_table_with_a_key_twice_or_without_its_key_is_refused() -> None:
    """A duplicated key or a missing key column is a DataError naming the table."""
    deals = "id,a,account\nD1,2026-01-01,acme\n"
    for text, match in (
        ("account,sector\nacme,retail\nacme,food\n", "appears twice"),
        ("name,sector\nacme,retail\n", "no column 'account'"),
    ):
        with pytest.raises(DataError, match=match):
            read_stage_table(
                _table(deals, "d.csv"),
                P,
                id_column="id",
                stage_columns={"a": "a"},
                account_column="account",
                join=[(_table(text, "accounts.csv"), "account")],
            )


def test_a_mapping_files_join_tables(tmp_path: Path, run: Runner) -> None:
    """``[[join]]`` in a TOML mapping joins a table read beside the mapping file; the
    missing key is listed with the problems."""
    (tmp_path / "accounts.csv").write_text("account,sector\nacme,retail\n", encoding="utf-8")
    source = tmp_path / "deals.csv"
    source.write_text("id,a,account\nD1,2026-01-01,acme\nD2,2026-01-02,zeta\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'id_column = "id"\naccount_column = "account"\n[stage_columns]\na = "a"\n'
        '[[join]]\ntable = "accounts.csv"\nkey = "account"\n',
        encoding="utf-8",
    )
    pipeline = tmp_path / "plain.json"
    pipeline.write_text(json.dumps(P.to_dict()), encoding="utf-8")
    out = tmp_path / "events.jsonl"
    status, _, stderr = run(
        "import", "stage-table", str(source), "-p", str(pipeline), "-m", str(mapping),
        "-o", str(out),
    )  # fmt: skip
    assert status == 0, stderr
    assert "join 1" in stderr
    deals = P.replay(read_jsonl(out))
    assert deals["D1"].attributes["sector"] == "retail"
