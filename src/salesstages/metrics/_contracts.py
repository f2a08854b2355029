"""The contracts behind recurring revenue (CONTRACT §19), shared by both engines.

A *contract* is a won deal carrying the recurring-revenue attributes it held when it
was won (:mod:`salesstages._contract_values`): its account (the deal's own id when
it names none), its ``arr``, and the instants it counts between. The ARR of an
account at instant ``t`` is the sum of ``arr`` over its deals won at or before
``t`` with ``contract_start <= t.date() < contract_end``, so a contract counts over
the half-open interval ``[max(won_at, midnight(contract_start)),
midnight(contract_end))``. A won deal without ``contract_start`` starts on the day
it is won; one without ``contract_end`` runs on. Overlapping contracts of one
account add up.

:class:`Book` holds an account's contracts and answers "ARR at ``t``", "had ARR
before ``t``" and "first instant with ARR"; every revenue metric of either engine
is computed from one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, NamedTuple

from .._contract_values import ACCOUNT, ARR, CONTRACT_END, CONTRACT_START
from ._common import amount_of
from ._planning import close_day

__all__ = ["TICK", "Book", "Contract", "contract_of", "midnight"]

#: The resolution of every timestamp: ``as_of⁺`` is ``as_of + TICK``.
TICK: Final = timedelta(microseconds=1)


def midnight(day: date) -> datetime:
    """The first instant of ``day`` (UTC)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Contract(NamedTuple):
    """One won deal's recurring revenue."""

    account: str
    deal_id: str
    arr: float
    won_at: datetime
    active_from: datetime  # max(won_at, midnight(contract_start))
    active_until: datetime | None  # midnight(contract_end); None: runs on
    end_day: date | None  # contract_end

    def counts_at(self, t: datetime) -> bool:
        """True when the contract's ``arr`` is part of its account's ARR at ``t``."""
        return self.active_from <= t and (self.active_until is None or t < self.active_until)

    @property
    def ever_counts(self) -> bool:
        """True when the contract adds ARR at some instant."""
        return self.arr > 0 and (self.active_until is None or self.active_from < self.active_until)


def contract_of(deal_id: str, won_at: datetime, attributes: Mapping[str, Any]) -> Contract:
    """The contract of a deal won at ``won_at`` holding ``attributes`` then (values of
    the wrong type, in a log written by other tools, count as missing)."""
    account = attributes.get(ACCOUNT)
    if not isinstance(account, str) or not account:
        account = deal_id
    start = close_day(attributes.get(CONTRACT_START)) or won_at.date()
    end = close_day(attributes.get(CONTRACT_END))
    return Contract(
        account=account,
        deal_id=deal_id,
        arr=amount_of(attributes.get(ARR)),
        won_at=won_at,
        active_from=max(won_at, midnight(start)),
        active_until=None if end is None else midnight(end),
        end_day=end,
    )


class Book:
    """Every contract, by account (accounts in sorted order)."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        by_account: dict[str, list[Contract]] = {}
        for c in contracts:
            by_account.setdefault(c.account, []).append(c)
        self.accounts: dict[str, list[Contract]] = {
            a: sorted(by_account[a], key=lambda c: (c.won_at, c.deal_id))
            for a in sorted(by_account)
        }

    def arr_at(self, account: str, t: datetime) -> float:
        """The account's ARR at instant ``t``."""
        return float(sum(c.arr for c in self.accounts[account] if c.counts_at(t)))

    def had_arr_before(self, account: str, t: datetime) -> bool:
        """True when the account had ARR > 0 at some instant before ``t``."""
        return any(c.ever_counts and c.active_from < t for c in self.accounts[account])

    def first_active(self, account: str) -> datetime | None:
        """The account's first instant with ARR > 0 (``None``: never)."""
        return min((c.active_from for c in self.accounts[account] if c.ever_counts), default=None)

    def total_at(self, t: datetime) -> float:
        """The ARR of every account at ``t``."""
        return float(sum(self.arr_at(a, t) for a in self.accounts))

    def renewal_due(self, account: str, t: datetime) -> date | None:
        """The earliest ``contract_end`` among the account's contracts counting at ``t``."""
        return min(
            (c.end_day for c in self.accounts[account] if c.end_day and c.counts_at(t)),
            default=None,
        )
