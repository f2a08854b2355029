"""The public surface: exactly the names in ``__all__``, each documented."""

from __future__ import annotations
import __future__

import importlib
import inspect
import re
import types
from pathlib import Path

import pytest

import salesstages
import salesstages.guards
import salesstages.presets

ROOT = Path(__file__).resolve().parents[1]

#: Every public module: the package front and the modules the reference pages document.
PUBLIC_MODULES = (
    "salesstages",
    "salesstages.forecast",
    "salesstages.guards",
    "salesstages.io",
    "salesstages.metrics",
    "salesstages.presets",
    "salesstages.report",
    "salesstages.testing",
)
#: Public modules without a reference page: the command line (its helpers for scripts).
OTHER_PUBLIC = ("salesstages.cli",)
#: Public-looking names a public module defines for the library's own use, not exported.
NOT_EXPORTED = {
    # the engine of guard checking, called by deals and replay; users call their guard
    ("salesstages.guards", "evaluate"),
}

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
#: Section 13 (sub-states as real states).
SECTION_13_NAMES = {"Substate", "substate_reached"}


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


def test_section_13_names_are_exported() -> None:
    """The names section 13 of the contract adds are exported at top level and in guards."""
    assert set(salesstages.__all__) >= SECTION_13_NAMES
    assert salesstages.substate_reached is salesstages.guards.substate_reached


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


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's ``__all__`` order (RUF022): CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def _meant_public(module: types.ModuleType) -> set[str]:
    """The names a module defines, or (a package) re-exports from its private modules."""
    name = module.__name__
    is_package = hasattr(module, "__path__")
    out = set()
    for attr, obj in vars(module).items():
        if attr.startswith("_") or isinstance(obj, types.ModuleType | __future__._Feature):
            continue
        where = getattr(obj, "__module__", None)
        if isinstance(where, str):
            if where == name or (is_package and where.startswith(f"{name}._")):
                out.add(attr)
        elif is_package and attr.isupper() and not isinstance(obj, bool):
            out.add(attr)  # a constant of the package front (NO_REASON, SCHEMA)
    return out - {attr for mod, attr in NOT_EXPORTED if mod == name}


@pytest.mark.parametrize("name", PUBLIC_MODULES + OTHER_PUBLIC)
def test_each_public_all_is_exact(name: str) -> None:
    """Each public module's ``__all__`` is sorted, names only what exists, and misses nothing."""
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert names == sorted(set(names), key=_isort_key), f"{name}.__all__ is not sorted and unique"
    assert [n for n in names if not hasattr(module, n)] == [], f"{name}.__all__ names a ghost"
    missing = _meant_public(module) - set(names)
    assert missing == set(), f"{name} defines or re-exports {sorted(missing)} outside __all__"


@pytest.mark.parametrize("name", [m for m in PUBLIC_MODULES if m != "salesstages.presets"])
def test_public_dir_is_all(name: str) -> None:
    """``dir()`` of each public package or module lists its public names (``__dir__``)."""
    module = importlib.import_module(name)
    if not hasattr(module, "__dir__"):  # pragma: no cover - every listed module has one
        pytest.skip(f"{name} has no __dir__")
    assert set(module.__all__) <= set(dir(module))


def test_reference_pages_document_the_public_modules() -> None:
    """Each public module has a reference page whose ``:::`` names it, and nothing else is one."""
    documented = set()
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        documented |= set(re.findall(r"^::: (\S+)$", page.read_text(encoding="utf-8"), re.M))
    assert documented == set(PUBLIC_MODULES)


_FROM_IMPORT = re.compile(r"^\s*from (salesstages[\w.]*) import (\([^)]*\)|[^\n]+)", re.M)


def _doc_imports() -> list[tuple[str, str, str]]:
    """Every ``from salesstages… import name`` in the docs and the README: (page, module, name)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = []
    for page in pages:
        for module, names in _FROM_IMPORT.findall(page.read_text(encoding="utf-8")):
            for part in names.strip("()").split(","):
                item = part.split("#")[0].strip().split(" as ")[0].strip()
                if item:
                    found.append((page.name, module, item))
    return found


def test_docs_name_only_importable_names() -> None:
    """Every name the docs import from a salesstages module is importable from that module."""
    found = _doc_imports()
    assert len(found) > 20  # the docs import plenty; a broken pattern would find none
    broken = []
    for page, module, item in found:
        mod = importlib.import_module(module)
        if not hasattr(mod, item):
            try:
                importlib.import_module(f"{module}.{item}")
            except ImportError:
                broken.append(f"{page}: from {module} import {item}")
    assert broken == []


def test_docs_import_public_names_from_public_modules() -> None:
    """The docs import only public names, from the public module that exports them."""
    private = [
        f"{page}: from {module} import {item}"
        for page, module, item in _doc_imports()
        if f"{module}.{item}" not in PUBLIC_MODULES
        and (
            item.startswith("_")
            or any(p.startswith("_") for p in module.split("."))
            or module not in PUBLIC_MODULES + OTHER_PUBLIC
            or item not in importlib.import_module(module).__all__
        )
    ]
    assert private == []


def test_the_core_imports_no_optional_extra() -> None:
    """§10: importing every public module loads none of the extras (Ibis, DuckDB, Arrow …)."""
    import subprocess
    import sys

    code = (
        "import sys, salesstages, salesstages.metrics, salesstages.forecast, salesstages.io, "
        "salesstages.report, salesstages.cli, salesstages.guards, salesstages.presets\n"
        "extras = ('ibis', 'duckdb', 'pyarrow', 'psycopg', 'pyspark', 'pandas', 'numpy', "
        "'polars', 'hypothesis', 'yaml', 'matplotlib')\n"
        "print(sorted(m for m in extras if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
