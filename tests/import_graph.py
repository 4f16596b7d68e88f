"""The project's import graph, read from the source (no module is imported): each module of
``medperf_lite`` and ``simulator`` with the project modules it imports, at the top or inside a
function. ``python tests/import_graph.py`` prints it as ``module -> module`` counts, grouped by
package, and any cycle; ``tests/unit/test_layers.py`` holds it to its layers.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("medperf_lite", "simulator")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if package == "simulator":  # installed as medperf_lite.simulator (pyproject's package-dir)
                parts = ("medperf_lite", *parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module a dotted import names (``a.b.c`` may be a name inside ``a.b``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            else:
                continue
            for imported in names:
                target = _resolve(imported, known)
                if target and target != name and not name.startswith(target + ".") and target != package:
                    targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for node in edges:
        if node not in index:
            visit(node)
    return found


def group(name: str) -> str:
    """A module's room: its package below the top one (``medperf_lite.containers``), or itself."""
    parts = name.split(".")
    return ".".join(parts[:2])


def room_counts(edges: dict[str, set[str]]) -> Counter:
    return Counter((group(a), group(b)) for a, targets in edges.items() for b in targets if group(a) != group(b))


def main() -> None:
    edges = graph()
    print(f"{len(edges)} modules, {sum(len(t) for t in edges.values())} imports between them")
    for (a, b), count in sorted(room_counts(edges).items()):
        print(f"  {a} -> {b}: {count}")
    found = cycles(edges)
    print(f"cycles: {len(found)}")
    for members in found:
        print("  " + " <-> ".join(members))


if __name__ == "__main__":
    main()
