"""The recurring-revenue attributes (issue 25, CONTRACT §19): ``account``, ``deal_type``,
``arr``, ``contract_start`` and ``contract_end`` are checked where attributes come in,
like ``close_date``: a bad value is a DataError naming the deal and the field, and
nothing is recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from _helpers import T0, day, plain_pipeline
from salesstages import DataError, DataTypeError, SalesStagesError

BAD: list[tuple[dict[str, Any], str, type[Exception]]] = [
    ({"arr": -1}, "arr", DataError),
    ({"arr": float("nan")}, "arr", DataError),
    ({"arr": float("inf")}, "arr", DataError),
    ({"arr": Decimal("NaN")}, "arr", DataError),
    ({"arr": "12000"}, "arr", DataTypeError),
    ({"arr": True}, "arr", DataTypeError),
    ({"deal_type": "upsell"}, "deal_type", DataError),
    ({"deal_type": 1}, "deal_type", DataTypeError),
    ({"account": ""}, "account", DataError),
    ({"account": 7}, "account", DataTypeError),
    ({"contract_start": "2026-02-30"}, "contract_start", DataError),
    ({"contract_end": datetime(2027, 1, 1, tzinfo=UTC)}, "contract_end", DataTypeError),
    ({"contract_start": "2026-01-01", "contract_end": "2026-01-01"}, "contract_end", DataError),
    ({"contract_start": "2026-06-01", "contract_end": "2026-01-01"}, "contract_end", DataError),
    ({"deal_type": "renewal"}, "account", DataError),
    ({"deal_type": "expansion", "arr": 10}, "account", DataError),
]


@pytest.mark.parametrize(("attributes", "field", "error"), BAD)
def test_open_deal_refuses_bad_contract_attributes(
    attributes: dict[str, Any], field: str, error: type[Exception]
) -> None:
    """open_deal refuses each bad value with the error naming the deal and the field."""
    with pytest.raises(error) as info:
        plain_pipeline().open_deal("D1", at=T0, **attributes)
    assert isinstance(info.value, SalesStagesError)
    assert getattr(info.value, "field", None) == field
    assert "D1" in str(info.value)
    assert field in str(info.value)


@pytest.mark.parametrize(("attributes", "field", "error"), BAD)
def test_update_refuses_bad_contract_attributes_and_records_nothing(
    attributes: dict[str, Any], field: str, error: type[Exception]
) -> None:
    """update refuses the same values and leaves the deal's log as it was."""
    deal = plain_pipeline().open_deal("D1", at=T0)
    before = deal.events
    with pytest.raises(error) as info:
        deal.update(at=day(1), **attributes)
    assert getattr(info.value, "field", None) == field
    assert deal.events == before


def test_update_checks_the_contract_against_what_the_deal_holds() -> None:
    """An end set on its own must fall after the start the deal already holds; a renewal
    whose account was given at opening is fine."""
    deal = plain_pipeline().open_deal(
        "D1", at=T0, account="acme", deal_type="renewal", contract_start=date(2026, 3, 1)
    )
    with pytest.raises(DataError, match="contract_end 2026-02-01 is on or before"):
        deal.update(at=day(1), contract_end=date(2026, 2, 1))
    deal.update(at=day(1), contract_end=date(2027, 3, 1), arr=Decimal("1200.50"))
    assert deal.attributes["contract_start"] == "2026-03-01"
    assert deal.attributes["contract_end"] == "2027-03-01"
    assert deal.attributes["arr"] == 1200.5


def test_good_contract_attributes_are_kept_in_the_logs_form() -> None:
    """Dates become ISO strings; an integral Decimal an int; None leaves a field unset."""
    deal = plain_pipeline().open_deal(
        "D1",
        at=T0,
        account="acme",
        deal_type="new",
        arr=Decimal("24000"),
        contract_start=date(2026, 1, 1),
        contract_end="2027-01-01",
        close_date=None,
    )
    attrs = deal.attributes
    assert attrs["arr"] == 24000
    assert isinstance(attrs["arr"], int)
    assert (attrs["contract_start"], attrs["contract_end"]) == ("2026-01-01", "2027-01-01")
