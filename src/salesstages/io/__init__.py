"""Import and export event logs and CRM histories; open any event source.

- :func:`open_events`: the events of a JSONL, CSV or Parquet file, a SQLite or
  JSONL store, a DuckDB file or a ``postgresql://`` table, read into Python or
  as an Ibis table (what the command line opens); :class:`EventSource` is the
  same as an object that names, counts and closes the source.
- The canonical event format, both directions: :func:`write_jsonl` /
  :func:`read_jsonl` (one JSON object per event and line) and
  :func:`write_csv` / :func:`read_csv` (one column per :class:`~salesstages.Event`
  field, ``data`` as a JSON object).
- The canonical table in Apache Arrow and Parquet (needs pyarrow, the
  ``salesstages[duckdb]`` extra): :func:`to_arrow`, :func:`write_parquet` and
  :func:`read_parquet`, the table the Ibis engine of
  :mod:`salesstages.metrics` reads.
- :func:`read_stage_table`: a table with one row per deal and a date column per
  stage entered (HubSpot's "date entered <stage>" export and the like).
- :func:`read_opportunity_history`: a Salesforce ``OpportunityHistory`` export.
- :func:`read_calls`: forecast calls (owner, period, category, amount, at) for
  :func:`salesstages.forecast.accuracy`.
- :func:`write_xes`: the log as IEEE XES, one trace per deal, for process-mining
  tools (pm4py, ProM, bupaR, Celonis).

Every reader raises :class:`~salesstages.DataError` naming the file, the line
and the field for input it cannot read, and nothing else. The importers are
lenient by default: they keep what they can and return every
:class:`ImportProblem` in an :class:`ImportResult`; with ``strict=True`` they
raise at the first problem instead.
"""

from __future__ import annotations

from ._arrow import read_parquet, to_arrow, write_parquet
from ._calls import read_calls
from ._canonical import read_csv, read_jsonl, write_csv, write_jsonl
from ._common import ImportProblem, ImportResult
from ._salesforce import read_opportunity_history
from ._sources import EventSource, SourceError, open_events
from ._stage_table import read_stage_table
from ._xes import write_xes

__all__ = [
    "EventSource",
    "ImportProblem",
    "ImportResult",
    "SourceError",
    "open_events",
    "read_calls",
    "read_csv",
    "read_jsonl",
    "read_opportunity_history",
    "read_parquet",
    "read_stage_table",
    "to_arrow",
    "write_csv",
    "write_jsonl",
    "write_parquet",
    "write_xes",
]
