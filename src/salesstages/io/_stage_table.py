"""Stage-date tables: one row per deal, a date column per stage entered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from .._errors import DataError, UnknownStageError
from .._pipeline import Pipeline
from ._common import (
    DealBuilder,
    ImportResult,
    Reporter,
    Skipped,
    Source,
    attribute_map,
    csv_table,
    parse_amount,
    parse_date,
    read_source,
    require_columns,
)
from ._contracts import contract_attributes
from ._joins import Join, load_joins
from ._planning import planning_attributes

__all__ = ["read_stage_table"]


def read_stage_table(
    source: Source,
    pipeline: Pipeline,
    *,
    id_column: str,
    stage_columns: Mapping[str, str],
    status_column: str | None = None,
    status_map: Mapping[str, str] | None = None,
    close_column: str | None = None,
    opened_column: str | None = None,
    amount_column: str | None = None,
    attribute_columns: Mapping[str, str] | Sequence[str] = (),
    lost_reason_column: str | None = None,
    date_format: str | None = None,
    tz: tzinfo = UTC,
    strict: bool = False,
    close_date_column: str | None = None,
    forecast_category_column: str | None = None,
    account_column: str | None = None,
    deal_type_column: str | None = None,
    arr_column: str | None = None,
    contract_start_column: str | None = None,
    contract_end_column: str | None = None,
    join: Sequence[Join] | None = None,
) -> ImportResult:
    """Import a CSV table with one row per deal and a column per stage entry date.

    This is the shape of HubSpot's "date entered <stage>" export and of many
    current-state CRM exports. Each row becomes one deal: an ``opened`` event,
    then a ``stage_entered`` per dated stage, in time order (ties in pipeline
    order).

    Args:
        source: A path or a file object (text or binary, UTF-8).
        pipeline: The pipeline the deals follow; every move is checked against it.
        id_column: The column holding the deal id.
        stage_columns: ``{date column: stage}``: the row's date in that column is
            when the deal entered that stage (an empty cell: it did not).
        status_column: A column holding the deal's current stage (for example
            ``Won`` / ``Lost``), mapped through ``status_map``. A closed status
            closes the deal at its ``close_column`` date.
        status_map: ``{status value: stage}``; when ``None`` a status must be a
            stage name. Statuses it does not list are reported as
            ``unknown_status``.
        close_column: The date the deal entered its closed status.
        opened_column: When the deal was created; by default its earliest date.
        amount_column: Parsed as a number into the ``amount`` attribute.
        attribute_columns: More attributes from the row: a list of columns (the
            attribute takes the column's name) or ``{column: attribute}``.
            Empty cells are left out.
        lost_reason_column: Kept as ``{"reason": ...}`` on a lost stage's event.
        date_format: A :meth:`~datetime.datetime.strptime` format for the date
            cells; ISO 8601 dates and date-times when ``None``.
        close_date_column: The deal's *expected* close date (not the date it
            closed, which is ``close_column``), kept as ``"YYYY-MM-DD"`` in the
            ``close_date`` attribute.
        forecast_category_column: Kept in ``forecast_category``; CRM names are
            mapped (``BestCase`` → ``"best_case"``, ``Forecast``/``Commit`` →
            ``"commit"``; ``Closed`` keeps none).
        account_column: Kept as written in the ``account`` attribute (§19).
        deal_type_column: Mapped from CRM names into ``deal_type`` (``New
            Business`` → ``"new"``, ``Existing Customer - Upgrade`` →
            ``"expansion"``, ``… - Replacement``/``Renewal``/``Downgrade`` →
            ``"renewal"``).
        arr_column: Parsed as a number into ``arr``.
        contract_start_column: Kept as ``"YYYY-MM-DD"`` in ``contract_start``.
        contract_end_column: Kept as ``"YYYY-MM-DD"`` in ``contract_end``. A bad
            cell in any of these five is reported and left out.
        join: Reference tables ``[(table, key attribute), ...]``: each deal whose
            attribute ``key`` names a row of the table (its column ``key``) takes
            that row's other cells as attributes; a key with no row is a ``join``
            problem.
        tz: The zone of dates without an offset (a bare date is midnight there).
        strict: Raise :class:`~salesstages.DataError` at the first problem
            instead of collecting them.

    Returns:
        An :class:`ImportResult`. Rows with no usable date (``no_dates``) or no
        id are skipped; a bad date or amount cell is left out; a move the
        pipeline does not allow, or a date that goes back in time, is skipped.
        Each is reported as an :class:`ImportProblem`.

    Raises:
        UnknownStageError: A mapping names a stage the pipeline lacks.
        DataError: The file is not a CSV table with the named columns; in
            strict mode also the first problem.
    """
    for mapped in stage_columns.values():
        pipeline.stage(mapped)  # raises UnknownStageError naming it
    statuses = dict(status_map) if status_map is not None else None
    if statuses is not None:
        for stage in statuses.values():
            pipeline.stage(stage)
    attributes = attribute_map(attribute_columns)
    joins = load_joins(join)
    name, text = read_source(source)
    header, rows = csv_table(name, text, lenient=True)
    require_columns(
        name,
        header,
        [
            id_column,
            *stage_columns,
            status_column,
            close_column,
            opened_column,
            amount_column,
            *attributes,
            lost_reason_column,
            close_date_column,
            forecast_category_column,
            account_column,
            deal_type_column,
            arr_column,
            contract_start_column,
            contract_end_column,
        ],
    )
    contract_columns = {
        "account": account_column,
        "deal_type": deal_type_column,
        "arr": arr_column,
        "contract_start": contract_start_column,
        "contract_end": contract_end_column,
    }
    col = {h: i for i, h in enumerate(header)}
    report = Reporter(name, strict)
    order = {s.name: i for i, s in enumerate(pipeline.stages)}
    seen: set[str] = set()
    events = []
    n_rows = deals = 0

    for line, row in rows:
        n_rows += 1
        if isinstance(row, Skipped):  # a cell too large, a stray quote
            report(None, line, row.rule, row.message)
            continue
        cells = row
        if len(cells) != len(header):
            report(
                None,
                line,
                "columns",
                f"row has {len(cells)} cells, the header {len(header)}; skipped",
            )
            continue

        def cell(column: str, cells: list[str] = cells) -> str:
            return cells[col[column]].strip()

        deal_id = cell(id_column)
        if not deal_id:
            report(None, line, "no_id", "the row has no deal id; skipped", id_column)
            continue
        if deal_id in seen:
            report(
                deal_id, line, "duplicate_id", f"deal {deal_id!r} appears again; skipped", id_column
            )
            continue
        seen.add(deal_id)

        def date_of(column: str, deal_id: str = deal_id, line: int = line) -> datetime | None:
            value = cell(column)
            if not value:
                return None
            try:
                return parse_date(value, fmt=date_format, tz=tz)
            except ValueError:
                report(
                    deal_id,
                    line,
                    "date",
                    f"deal {deal_id!r}: {column} {value!r} is not a date"
                    + (f" in the format {date_format!r}" if date_format else " (ISO 8601 expected)")
                    + "; left out",
                    column,
                )
                return None

        hops: list[tuple[datetime, int, str, str]] = []
        for column, stage in stage_columns.items():
            at = date_of(column)
            if at is not None:
                hops.append((at, order[stage], stage, column))

        closed: str | None = None
        if status_column is not None:
            status = cell(status_column)
            target = _status_stage(pipeline, statuses, status)
            if target is None:
                if status:
                    report(
                        deal_id,
                        line,
                        "unknown_status",
                        f"deal {deal_id!r}: status {status!r} is not mapped to a stage "
                        f"(known: {', '.join(sorted(statuses or order))}); kept its dated stages",
                        status_column,
                    )
            elif not pipeline.stage(target).is_open:
                closed = target
                at = date_of(close_column) if close_column is not None else None
                if at is None and close_column is not None and cell(close_column):
                    pass  # a bad close date, already reported: the deal stays open
                elif at is None:
                    report(
                        deal_id,
                        line,
                        "no_close_date",
                        f"deal {deal_id!r}: status {status!r} is closed but "
                        + (f"{close_column} is empty" if close_column else "no close_column is set")
                        + "; kept open at its last dated stage",
                        close_column or status_column,
                    )
                else:
                    hops.append((at, order[target], target, close_column or status_column))
            else:
                if close_column is not None and cell(close_column):
                    report(
                        deal_id,
                        line,
                        "status_mismatch",
                        f"deal {deal_id!r}: status {status!r} is open but {close_column} is "
                        "set; the close date was left out",
                        close_column,
                    )
                latest = max(hops)[2] if hops else None
                if latest is not None and order[target] < order[latest]:
                    report(
                        deal_id,
                        line,
                        "status_mismatch",
                        f"deal {deal_id!r}: status {status!r} is earlier than its latest "
                        f"dated stage {latest!r}; kept the dated stages",
                        status_column,
                    )

        opened_at = date_of(opened_column) if opened_column is not None else None
        if not hops and opened_at is None:
            report(deal_id, line, "no_dates", f"deal {deal_id!r}: no stage date at all; skipped")
            continue
        hops.sort()
        for hop in [h for h in hops if not pipeline.stage(h[2]).is_open]:
            later = [h for h in hops if h[0] > hop[0] and pipeline.stage(h[2]).is_open]
            if later:
                report(
                    deal_id,
                    line,
                    "time",
                    f"deal {deal_id!r}: {hop[3]} ({hop[0].date().isoformat()}, entering "
                    f"{hop[2]!r}) is earlier than {later[-1][3]} "
                    f"({later[-1][0].date().isoformat()}); the closing was left out",
                    hop[3],
                )
                hops.remove(hop)
        if opened_at is None or (hops and hops[0][0] < opened_at):
            if opened_at is not None:
                report(
                    deal_id,
                    line,
                    "time",
                    f"deal {deal_id!r}: {hops[0][3]} is earlier than {opened_column}; "
                    "opened at the earlier date",
                    opened_column,
                )
            opened_at = hops[0][0]

        attrs_: dict[str, Any] = {}
        if amount_column is not None and cell(amount_column):
            raw = cell(amount_column)
            try:
                attrs_["amount"] = parse_amount(raw)
            except DataError as exc:
                report(
                    deal_id,
                    line,
                    "amount",
                    f"deal {deal_id!r}: {amount_column} is not an amount: {exc}; left out",
                    amount_column,
                )
        for column, attribute in attributes.items():
            if cell(column):
                attrs_[attribute] = cell(column)
        attrs_.update(
            planning_attributes(
                deal_id,
                line,
                cell,
                report,
                close_date_column=close_date_column,
                forecast_category_column=forecast_category_column,
                date_format=date_format,
                tz=tz,
            )
        )
        attrs_.update(
            contract_attributes(
                deal_id, line, cell, report, contract_columns, date_format=date_format, tz=tz
            )
        )

        joins.apply(deal_id, line, attrs_, report)
        builder = DealBuilder(pipeline, deal_id, report)
        if hops and hops[0][0] == opened_at and pipeline.stage(hops[0][2]).is_open:
            builder.open(opened_at, hops[0][2], attrs_, line, hops[0][3])  # opened in that stage
            hops = hops[1:]
        else:
            builder.open(opened_at, pipeline.first_stage.name, attrs_, line, opened_column)
        for at, _, stage, column in hops:
            data = None
            if stage == closed and pipeline.stage(stage).outcome == "lost" and lost_reason_column:
                reason = cell(lost_reason_column)
                data = {"reason": reason} if reason else None
            builder.hop(stage, at, line, column, data)
        events.extend(builder.events)
        deals += 1

    return ImportResult(tuple(events), tuple(report.problems), n_rows, deals)


def _status_stage(pipeline: Pipeline, statuses: dict[str, str] | None, status: str) -> str | None:
    if not status:
        return None
    if statuses is not None:
        return statuses.get(status)
    try:
        return pipeline.stage(status).name
    except UnknownStageError:
        return None
