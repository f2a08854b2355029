"""The recurring-revenue attributes an importer reads (CONTRACT §19): ``account``,
``deal_type``, ``arr``, ``contract_start`` and ``contract_end`` cells turned into the
values the log keeps, a bad cell reported and left out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import tzinfo
from typing import Any, Final

from .._contract_values import ACCOUNT, ARR, CONTRACT_END, CONTRACT_START, DEAL_TYPE, DEAL_TYPES
from .._errors import DataError
from ._common import Reporter, parse_number
from ._planning import close_date_of

__all__ = ["CONTRACT_COLUMNS", "contract_attributes", "deal_type_of"]

#: The importer options naming each attribute's column, in order.
CONTRACT_COLUMNS: Final = (
    ("account_column", ACCOUNT),
    ("deal_type_column", DEAL_TYPE),
    ("arr_column", ARR),
    ("contract_start_column", CONTRACT_START),
    ("contract_end_column", CONTRACT_END),
)

# A CRM's opportunity types, squeezed (lower case, letters only), to ours:
# Salesforce's standard Type picklist and the plain words.
_TYPES: Final = {
    **{t: t for t in DEAL_TYPES},
    "newbusiness": "new",
    "newcustomer": "new",
    "existingcustomerupgrade": "expansion",
    "upgrade": "expansion",
    "upsell": "expansion",
    "existingcustomerreplacement": "renewal",
    "existingcustomerdowngrade": "renewal",
    "existingcustomerrenewal": "renewal",
}


def deal_type_of(text: str) -> str:
    """A CRM's opportunity type as ours: ``New Business`` → ``"new"``, ``Existing
    Customer - Upgrade`` → ``"expansion"``, ``Existing Customer - Replacement`` /
    ``Renewal`` / ``Downgrade`` → ``"renewal"`` (and ``new``, ``renewal``,
    ``expansion`` themselves).

    Raises:
        ValueError: A type none of them goes by.
    """
    key = "".join(ch for ch in text.lower() if ch.isalpha())
    try:
        return _TYPES[key]
    except KeyError:
        raise ValueError(
            f"{text!r} is not a deal type (New Business, Existing Customer - Upgrade, "
            "Existing Customer - Replacement / Renewal / Downgrade, or new, renewal, expansion)"
        ) from None


def contract_attributes(
    deal_id: str,
    line: int,
    cell: Callable[[str], str],
    report: Reporter,
    columns: Mapping[str, str | None],
    *,
    date_format: str | None,
    tz: tzinfo,
) -> dict[str, Any]:
    """The recurring-revenue attributes of a row; ``columns`` maps each attribute to
    its column (``None``: not read). A bad cell is reported (rules ``deal_type``,
    ``arr``, ``date``, ``contract``) and left out; a contract ending on or before its
    start keeps neither date; a renewal or an expansion without an account keeps no
    ``deal_type``."""
    out: dict[str, Any] = {}
    for attribute, column in columns.items():
        if column is None or not cell(column):
            continue
        raw = cell(column)
        try:
            if attribute == ARR:
                value: Any = parse_number(raw)
                if value < 0:
                    raise ValueError("ARR is never negative")
            elif attribute == DEAL_TYPE:
                value = deal_type_of(raw)
            elif attribute in (CONTRACT_START, CONTRACT_END):
                value = close_date_of(raw, date_format, tz)
            else:
                value = raw
        except (ValueError, DataError) as exc:
            rule = "date" if attribute in (CONTRACT_START, CONTRACT_END) else attribute
            report(
                deal_id, line, rule, f"deal {deal_id!r}: {column} {raw!r}: {exc}; left out", column
            )
            continue
        out[attribute] = value
    start, end = out.get(CONTRACT_START), out.get(CONTRACT_END)
    if start is not None and end is not None and end <= start:
        report(
            deal_id,
            line,
            "contract",
            f"deal {deal_id!r}: contract_end {end} is on or before contract_start {start}; "
            "both left out",
            columns.get(CONTRACT_END),
        )
        del out[CONTRACT_START], out[CONTRACT_END]
    if out.get(DEAL_TYPE) in ("renewal", "expansion") and ACCOUNT not in out:
        report(
            deal_id,
            line,
            "contract",
            f"deal {deal_id!r}: a {out[DEAL_TYPE]} deal needs an account and the row has none; "
            "its deal type was left out",
            columns.get(DEAL_TYPE),
        )
        del out[DEAL_TYPE]
    return out
