"""Demo data for the command-line tests: a simulated quarter written once per session."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from salesstages import Event
from salesstages._simulate import simulate
from salesstages._stores import JsonlStore, SqliteStore
from salesstages.io import write_csv, write_jsonl
from salesstages.presets import inbound_b2b

#: Where the shared Maven CRM data set lives when it is present (never copied here).
MAVEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "maven-crm-sales-opportunities"

MAVEN_PIPELINE = {
    "name": "maven_crm",
    "allow_skip": True,
    "allow_regress": False,
    "allow_reopen": False,
    "stages": [
        {"name": "prospecting", "label": "Prospecting", "probability": 0.1},
        {
            "name": "engaging",
            "label": "Engaging",
            "probability": 0.6,
            "rot_after_seconds": 5_184_000,
        },
        {"name": "won", "label": "Won", "outcome": "won"},
        {"name": "lost", "label": "Lost", "outcome": "lost"},
    ],
}

MAVEN_MAPPING = """\
id_column = "opportunity_id"
status_column = "deal_stage"
close_column = "close_date"
amount_column = "close_value"
attribute_columns = ["sales_agent", "product", "account"]

[stage_columns]
engage_date = "engaging"

[status_map]
Prospecting = "prospecting"
Engaging = "engaging"
Won = "won"
Lost = "lost"
"""


def demo_events(deals: int = 150) -> list[Event]:
    """A deterministic simulated quarter of the inbound preset."""
    return simulate(
        inbound_b2b(), deals=deals, start=datetime(2026, 1, 1, tzinfo=UTC), days=90, seed=3
    )


def write_demo_files(folder: Path) -> dict[str, Path]:
    """The demo quarter as JSONL and CSV files, a SQLite store and a JSONL store in ``folder``."""
    events = demo_events()
    paths = {
        "jsonl": folder / "events.jsonl",
        "csv": folder / "events.csv",
        "sqlite": folder / "events.sqlite3",
        "jsonl-store": folder / "store.jsonl",
    }
    write_jsonl(events, paths["jsonl"])
    write_csv(events, paths["csv"])
    for store in (SqliteStore(paths["sqlite"]), JsonlStore(paths["jsonl-store"], fsync=False)):
        with store:
            batch: list[Event] = []
            for e in events:
                if batch and e.deal_id != batch[0].deal_id:
                    store.append(batch)
                    batch = []
                batch.append(e)
            store.append(batch)
    return paths


def write_maven_spec(folder: Path) -> tuple[Path, Path]:
    """The Maven pipeline (JSON) and importer mapping (TOML) files in ``folder``."""
    pipeline = folder / "maven_pipeline.json"
    pipeline.write_text(json.dumps(MAVEN_PIPELINE), encoding="utf-8")
    mapping = folder / "maven_mapping.toml"
    mapping.write_text(MAVEN_MAPPING, encoding="utf-8")
    return pipeline, mapping


__all__ = ["MAVEN", "demo_events", "write_demo_files", "write_maven_spec"]


#: ``(exit status, stdout, stderr)`` of one in-process run of the command line.
Run = tuple[int, str, str]
#: Runs the command line with the given arguments (the ``run`` fixture).
Runner = Callable[..., Run]


def cli_error(result: Run) -> str:
    """The single error line of a failed run (asserting exit 2, one line, no traceback)."""
    status, out, err = result
    assert status == 2, (status, out, err)
    assert err.startswith("salesstages: error: ")
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err
