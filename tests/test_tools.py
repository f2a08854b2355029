"""The tools tell the truth: the layering check, the layout page's figures and the
mutation areas all come from the package tree as it is."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "salesstages"
BASELINE = ROOT / "tools" / "imports_baseline.json"


def _tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module (tools/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    tools = str(ROOT / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)  # mutate.py imports imports.py beside it
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


imports = _tool("imports")


# ------------------------------------------------------------------- imports.py
def test_the_tree_is_no_worse_than_the_baseline() -> None:
    """No new import circle, no new arrow running up, no module over 800 lines."""
    lines, arrows, eager = imports.read_graph(SRC)
    base = imports.json.loads(BASELINE.read_text(encoding="utf-8"))
    assert imports.check(lines, arrows, eager, base) == []
    assert imports.main(["--src", str(SRC), "--check", str(BASELINE)]) == 0


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "salesstages"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_check_names_a_new_circle_a_new_up_arrow_and_a_long_module(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "X = 1\n",
            "c.py": "def f():\n    from . import d\n",
            "d.py": "from . import c\n",
        },
    )
    lines, arrows, eager = imports.read_graph(root)
    base = imports.baseline(arrows, eager)
    assert imports.check(lines, arrows, eager, base) == []  # the baseline itself passes
    # b now imports a back (a new circle), and a module grows past the limit
    (root / "b.py").write_text("def g():\n    from . import a\n", encoding="utf-8")
    (root / "e.py").write_text("x = 1\n" * 801, encoding="utf-8")
    lines, arrows, eager = imports.read_graph(root)
    problems = imports.check(lines, arrows, eager, base)
    assert "new import circle: salesstages.a <-> salesstages.b" in problems
    assert "new arrow running up: salesstages.b -> salesstages.a" in problems
    assert "module over 800 lines: salesstages.e (801 lines); split it by concept" in problems
    path = tmp_path / "base.json"
    path.write_text(imports.dump_baseline(base), encoding="utf-8")
    assert imports.main(["--src", str(root), "--check", str(path)]) == 1


def test_a_circle_that_grows_is_new(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"a.py": "from . import b\n", "b.py": "def f():\n    from . import a\n", "c.py": ""},
    )
    lines, arrows, eager = imports.read_graph(root)
    base = imports.baseline(arrows, eager)
    (root / "c.py").write_text("from . import a\n", encoding="utf-8")
    (root / "a.py").write_text("from . import b\ndef g():\n    from . import c\n")
    lines, arrows, eager = imports.read_graph(root)
    problems = imports.check(lines, arrows, eager, base)
    assert "new import circle: salesstages.a <-> salesstages.b <-> salesstages.c" in problems


def test_baseline_round_trips(tmp_path: Path) -> None:
    _, arrows, eager = imports.read_graph(SRC)
    data = imports.baseline(arrows, eager)
    assert imports.json.loads(imports.dump_baseline(data)) == data
    assert imports.json.loads(BASELINE.read_text(encoding="utf-8")).keys() == data.keys()


def test_private_reaches() -> None:
    """Past another package's front into its private parts counts; the package's own
    private modules and a private module of a shared package do not."""
    arrows = {
        "salesstages.forecast._markov": {"salesstages.metrics._history", "salesstages.metrics"},
        "salesstages.metrics._funnel": {"salesstages.metrics._history", "salesstages._events"},
        "salesstages.io._sources": {"salesstages._stores.sqlite", "salesstages._stores"},
        "salesstages.metrics": {"salesstages.metrics._funnel"},
    }
    packages = {"salesstages", "salesstages.metrics", "salesstages._stores", "salesstages.io"}
    assert imports.private_reaches(arrows, packages) == [
        ("salesstages.forecast._markov", "salesstages.metrics._history"),
        ("salesstages.io._sources", "salesstages._stores.sqlite"),
    ]


def test_layout_page_quotes_the_tools_figures() -> None:
    """docs/explanation/layout.md shows what tools/imports.py measures today (refresh it
    with ``python tools/imports.py --update-doc docs/explanation/layout.md``)."""
    page = (ROOT / "docs" / "explanation" / "layout.md").read_text(encoding="utf-8")
    assert imports.doc_figures(page) == imports.doc_block(SRC)


def test_update_doc_rewrites_only_the_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"before\n{imports.DOC_BEGIN}\nold\n{imports.DOC_END}\nafter\n")
    assert imports.main(["--src", str(SRC), "--update-doc", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("before\n")
    assert text.endswith("\nafter\n")
    assert imports.doc_figures(text) == imports.doc_block(SRC)
    page.write_text("no markers\n")
    assert imports.main(["--update-doc", str(page)]) == 2


# ------------------------------------------------------------------- mutate.py
def test_mutation_areas_cover_the_package_tree() -> None:
    """Every module of the package belongs to exactly one area, and every file and test
    an area names exists (so ``make mutate`` runs on a fresh clone)."""
    mutate = _tool("mutate")
    areas = mutate.derive_areas(ROOT)
    owned = [f for files, _ in areas.values() for f in files]
    assert len(owned) == len(set(owned))
    every = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")}
    # the package's own front and entry point are no area's (a sub-package's front is)
    modules = {m for m in every if "__pycache__" not in m and m not in mutate._NOT_AREAS}
    assert set(owned) == modules
    for files, tests in areas.values():
        assert all((SRC / f).is_file() for f in files)
        assert all((ROOT / t).is_file() for t in tests)
        assert tests[-1] == "tests/test_contract.py"
    assert {"replay", "deal", "pipeline", "guards", "metrics", "forecast", "stores", "io"} <= set(
        areas
    )
    assert "tests/test_stores.py" in areas["stores"][1]
    assert "tests/test_io.py" in areas["codec"][1]  # borrowed: io imports the codec


def test_mutation_areas_follow_a_new_module(tmp_path: Path) -> None:
    mutate = _tool("mutate")
    shutil.copytree(SRC, tmp_path / "src" / "salesstages")
    shutil.copytree(ROOT / "tests", tmp_path / "tests", ignore=shutil.ignore_patterns("*.pyc"))
    (tmp_path / "src" / "salesstages" / "_fresh.py").write_text("X = 1 < 2\n")
    (tmp_path / "tests" / "test_fresh.py").write_text("def test_x() -> None: ...\n")
    areas = mutate.derive_areas(tmp_path)
    assert areas["fresh"] == (("_fresh.py",), ("tests/test_fresh.py", "tests/test_contract.py"))


def test_equivalent_mutants_name_known_areas() -> None:
    mutate = _tool("mutate")
    for mutant_id in mutate.load_equivalent():
        assert mutate._area_of(mutant_id) is not None, mutant_id


@pytest.mark.parametrize("area", ["replay", "codec"])
def test_candidates_are_found(area: str) -> None:
    mutate = _tool("mutate")
    assert mutate.candidates(area)
