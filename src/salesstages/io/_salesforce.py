"""Salesforce ``OpportunityHistory`` exports: one row per change of an opportunity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from .._errors import DataError
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

__all__ = ["read_opportunity_history"]


def read_opportunity_history(
    source: Source,
    pipeline: Pipeline,
    *,
    stage_map: Mapping[str, str],
    id_column: str = "OpportunityId",
    created_column: str = "CreatedDate",
    stage_column: str = "StageName",
    amount_column: str | None = "Amount",
    close_date_column: str | None = "CloseDate",
    forecast_category_column: str | None = "ForecastCategory",
    attribute_columns: Mapping[str, str] | Sequence[str] = (),
    lost_reason_column: str | None = None,
    account_column: str | None = "AccountId",
    deal_type_column: str | None = "Type",
    arr_column: str | None = None,
    contract_start_column: str | None = None,
    contract_end_column: str | None = None,
    join: Sequence[Join] | None = None,
    date_format: str | None = None,
    tz: tzinfo = UTC,
    strict: bool = False,
) -> ImportResult:
    """Import a Salesforce ``OpportunityHistory`` CSV export.

    Rows are grouped by opportunity and taken in ``CreatedDate`` order (file
    order among equal times). An opportunity's first row opens the deal (with
    ``amount`` and ``close_date`` as attributes) in its mapped stage. Every
    later row becomes a ``stage_entered`` when its stage differs from the
    current one, and an ``updated`` event (before the move) when only, or also,
    the amount or the close date changed. A row that changes nothing adds
    nothing.

    Args:
        source: A path or a file object (text or binary, UTF-8).
        pipeline: The pipeline the deals follow; every move is checked against it.
        stage_map: ``{Salesforce StageName: stage}``. Stage names it does not
            list (renamed or retired stages) are reported as ``unknown_stage``.
        id_column, created_column, stage_column: The columns holding the
            opportunity id, the row's timestamp and the stage name.
        amount_column: Parsed as a number into ``amount`` (``None``: ignore).
        close_date_column: Kept as an ISO date string in ``close_date``
            (``None``: ignore).
        forecast_category_column: Mapped into ``forecast_category``:
            ``Pipeline`` → ``"pipeline"``, ``BestCase`` (or ``Best Case``) →
            ``"best_case"``, ``Forecast`` or ``Commit`` → ``"commit"``,
            ``Omitted`` → ``"omitted"``; ``Closed`` keeps no category (the
            deal's outcome tells). Ignored when the file has no such column and
            the name is the default; ``None``: ignore.
        attribute_columns: More attributes taken from the first row: a list of
            columns or ``{column: attribute}``.
        lost_reason_column: Kept as ``{"reason": ...}`` on a lost stage's event.
        account_column: Kept in ``account`` (``AccountId``; ignored when the file
            has no such column).
        deal_type_column: Mapped into ``deal_type`` (``Type``: ``New Business`` →
            ``"new"``, ``Existing Customer - Upgrade`` → ``"expansion"``,
            ``Existing Customer - Replacement``/``Renewal``/``Downgrade`` →
            ``"renewal"``; ignored when the file has no such column).
        arr_column, contract_start_column, contract_end_column: ``arr`` and the
            contract dates, when the export carries them (contract §19).
        join: Reference tables ``[(table, key attribute), ...]`` joined to each
            opportunity's first row (see :func:`read_stage_table`).
        date_format: A :meth:`~datetime.datetime.strptime` format for the
            timestamps; ISO 8601 when ``None`` (``2024-05-01T09:30:00.000+0000``).
        tz: The zone of timestamps without an offset.
        strict: Raise :class:`~salesstages.DataError` at the first problem
            instead of collecting them.

    Returns:
        An :class:`ImportResult`; its events replay with ``strict=True``.

    Raises:
        UnknownStageError: ``stage_map`` names a stage the pipeline lacks.
        DataError: The file is not a CSV table with the named columns; in
            strict mode also the first problem.
    """
    for mapped in stage_map.values():
        pipeline.stage(mapped)  # raises UnknownStageError naming it
    attributes = attribute_map(attribute_columns)
    joins = load_joins(join)
    name, text = read_source(source)
    header, rows = csv_table(name, text, lenient=True)
    if forecast_category_column == "ForecastCategory" and forecast_category_column not in header:
        forecast_category_column = None  # older exports have no category column
    if account_column == "AccountId" and account_column not in header:
        account_column = None
    if deal_type_column == "Type" and deal_type_column not in header:
        deal_type_column = None
    contract_columns = {
        "account": account_column,
        "deal_type": deal_type_column,
        "arr": arr_column,
        "contract_start": contract_start_column,
        "contract_end": contract_end_column,
    }
    require_columns(
        name,
        header,
        [
            id_column,
            created_column,
            stage_column,
            amount_column,
            close_date_column,
            forecast_category_column,
            *attributes,
            lost_reason_column,
            *(c for c in contract_columns.values() if c is not None),
        ],
    )
    col = {h: i for i, h in enumerate(header)}
    report = Reporter(name, strict)

    # (created, file order, line, cells) per opportunity, in order of first appearance
    history: dict[str, list[tuple[datetime, int, int, list[str]]]] = {}
    n_rows = 0
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
        deal_id = cells[col[id_column]].strip()
        if not deal_id:
            report(None, line, "no_id", "the row has no opportunity id; skipped", id_column)
            continue
        raw = cells[col[created_column]].strip()
        try:
            created = parse_date(raw, fmt=date_format, tz=tz)
        except ValueError:
            report(
                deal_id,
                line,
                "date",
                f"deal {deal_id!r}: {created_column} {raw!r} is not a timestamp; row skipped",
                created_column,
            )
            continue
        history.setdefault(deal_id, []).append((created, n_rows, line, cells))

    events = []
    deals = 0
    for deal_id, changes in history.items():
        changes.sort(key=lambda c: (c[0], c[1]))
        builder = DealBuilder(pipeline, deal_id, report)
        for created, _, line, cells in changes:

            def cell(column: str, cells: list[str] = cells) -> str:
                return cells[col[column]].strip()

            values: dict[str, Any] = {}
            if amount_column is not None and cell(amount_column):
                try:
                    values["amount"] = parse_amount(cell(amount_column))
                except DataError as exc:
                    report(
                        deal_id,
                        line,
                        "amount",
                        f"deal {deal_id!r}: {amount_column} is not an amount: {exc}; left out",
                        amount_column,
                    )
            values.update(
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
            values.update(
                contract_attributes(
                    deal_id, line, cell, report, contract_columns, date_format=date_format, tz=tz
                )
            )
            stage_name = cell(stage_column)
            stage = stage_map.get(stage_name)
            if stage is None:
                report(
                    deal_id,
                    line,
                    "unknown_stage",
                    f"deal {deal_id!r}: stage {stage_name!r} is not in stage_map (known: "
                    f"{', '.join(sorted(stage_map))}); "
                    + ("row skipped" if builder.stage is None else "kept the row's other changes"),
                    stage_column,
                )
                if builder.stage is None:
                    continue
            if builder.stage is None:
                assert stage is not None
                for column, attribute in attributes.items():
                    if cell(column):
                        values[attribute] = cell(column)
                joins.apply(deal_id, line, values, report)
                builder.open(created, stage, values, line, stage_column)
                continue
            builder.update(
                created,
                values,
                line,
                amount_column or close_date_column or forecast_category_column,
            )
            if stage is not None:
                data = None
                if pipeline.stage(stage).outcome == "lost" and lost_reason_column:
                    reason = cell(lost_reason_column)
                    data = {"reason": reason} if reason else None
                builder.hop(stage, created, line, stage_column, data)
        if builder.events:
            events.extend(builder.events)
            deals += 1
    return ImportResult(tuple(events), tuple(report.problems), n_rows, deals)
