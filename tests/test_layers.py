"""The import-layer contract: foleyzoo's packages depend downwards only, and no modules import each other.

Every import of a foleyzoo module counts, at module level or inside a function (a lazy import is still
a dependency). The layers are written in ``docs/concepts.md``; a package may import its own layer and
the layers below it, never one above.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "foleyzoo"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("contracts", ("api", "errors", "compat")),
    ("plugin machinery", ("plugins",)),
    ("files", ("io",)),
    ("parts", ("codecs", "vocoders", "encoders", "mmdit", "samplers", "renderers", "zoo")),
    ("data", ("data", "synthfoley")),
    ("training", ("training",)),
    ("evaluation", ("embedders", "metrics")),
    ("serving", ("pipeline",)),
    ("applications", ("quickstart", "testing")),
    ("command line", ("cli",)),
]
"""Bottom to top. The package's own ``__init__`` and ``__main__`` stand above all (they only re-export)."""

LEVEL = {package: index for index, (_, packages) in enumerate(LAYERS) for package in packages}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def foleyzoo_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module or name) for every import of foleyzoo in a file, wherever it stands."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (
                (node.lineno, alias.name) for alias in node.names if alias.name.startswith("foleyzoo")
            )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base.startswith("foleyzoo"):
                yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def top_package(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = sorted(SRC.rglob("*.py"))


def test_every_package_is_in_a_layer() -> None:
    packages = {top_package(module_name(path)) for path in MODULES} - {"", "__init__", "__main__"}
    assert packages <= set(LEVEL), f"packages missing from the layers: {sorted(packages - set(LEVEL))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(SRC)))
def test_imports_point_down_only(path: Path) -> None:
    source = top_package(module_name(path))
    if source not in LEVEL:
        return  # foleyzoo/__init__.py and __main__.py: the top of the package
    upward = [
        f"{path.relative_to(SRC)}:{line} imports {target} ({LAYERS[LEVEL[top_package(target)]][0]} is above "
        f"{LAYERS[LEVEL[source]][0]})"
        for line, target in foleyzoo_imports(path)
        if top_package(target) in LEVEL and LEVEL[top_package(target)] > LEVEL[source]
    ]
    assert not upward, "\n".join(upward)


def test_the_api_imports_nothing_else_of_foleyzoo() -> None:
    targets = {target for _, target in foleyzoo_imports(SRC / "api.py")}
    assert not targets, targets


def test_no_modules_import_each_other_in_a_cycle() -> None:
    modules = {module_name(path): path for path in MODULES}

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph = {
        name: {
            found for _, target in foleyzoo_imports(path) if (found := resolve(target)) not in (None, name)
        }
        for name, path in modules.items()
    }
    graph = {name: {t for t in targets if not name.startswith(f"{t}.")} for name, targets in graph.items()}
    cycles = _strongly_connected(graph)
    assert not cycles, f"import cycles: {cycles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of two or more modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups
