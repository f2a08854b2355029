"""Measure the layering of ``src/salesstages`` from its imports.

Run ``python tools/imports.py`` from the repository root (``--src`` names another
tree, ``--packages`` collapses each sub-package into one node, ``--verbose``
lists the circles, the arrows running up and the largest modules). Nothing is
imported: every file is read with :mod:`ast`, so the figures hold for a tree
whose dependencies are not installed.

How it counts:

* **files**: every ``.py`` module under the package (a package's
  ``__init__.py`` is the package's node). With ``--packages`` each sub-package
  (``metrics``, ``io``, ``_stores`` …) counts as one node.
* **import arrows**: one arrow ``A -> B`` when module ``A`` imports module ``B``
  anywhere in its text: at module level, under ``if TYPE_CHECKING:``, or inside
  a function. ``from .x import name`` is an arrow to ``x``, or to ``x.name``
  when that is a module; ``from . import x`` is an arrow to ``x``. Several
  imports between the same two modules are one arrow; an import of a module by
  itself, or of a package's own ``__init__`` by one of its modules through a
  submodule path, is not counted.
* **import circles**: the strongly connected components with more than one
  module of the graph of all arrows. A deferred import (inside a function or
  under ``TYPE_CHECKING``) still ties two modules together: neither reads, nor
  moves, without the other.
* **layers**: each module's rank is the length of the longest chain of
  *eager* imports (module level, not under ``TYPE_CHECKING``) below it, after
  collapsing circles of eager imports into one node; the modules that import
  nothing of the package are rank 0. ``layers`` is the highest rank + 1: the
  number of floors the code stands on. Eager imports are the ones Python runs
  when the module is imported, so they fix the order the modules load in.
* **arrows running up**: the arrows (of any kind) from a module to one of the
  same or a higher rank, i.e. against the eager order: a deferred import that
  reaches up to a module that loads after the importer (or beside it).
* **private cross-package imports**: the arrows that reach past another
  package's front into one of its private parts: from a module outside package
  ``P`` to a module below ``P`` whose path below the nearest package the two
  share has a private (``_``-prefixed) part, e.g. ``forecast._markov ->
  metrics._history`` or ``io._arrow -> _stores.sqlite``; ``metrics ->
  _events`` is not one (``_events`` is a private module of the package both
  sit in).

The output is one ``name: value`` line per figure, then, with ``--verbose``,
the details.

``--check BASELINE`` compares the tree with a committed baseline (a JSON file
written by ``--write-baseline``) and exits 1, naming each, on an import circle
that is new or larger, an arrow running up that is new, or a module over
:data:`MAX_LINES` lines; what the baseline already holds passes, so a change
that does not worsen the layering passes too. ``make test`` runs it.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

PACKAGE = "salesstages"
#: The most lines a module may have (split by concept, never by size).
MAX_LINES = 800


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it is eager (module level, run on import)."""

    def walk(
        nodes: Iterable[ast.stmt], eager: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, eager
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(node.body, False)
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, eager)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, False)
                yield from walk(node.orelse, eager)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        stmts: list[ast.stmt] = []
                        for child in children:
                            if isinstance(child, ast.ExceptHandler):
                                stmts.extend(child.body)
                            elif isinstance(child, ast.stmt):
                                stmts.append(child)
                        yield from walk(stmts, eager)
                if isinstance(node, ast.Match):
                    for case in node.cases:
                        yield from walk(case.body, eager)

    yield from walk(tree.body, True)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def read_graph(
    root: Path,
) -> tuple[dict[str, int], dict[str, set[str]], dict[str, set[str]]]:
    """Lines per module, every arrow, and the eager arrows, read from the tree at ``root``."""
    files = {_module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    lines = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in files.items()}
    arrows: dict[str, set[str]] = {m: set() for m in files}
    eager: dict[str, set[str]] = {m: set() for m in files}

    def target(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, is_eager in _imports(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = _resolve(module, path.name == "__init__.py", node)
                names = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names
                ]
            for name in names:
                if not name.startswith(PACKAGE):
                    continue
                dest = target(name)
                if dest is None or dest == module:
                    continue
                if module.startswith(dest + ".") and name != dest:
                    continue  # a submodule path through its own package
                arrows[module].add(dest)
                if is_eager:
                    eager[module].add(dest)
    return lines, arrows, eager


def collapse(arrows: Mapping[str, set[str]], depth: int = 1) -> dict[str, set[str]]:
    """The graph with every module below ``salesstages.X`` merged into ``salesstages.X``."""

    def node(m: str) -> str:
        return ".".join(m.split(".")[: depth + 1])

    out: dict[str, set[str]] = {}
    for m, dests in arrows.items():
        out.setdefault(node(m), set()).update(node(d) for d in dests if node(d) != node(m))
    return out


def components(arrows: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in sorted(arrows.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(arrows):
        if v not in index:
            visit(v)
    return out


def ranks(arrows: Mapping[str, set[str]]) -> dict[str, int]:
    """Each module's longest chain of arrows below it, circles collapsed (sinks are 0)."""
    comp_of = {m: i for i, comp in enumerate(components(arrows)) for m in comp}
    down: dict[int, set[int]] = {}
    for m, dests in arrows.items():
        down.setdefault(comp_of[m], set()).update(
            comp_of[d] for d in dests if comp_of[d] != comp_of[m]
        )
    memo: dict[int, int] = {}

    def rank(c: int) -> int:
        if c not in memo:
            memo[c] = 1 + max((rank(d) for d in down.get(c, ())), default=-1)
        return memo[c]

    return {m: rank(c) for m, c in comp_of.items()}


def private_reaches(arrows: Mapping[str, set[str]], packages: set[str]) -> list[tuple[str, str]]:
    """The arrows into another package's private parts (see the module docstring);
    ``packages`` are the modules that are packages (an ``__init__.py``)."""

    def home(m: str) -> str:
        return m if m in packages else m.rpartition(".")[0]

    out = []
    for m, dests in arrows.items():
        mine = home(m).split(".")
        for d in dests:
            parts = d.split(".")
            shared = 0
            while shared < min(len(mine), len(parts)) and mine[shared] == parts[shared]:
                shared += 1
            below = parts[shared:]
            if len(below) >= 2 and any(p.startswith("_") for p in below):
                out.append((m, d))
    return sorted(out)


def measure(arrows: Mapping[str, set[str]], eager: Mapping[str, set[str]]) -> dict[str, object]:
    """The figures (and their details) of one graph."""
    circles = [c for c in components(arrows) if len(c) > 1]
    rank = ranks(eager)
    up = sorted(
        (m, d, rank[m], rank[d]) for m, dests in arrows.items() for d in dests if rank[d] >= rank[m]
    )
    return {
        "files": len(arrows),
        "layers": max(rank.values()) + 1,
        "import arrows": sum(len(d) for d in arrows.values()),
        "arrows running up": len(up),
        "import circles": len(circles),
        "_circles": circles,
        "_up": up,
        "_rank": rank,
    }


def baseline(arrows: Mapping[str, set[str]], eager: Mapping[str, set[str]]) -> dict[str, object]:
    """What ``--check`` compares against: every circle and every arrow running up."""
    figures = measure(arrows, eager)
    return {
        "circles": figures["_circles"],
        "up": [[m, d] for m, d, _, _ in figures["_up"]],  # type: ignore[attr-defined]
    }


def dump_baseline(data: Mapping[str, object]) -> str:
    """``data`` as JSON with one circle or arrow a line (so that merges stay clean)."""
    parts = []
    for key in ("circles", "up"):
        rows = [f"    {json.dumps(row)}" for row in data[key]]  # type: ignore[attr-defined]
        parts.append(f'  "{key}": [\n' + ",\n".join(rows) + "\n  ]")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def check(
    lines: Mapping[str, int],
    arrows: Mapping[str, set[str]],
    eager: Mapping[str, set[str]],
    base: Mapping[str, object],
) -> list[str]:
    """What is worse than ``base``: each new or larger circle, new arrow running up
    and module over :data:`MAX_LINES` lines, one line each (empty: no worse)."""
    now = baseline(arrows, eager)
    known = [set(c) for c in base.get("circles", [])]  # type: ignore[attr-defined]
    problems = [
        "new import circle: " + " <-> ".join(c)
        for c in now["circles"]  # type: ignore[attr-defined]
        if not any(set(c) <= k for k in known)
    ]
    old_up = {tuple(a) for a in base.get("up", [])}  # type: ignore[attr-defined]
    problems += [
        f"new arrow running up: {m} -> {d}"
        for m, d in now["up"]  # type: ignore[attr-defined]
        if (m, d) not in old_up
    ]
    problems += [
        f"module over {MAX_LINES} lines: {m} ({n} lines); split it by concept"
        for m, n in sorted(lines.items())
        if n > MAX_LINES
    ]
    return problems


def summary(root: Path, *, packages: bool = False) -> list[str]:
    """The figures of the tree at ``root``, one ``name: value`` line each."""
    lines, arrows, eager = read_graph(root)
    fronts = {_module_name(p, root) for p in root.rglob("__init__.py")}
    reaches = private_reaches(arrows, fronts)
    if packages:
        arrows, eager = collapse(arrows), collapse(eager)
    figures = measure(arrows, eager)
    out = [f"{key}: {value}" for key, value in figures.items() if not key.startswith("_")]
    out.append(f"private cross-package imports: {len(reaches)}")
    biggest = max(lines.items(), key=lambda kv: kv[1])
    out.append(f"largest module: {biggest[0]} ({biggest[1]} lines)")
    out.append(f"modules over {MAX_LINES} lines: {sum(n > MAX_LINES for n in lines.values())}")
    return out


#: The markers around the figures ``--update-doc`` writes into a Markdown page.
DOC_BEGIN = "<!-- tools/imports.py: begin -->"
DOC_END = "<!-- tools/imports.py: end -->"


def doc_block(root: Path) -> str:
    """The figures as the layout page shows them: per module, then per sub-package."""
    return "\n".join(
        [
            DOC_BEGIN,
            "```text",
            "$ python tools/imports.py",
            *summary(root),
            "$ python tools/imports.py --packages",
            *summary(root, packages=True),
            "```",
            DOC_END,
        ]
    )


def doc_figures(page: str) -> str:
    """The block between the markers of ``page`` (markers included), or ``""``."""
    start = page.find(DOC_BEGIN)
    end = page.find(DOC_END)
    return page[start : end + len(DOC_END)] if 0 <= start < end else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", type=Path, default=Path("src") / PACKAGE, help="the package folder"
    )
    parser.add_argument("--packages", action="store_true", help="one node per sub-package")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="list circles, up arrows, sizes"
    )
    parser.add_argument(
        "--check", type=Path, metavar="BASELINE", help="exit 1 on anything worse than it"
    )
    parser.add_argument(
        "--write-baseline", type=Path, metavar="BASELINE", help="record the tree as it is"
    )
    parser.add_argument(
        "--update-doc",
        type=Path,
        metavar="PAGE",
        help="rewrite the figures between the markers of a Markdown page",
    )
    args = parser.parse_args(argv)
    if args.update_doc is not None:
        page = args.update_doc.read_text(encoding="utf-8")
        old = doc_figures(page)
        if not old:
            print(f"imports: {args.update_doc} has no {DOC_BEGIN} … {DOC_END} block")
            return 2
        args.update_doc.write_text(page.replace(old, doc_block(args.src)), encoding="utf-8")
        print(f"updated {args.update_doc}")
        return 0
    lines, arrows, eager = read_graph(args.src)
    if args.packages:
        arrows, eager = collapse(arrows), collapse(eager)
    if args.write_baseline is not None:
        args.write_baseline.write_text(dump_baseline(baseline(arrows, eager)), encoding="utf-8")
        print(f"wrote {args.write_baseline}")
        return 0
    if args.check is not None:
        base = json.loads(args.check.read_text(encoding="utf-8"))
        problems = check(lines, arrows, eager, base)
        for problem in problems:
            print(f"imports: {problem}", file=sys.stderr)
        if problems:
            print(
                "imports: the layering got worse than the baseline; fix the import (or, "
                f"for a deliberate change, refresh {args.check} with --write-baseline)",
                file=sys.stderr,
            )
            return 1
        print("imports: no new circle, no new arrow running up, no module over "
              f"{MAX_LINES} lines")  # fmt: skip
        return 0
    print("\n".join(summary(args.src, packages=args.packages)))
    if args.verbose:
        figures = measure(arrows, eager)
        for circle in figures["_circles"]:  # type: ignore[attr-defined]
            print("circle:", " <-> ".join(circle))
        for m, d, rm, rd in figures["_up"]:  # type: ignore[attr-defined]
            print(f"up: {m} ({rm}) -> {d} ({rd})")
        for m, n in sorted(lines.items(), key=lambda kv: -kv[1])[:10]:
            print(f"size: {m} {n}")
        fronts = {_module_name(p, args.src) for p in args.src.rglob("__init__.py")}
        for m, d in private_reaches(read_graph(args.src)[1], fronts):
            print(f"private: {m} -> {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
