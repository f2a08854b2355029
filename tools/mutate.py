"""Mutation sampling: plant realistic one-line bugs in the core, one at a time, and
see whether the tests of that part of the code notice.

Every candidate mutation is found with :mod:`ast` (comparison boundaries and
negations, off-by-one constants, ``+``/``-`` swaps, ``and``/``or`` swaps,
dropped conditions, dropped ``not``, ``True``/``False`` swaps, ``min``/``max``
swaps and dropped statements); a fixed-seed sample of them per area is then
planted, each in a private copy of the repository in a temporary folder, and
that area's tests run against it with a time limit. A mutant is *killed* when
the tests fail (or time out), and *survives* when they pass. The working tree is
never written to, so an interrupted run leaves nothing behind.

Survivors that were judged equivalent (no test could tell them apart from the
original) are listed, each with its reason, in ``tools/mutate_equivalent.toml``
and left out of the score's denominator.

Usage::

    python tools/mutate.py                  # 12 mutants per area, seed 17
    python tools/mutate.py --per-area 30 --seed 3 --area deal --area guards
    python tools/mutate.py --list           # how many candidates each area has
    python tools/mutate.py --only 'ID'      # re-run one mutant (IDs are printed)
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("src/salesstages")
EQUIVALENT_FILE = ROOT / "tools" / "mutate_equivalent.toml"

#: Modules that run nothing worth mutating (entry points, the version).
_NOT_AREAS = ("__init__.py", "__main__.py")
#: Suites that cut across every area (both engines on drawn logs, the docs run as
#: written, a browser, several processes): an area's tests only when named for it.
_CROSS_CUTTING = ("test_engines", "test_docs", "test_cli_browser", "test_stores_processes")


def _imported_modules(path: Path) -> set[str]:
    """Every ``salesstages…`` module a test file imports (``from a import b`` gives
    both ``a`` and ``a.b``)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in out if m.startswith("salesstages")}


def derive_areas(root: Path = ROOT) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """area → (source files under src/salesstages, the tests that guard them), read
    from the package tree: one area per top-level module (``_replay.py`` is
    ``replay``) and one per sub-package (``_stores/`` is ``stores``, all its
    modules). An area's tests are ``tests/test_<name>.py`` and
    ``tests/test_<name>_*.py`` for the area's name and its modules' names, and
    every test file that imports one of its private modules directly (a unit
    test of its insides); ``tests/test_contract.py`` (the public contract, every
    area) comes last, so that ``-x`` stops early on a kill."""
    package = root / PACKAGE
    tests = sorted((root / "tests").glob("test_*.py"))
    imports = {t.name: _imported_modules(t) for t in tests}
    areas: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for entry in sorted(package.iterdir()):
        if entry.is_dir() and (entry / "__init__.py").is_file():
            files = sorted(
                p.relative_to(package).as_posix()
                for p in entry.rglob("*.py")
                if "__pycache__" not in p.parts
            )
        elif entry.suffix == ".py" and entry.name not in _NOT_AREAS:
            files = [entry.name]
        else:
            continue
        name = entry.stem.lstrip("_")
        names = {name} | {Path(f).stem.lstrip("_") for f in files if Path(f).name != "__init__.py"}
        modules = {
            "salesstages." + f.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            for f in files
        }
        fronts = {
            "salesstages." + f.removesuffix("/__init__.py").replace("/", ".")
            for f in files
            if f.endswith("/__init__.py")
        }
        private = {m for m in modules - fronts if any(p.startswith("_") for p in m.split(".")[1:])}
        guards = [
            t.name
            for t in tests
            if t.name != "test_contract.py"
            and (
                any(t.name == f"test_{n}.py" or t.name.startswith(f"test_{n}_") for n in names)
                or (imports[t.name] & private and not t.name.startswith(_CROSS_CUTTING))
            )
        ]
        areas[name] = (tuple(files), tuple(f"tests/{t}" for t in guards))
    from imports import read_graph  # tools/imports.py, beside this file

    arrows = read_graph(package)[1] if not all(own for _, own in areas.values()) else {}
    return {
        name: (files, (*(own or _borrowed(name, areas, arrows)), "tests/test_contract.py"))
        for name, (files, own) in areas.items()
    }


def _borrowed(
    name: str,
    areas: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    arrows: dict[str, set[str]],
) -> tuple[str, ...]:
    """For an area without tests of its own (a ground-floor helper, the codec): the
    tests of the areas whose modules import it directly (``arrows``: every import
    arrow of the package, from :func:`imports.read_graph`)."""

    def module(f: str) -> str:
        return "salesstages." + f.removesuffix(".py").removesuffix("/__init__").replace("/", ".")

    mine = {module(f) for f in areas[name][0]}
    out: list[str] = []
    for other, (files, tests) in areas.items():
        if other != name and any(arrows.get(module(f), set()) & mine for f in files):
            out.extend(t for t in tests if t not in out)
    return tuple(sorted(out))


#: area → (source files under src/salesstages, the tests that guard them), derived
#: from the package tree by :func:`derive_areas` (``--list`` shows them).
AREAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = derive_areas()

#: Not copied into the private workspaces.
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "site", "__pycache__", ".hypothesis", ".*_cache", "*.egg-info"
)

_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


# --------------------------------------------------------------------- mutants
@dataclasses.dataclass(frozen=True)
class Mutant:
    """One planted change: ``original`` text at ``(line, col)``..``(end_line, end_col)``
    of ``path`` (relative to the repository) becomes ``replacement``."""

    area: str
    path: str
    scope: str
    kind: str
    line: int
    col: int
    end_line: int
    end_col: int
    original: str
    replacement: str
    n: int = 1  # the n-th identical change in the same scope

    @property
    def id(self) -> str:
        """A stable name: file, function, kind and the change (no line numbers)."""
        base = f"{self.path.removeprefix('src/salesstages/')}::{self.scope}::{self.kind}::"
        text = f"{_one_line(self.original)} -> {_one_line(self.replacement)}"
        return base + text + (f" #{self.n}" if self.n > 1 else "")

    def apply(self, source: str) -> str:
        """``source`` with this change planted."""
        lines = source.splitlines(keepends=True)
        start = _offset(lines, self.line, self.col)
        end = _offset(lines, self.end_line, self.end_col)
        text = "".join(lines)
        assert text[start:end] == self.original, f"{self.id}: source changed under the mutant"
        return text[:start] + self.replacement + text[end:]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _offset(lines: list[str], line: int, col: int) -> int:
    # ast columns are UTF-8 byte offsets
    head = lines[line - 1].encode()[:col].decode()
    return sum(len(x) for x in lines[: line - 1]) + len(head)


def _skipped_subtrees(tree: ast.Module) -> set[int]:
    """ids of nodes whose subtrees are never mutated: annotations, docstrings,
    f-strings, raise statements (error messages), asserts, ``@overload`` stubs,
    ``TYPE_CHECKING`` blocks and ``__all__``/``__slots__``."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign):
            mark(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
            if any(ast.unparse(d).endswith("overload") for d in node.decorator_list):
                mark(node)  # a typing stub: never runs
        if isinstance(node, ast.JoinedStr | ast.Raise | ast.Assert):
            mark(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            mark(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("__all__", "__slots__") for t in node.targets
        ):
            mark(node)
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            mark(body[0])
    return skip


def _scopes(tree: ast.Module) -> dict[int, str]:
    """id(node) → the dotted name of the innermost class or function around it."""
    out: dict[int, str] = {}

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{scope}.{child.name}" if scope != "<module>" else child.name
            out[id(child)] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return out


def _segment(source: str, node: ast.AST) -> str | None:
    return ast.get_source_segment(source, node)


def _is_text(node: ast.AST) -> bool:
    """A string literal or f-string (``+`` joins text there; ``-`` is a TypeError)."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _is_atom(expression: str) -> bool:
    node = ast.parse(expression, mode="eval").body
    return isinstance(node, ast.Name | ast.Constant | ast.Attribute | ast.Call | ast.Subscript)


def _changes(node: ast.AST) -> Iterator[tuple[str, ast.AST, str]]:
    """(kind, the node to replace, its replacement text) for every mutation of ``node``."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        new_op = _BOUNDARY.get(type(node.ops[0]))
        if new_op is not None:
            kind = (
                "boundary"
                if isinstance(node.ops[0], ast.Lt | ast.LtE | ast.Gt | ast.GtE)
                else "negate"
            )
            yield (
                kind,
                node,
                ast.unparse(
                    ast.Compare(left=node.left, ops=[new_op()], comparators=node.comparators)
                ),
            )
    elif isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "and_or", node, ast.unparse(ast.BoolOp(op=other, values=node.values))
        for i in range(len(node.values)):
            rest = node.values[:i] + node.values[i + 1 :]
            kept = rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
            yield "drop_condition", node, ast.unparse(kept)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop_not", node, ast.unparse(node.operand)
    elif (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add | ast.Sub)
        and not any(_is_text(x) for x in (node.left, node.right))
    ):
        swapped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        yield (
            "plus_minus",
            node,
            ast.unparse(ast.BinOp(left=node.left, op=swapped, right=node.right)),
        )
    elif isinstance(node, ast.Constant):
        if node.value is True or node.value is False:
            yield "true_false", node, repr(not node.value)
        elif isinstance(node.value, int):
            yield "off_by_one", node, repr(node.value + 1)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("min", "max")
    ):
        yield "min_max", node.func, "max" if node.func.id == "min" else "min"


def _statement_drops(tree: ast.Module, skip: set[int]) -> Iterator[ast.stmt]:
    """Statements whose removal is a realistic slip, in a body of two or more
    inside a function: an augmented assignment, an assignment to an attribute
    or item, a re-assignment of a local (``seen = set()`` in a loop), a bare
    call, ``continue`` or ``break``. A local's only assignment is left alone:
    dropping it is a NameError, not a bug a test has to notice."""
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        own = list(_own_nodes(func))
        stores = Counter(
            n.id for n in own if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        )
        for node in own:
            for field in ("body", "orelse", "finalbody"):
                body = getattr(node, field, None)
                if not isinstance(body, list) or len(body) < 2:
                    continue
                for stmt in body:
                    if id(stmt) not in skip and _droppable(stmt, stores):
                        yield stmt


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """``func`` and every node inside it, except those of nested functions and classes."""
    yield func
    for child in ast.iter_child_nodes(func):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _own_nodes(child)


def _droppable(stmt: ast.stmt, stores: Counter[str]) -> bool:
    if isinstance(stmt, ast.AugAssign | ast.Continue | ast.Break):
        return True
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, ast.Call)
    if isinstance(stmt, ast.Assign):
        names = [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        plain = all(isinstance(t, ast.Name | ast.Tuple) for t in stmt.targets)
        return not plain or all(stores[n] > 1 for n in names)
    return False


def mutants_of(area: str, path: str) -> list[Mutant]:
    """Every candidate mutant of one source file, in file order."""
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    skip = _skipped_subtrees(tree)
    scopes = _scopes(tree)
    lines = source.splitlines()
    found: list[Mutant] = []

    def add(kind: str, node: ast.AST, replacement: str, scope_of: ast.AST) -> None:
        original = _segment(source, node)
        line = getattr(node, "lineno", 0)
        if original is None or "pragma: no cover" in lines[line - 1]:
            return
        if kind != "drop_statement" and not _is_atom(replacement):
            replacement = f"({replacement})"  # keep the precedence of the surroundings
        found.append(
            Mutant(
                area=area,
                path=path,
                scope=scopes.get(id(scope_of), "<module>"),
                kind=kind,
                line=line,
                col=node.col_offset,  # type: ignore[attr-defined]
                end_line=node.end_lineno,  # type: ignore[attr-defined]
                end_col=node.end_col_offset,  # type: ignore[attr-defined]
                original=original,
                replacement=replacement,
            )
        )

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        for kind, target, replacement in _changes(node):
            add(kind, target, replacement, node)
    for stmt in _statement_drops(tree, skip):
        add("drop_statement", stmt, "pass", stmt)
    # number identical changes within one scope so that every id is unique
    found.sort(key=lambda m: (m.line, m.col, m.kind, m.replacement))
    seen: Counter[tuple[str, str, str, str]] = Counter()
    out = []
    for m in found:
        key = (m.scope, m.kind, _one_line(m.original), _one_line(m.replacement))
        seen[key] += 1
        out.append(_with_n(m, seen[key]))
    return out


def _with_n(m: Mutant, n: int) -> Mutant:
    return dataclasses.replace(m, n=n)


def candidates(area: str) -> list[Mutant]:
    """Every candidate mutant of an area's source files."""
    files, _ = AREAS[area]
    return [m for f in files for m in mutants_of(area, str(PACKAGE / f))]


def sample(areas: Sequence[str], per_area: int, seed: int) -> list[Mutant]:
    """``per_area`` mutants drawn from each area with a seeded generator."""
    chosen: list[Mutant] = []
    for area in areas:
        pool = candidates(area)
        rng = random.Random(f"{seed}:{area}")
        picked = rng.sample(pool, min(per_area, len(pool)))
        chosen.extend(sorted(picked, key=lambda m: (m.path, m.line, m.col, m.kind)))
    return chosen


# --------------------------------------------------------------------- running
@dataclasses.dataclass
class Result:
    """What the tests said about one mutant."""

    mutant: Mutant
    status: str  # "killed", "timeout" or "survived"
    seconds: float


def _pytest_command(tests: Sequence[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "--no-header",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow and not browser",
        *tests,
    ]


def _env(workspace: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(workspace / "src"), *filter(None, [env.get("PYTHONPATH", "")])]
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a same-size mutant must never reuse a stale .pyc
    env["CI"] = "1"  # the derandomised Hypothesis profile: the same examples every run
    return env


def _run(workspace: Path, tests: Sequence[str], timeout: float) -> tuple[int | None, float]:
    """Run pytest in ``workspace``; the exit code (``None`` on timeout) and seconds taken."""
    start = time.monotonic()
    for attempt in range(5):
        try:
            proc = subprocess.Popen(
                _pytest_command(tests),
                cwd=workspace,
                env=_env(workspace),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            break
        except FileNotFoundError:  # the interpreter's venv is being re-linked: wait
            if attempt == 4:
                raise
            time.sleep(2 + 2 * attempt)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        _kill(proc)
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    return code, time.monotonic() - start


#: The pytest runs under way (each in its own session, so Ctrl-C does not reach them).
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _kill_all() -> None:
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        _kill(proc)


def _check_workspace(workspace: Path) -> None:
    """Make sure the copy, not an installed salesstages, is what the tests import."""
    out = subprocess.run(
        [sys.executable, "-c", "import salesstages; print(salesstages.__file__)"],
        cwd=workspace,
        env=_env(workspace),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(workspace.resolve()):
        sys.exit(f"mutate: the tests would import salesstages from {out}, not from the copy")


def run_mutants(
    mutants: Sequence[Mutant], jobs: int, timeout_factor: float, report: Callable[[Result], None]
) -> list[Result]:
    """Plant each mutant in a private copy and run its area's tests; baselines first."""
    areas = sorted({m.area for m in mutants})
    with tempfile.TemporaryDirectory(prefix="salesstages-mutate-") as tmp:
        spaces: queue.Queue[Path] = queue.Queue()
        for j in range(jobs):
            ws = Path(tmp) / f"ws{j}"
            shutil.copytree(ROOT, ws, ignore=_IGNORE)
            spaces.put(ws)
        first = spaces.get()
        _check_workspace(first)
        limits: dict[str, float] = {}
        for area in areas:
            code, seconds = _run(first, AREAS[area][1], timeout=600)
            if code != 0:
                sys.exit(
                    f"mutate: the {area} tests fail without any mutant (exit {code}); "
                    "fix the suite first"
                )
            limits[area] = max(30.0, timeout_factor * seconds)
            print(f"baseline {area:9} {seconds:5.1f}s (time limit {limits[area]:.0f}s)")
        spaces.put(first)

        def one(m: Mutant) -> Result:
            ws = spaces.get()
            target = ws / m.path
            original = target.read_text(encoding="utf-8")
            try:
                target.write_text(m.apply(original), encoding="utf-8")
                code, seconds = _run(ws, AREAS[m.area][1], limits[m.area])
            finally:
                target.write_text(original, encoding="utf-8")
                spaces.put(ws)
            # pytest exits 1 when a test fails and 2 when collection fails (the
            # mutant broke an import): both are kills; 3, 4 and 5 are the tool's fault
            status = "timeout" if code is None else "survived" if code == 0 else "killed"
            if code is not None and code > 2:
                status = f"error (pytest exit {code})"
            result = Result(m, status, seconds)
            report(result)
            return result

        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            futures = [pool.submit(one, m) for m in mutants]
            return [f.result() for f in futures]
        except BaseException:  # Ctrl-C: drop the queue, stop the runs, restore, clean up
            pool.shutdown(wait=False, cancel_futures=True)
            _kill_all()
            raise
        finally:
            pool.shutdown(wait=True)


# --------------------------------------------------------------------- report
def load_equivalent(path: Path = EQUIVALENT_FILE) -> dict[str, str]:
    """id → why, for survivors judged equivalent."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {e["id"]: e["why"] for e in data.get("equivalent", [])}


def _area_of(mutant_id: str) -> str | None:
    """The area whose source file a mutant id names."""
    path = mutant_id.split("::", 1)[0]
    return next((a for a, (files, _) in AREAS.items() if path in files), None)


def _describe(m: Mutant) -> str:
    return f"{m.path.removeprefix('src/salesstages/')}:{m.line}"


def summarise(results: Sequence[Result], equivalent: dict[str, str]) -> float | None:
    """Print the score per area and overall, and every survivor; return the score."""
    by_area: dict[str, Counter[str]] = {}
    for r in results:
        c = by_area.setdefault(r.mutant.area, Counter())
        eq = r.status == "survived" and r.mutant.id in equivalent
        c["equivalent" if eq else "killed" if r.status in ("killed", "timeout") else r.status] += 1
    print("\narea        mutants  killed  survived  equivalent  score")
    total: Counter[str] = Counter()
    for area, c in sorted(by_area.items()):
        total.update(c)
        print(
            f"{area:10} {sum(c.values()):8} {c['killed']:7} {c['survived']:9} "
            f"{c['equivalent']:11}  {_pct(c)}"
        )
    print(
        f"{'all':10} {sum(total.values()):8} {total['killed']:7} {total['survived']:9} "
        f"{total['equivalent']:11}  {_pct(total)}"
    )
    errors = [r for r in results if r.status.startswith("error")]
    for r in errors:
        print(f"ERROR   {_describe(r.mutant)}  {r.status}  {r.mutant.id}")
    equivalents = [r for r in results if r.status == "survived" and r.mutant.id in equivalent]
    if equivalents:
        print("\nsurvivors judged equivalent (tools/mutate_equivalent.toml):")
        for r in equivalents:
            print(f"  {_describe(r.mutant)}  {r.mutant.id}\n      why: {equivalent[r.mutant.id]}")
    survivors = [r for r in results if r.status == "survived" and r.mutant.id not in equivalent]
    if survivors:
        print("\nsurvivors (a test should catch these, or list them as equivalent):")
        for r in survivors:
            print(f"  {_describe(r.mutant)}  {r.mutant.id}")
    killed, live = total["killed"], total["survived"]
    score = killed / (killed + live) if killed + live else None
    print(
        f"\nmutation score: {killed}/{killed + live} non-equivalent mutants killed"
        + (f" = {score:.1%}" if score is not None else "")
    )
    return score


def _pct(c: Counter[str]) -> str:
    n = c["killed"] + c["survived"]
    return f"{c['killed'] / n:6.1%}" if n else "     -"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--area", action="append", choices=sorted(AREAS), help="repeatable; default all"
    )
    ap.add_argument("--per-area", type=int, default=12, help="mutants drawn per area (12)")
    ap.add_argument("--seed", type=int, default=17, help="the sample's seed (17)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (1)")
    ap.add_argument(
        "--timeout-factor",
        type=float,
        default=4.0,
        help="time limit per mutant, as a multiple of the baseline run (4)",
    )
    ap.add_argument(
        "--fail-under", type=float, default=None, help="exit 1 when the score (in %%) is below this"
    )
    ap.add_argument("--list", action="store_true", help="count the candidates and stop")
    ap.add_argument("--only", action="append", metavar="ID", help="run just this mutant")
    args = ap.parse_args(argv)
    areas = args.area or sorted(AREAS)
    if args.list:
        for area in areas:
            kinds = Counter(m.kind for m in candidates(area))
            detail = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
            print(f"{area:9} {sum(kinds.values()):5}  ({detail})")
        return 0
    if args.only:
        pool = {m.id: m for area in areas for m in candidates(area)}
        missing = [i for i in args.only if i not in pool]
        if missing:
            print(f"mutate: no mutant with id {missing[0]!r}; run with --list or a sample first")
            return 2
        mutants = [pool[i] for i in args.only]
    else:
        mutants = sample(areas, args.per_area, args.seed)
    print(f"{len(mutants)} mutants over {', '.join(areas)} (seed {args.seed})")
    known = {m.id for area in areas for m in candidates(area)}
    stale = [i for i in load_equivalent() if i not in known and _area_of(i) in areas]
    for i in stale:
        print(f"note: {EQUIVALENT_FILE.name} lists {i!r}, which the code no longer has")
    done = 0

    def report(r: Result) -> None:
        nonlocal done
        done += 1
        m = r.mutant
        print(
            f"[{done:3}/{len(mutants)}] {r.status:8} {r.seconds:5.1f}s  {_describe(m):28} "
            f"{m.kind:14} {_one_line(m.original)!r} -> {_one_line(m.replacement)!r}",
            flush=True,
        )

    try:
        results = run_mutants(mutants, max(1, args.jobs), args.timeout_factor, report)
    except KeyboardInterrupt:
        print("mutate: interrupted; nothing was left behind", file=sys.stderr)
        return 130
    score = summarise(results, load_equivalent())
    if any(r.status.startswith("error") for r in results):
        return 1
    if args.fail_under is not None and score is not None and score * 100 < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
