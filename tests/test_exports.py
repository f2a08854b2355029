"""The public surface: exactly the names in ``__all__``, each documented."""

from __future__ import annotations

import inspect

import salesstages
import salesstages.guards
import salesstages.presets

CONTRACT_NAMES = {
    "SalesStagesError",
    "PipelineError",
    "NaiveTimeError",
    "OutOfOrderError",
    "TransitionRefused",
    "UnknownStageError",
    "ConcurrencyError",
    "InvalidLogError",
    "DataError",
    "DataTypeError",
    "Stage",
    "Pipeline",
    "Verdict",
    "meeting_accepted",
    "document_sent",
    "activity",
    "field",
    "all_of",
    "any_of",
    "at_least",
    "not_",
    "guard",
    "Deal",
    "Event",
    "MemoryStore",
    "JsonlStore",
    "SqliteStore",
    "PostgresStore",
}
#: Section 11 (living inside an application); PostgresStore comes with its own branch.
SECTION_11_NAMES = {"HandlerError"}


def test_all_is_sorted_and_unique() -> None:
    """``__all__`` is sorted and has no duplicates, so diffs stay readable."""
    assert list(salesstages.__all__) == sorted(set(salesstages.__all__))


def test_all_names_exist() -> None:
    """Every name in ``__all__`` is importable from the package."""
    for name in salesstages.__all__:
        assert hasattr(salesstages, name), name


def test_contract_names_are_exported() -> None:
    """Every contract name of sections 1–6 is exported at top level."""
    assert set(salesstages.__all__) >= CONTRACT_NAMES


def test_section_11_names_are_exported() -> None:
    """The names section 11 of the contract adds are exported at top level."""
    assert set(salesstages.__all__) >= SECTION_11_NAMES
    assert issubclass(salesstages.HandlerError, salesstages.SalesStagesError)


def test_public_names_have_docstrings() -> None:
    """Every exported class and function carries a docstring."""
    for module in (salesstages, salesstages.guards, salesstages.presets):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"


def test_dir_lists_public_names_only() -> None:
    """``dir(salesstages)`` shows the public names, not private modules."""
    names = dir(salesstages)
    assert "Pipeline" in names
    assert "_deal" not in names


def test_error_hierarchy() -> None:
    """Each error subclasses the root and the matching builtin."""
    s = salesstages
    for cls in (
        s.PipelineError,
        s.NaiveTimeError,
        s.OutOfOrderError,
        s.TransitionRefused,
        s.UnknownStageError,
        s.ConcurrencyError,
        s.InvalidLogError,
        s.DataError,
    ):
        assert issubclass(cls, s.SalesStagesError)
    assert issubclass(s.PipelineError, ValueError)
    assert issubclass(s.NaiveTimeError, ValueError)
    assert issubclass(s.UnknownStageError, KeyError)
    assert issubclass(s.DataError, ValueError)
    assert issubclass(s.StoreUnavailableError, s.SalesStagesError)
    assert issubclass(s.StoreUnavailableError, ConnectionError)
    assert issubclass(s.DataTypeError, s.DataError)
    assert issubclass(s.DataTypeError, TypeError)


def test_importing_salesstages_does_not_import_psycopg() -> None:
    """The PostgreSQL extra is imported only when a PostgresStore is made."""
    import subprocess
    import sys

    code = "import sys, salesstages; print('psycopg' in sys.modules, salesstages.PostgresStore)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("False ")


def test_unknown_stage_error_message_is_not_quoted() -> None:
    """``str(UnknownStageError)`` is the plain message, not KeyError's repr."""
    assert str(salesstages.UnknownStageError("no stage 'x'")) == "no stage 'x'"


def test_data_error_names_file_line_and_field() -> None:
    """DataError's message starts with file, line and field."""
    err = salesstages.DataError("not a number", path="deals.csv", line=7, field="amount")
    assert str(err) == "deals.csv, line 7, field 'amount': not a number"
    assert (err.path, err.line, err.field) == ("deals.csv", 7, "amount")
