"""The exception hierarchy: one root, each child also subclassing the matching builtin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._verdict import Verdict

__all__ = [
    "ConcurrencyError",
    "DataError",
    "DataTypeError",
    "InvalidLogError",
    "NaiveTimeError",
    "OutOfOrderError",
    "PipelineError",
    "SalesStagesError",
    "StorePermissionError",
    "StoreUnavailableError",
    "TransitionRefused",
    "UnknownStageError",
]


class SalesStagesError(Exception):
    """Root of every error this library raises on purpose."""


class PipelineError(SalesStagesError, ValueError):
    """A pipeline definition is invalid (or cannot be serialised)."""


class NaiveTimeError(SalesStagesError, ValueError):
    """A timestamp without a timezone was given; every timestamp must be aware."""


class OutOfOrderError(SalesStagesError, ValueError):
    """An event would go back in time within its deal."""


class TransitionRefused(SalesStagesError):
    """A move was refused by the stage graph or by the target stage's entry criteria.

    ``verdict`` is the :class:`~salesstages.Verdict` that lists every reason.
    """

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


class UnknownStageError(SalesStagesError, KeyError):
    """A stage (or sub-state) name that the pipeline does not define."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ConcurrencyError(SalesStagesError):
    """An append lost a race: the ``seq`` it wanted is already taken.

    Reload the deal from its store and try again.
    """


class StoreUnavailableError(SalesStagesError, ConnectionError):
    """The database or file behind a store cannot be reached or did not answer
    (wrong address, server down, refused credentials, a network partition, a
    failed write); the message says which and what to check.

    When it interrupts an append after the write was sent, the message says that
    the outcome is unknown and how to find out (read the deal back).
    """


class StorePermissionError(SalesStagesError, PermissionError):
    """The store's database refused an operation to this user (no ``SELECT`` or
    ``INSERT`` on the table, no right to create it); the message names the
    operation and the grant that allows it."""


class InvalidLogError(SalesStagesError, ValueError):
    """An event log breaks one of the pipeline's rules.

    ``deal_id``, ``seq`` and ``rule`` say where and which.
    """

    def __init__(self, message: str, *, deal_id: str, seq: int | None, rule: str) -> None:
        super().__init__(message)
        self.deal_id = deal_id
        self.seq = seq
        self.rule = rule


class DataError(SalesStagesError, ValueError):
    """Bad data, in a file or in a call; for a file the message names the file, the
    line and the field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full)
        self.path = path
        self.line = line
        self.field = field


class DataTypeError(DataError, TypeError):
    """Bad data of the wrong type in a call: a set, bytes or an object where a JSON
    value belongs, a string where an amount or a timestamp belongs.

    A :class:`DataError` (so also a ``ValueError``) that is also a ``TypeError``.
    """


@contextmanager
def typed_faults(
    error: Callable[[str], SalesStagesError],
    what: str,
    *,
    also: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """Turn the builtin faults bad input can set off inside the block into ``error``.

    The one place where a ``RecursionError`` (input nested too deeply), an
    ``OverflowError`` (a number or date out of range) or a ``UnicodeError``
    (text that cannot be encoded), and any of the ``also`` types, become a typed
    :class:`SalesStagesError` whose message names ``what``. Errors that already
    are a :class:`SalesStagesError` pass unchanged.
    """
    try:
        yield
    except SalesStagesError:
        raise
    except RecursionError:
        raise error(
            f"{what} nests too deeply (Python's recursion limit was reached); flatten it"
        ) from None
    except OverflowError as exc:
        raise error(f"{what} holds a number or a date out of range ({exc})") from exc
    except UnicodeError as exc:
        raise error(f"{what} holds text that cannot be encoded ({exc})") from exc
    except also as exc:
        raise error(f"{what} is malformed: {type(exc).__name__}: {exc}") from exc
