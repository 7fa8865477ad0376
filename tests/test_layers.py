"""The layers of byline import one way: no import circle, and no import from a lower layer to a
higher one (docs/architecture.md). Every import counts, at the top of a module, inside a function
(a lazy import) or under TYPE_CHECKING: each is the same dependency."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("search", "index")

# Highest first. A module may import its own layer and any layer below it, never one above.
LAYERS = [
    ("front ends", ("search.frontends", "search.cli")),
    ("engine", ("search.engine", "search.batched")),
    ("pipeline", ("search.pipeline",)),
    ("answers, stories, output", ("search.answering", "search.stories", "search.rendering",
                                  "search.saved", "search.queries")),
    ("ranking", ("search.ranking",)),
    ("retrieval", ("search.retrieval",)),
    ("calibration", ("search.calibration",)),
    ("write side", ("index",)),  # so index never imports search
]


def modules() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the packages that `name` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from a.b import c` imports module a.b.c when there is one, else a name of a.b
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def layer_of(name: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in tests/test_layers.py")


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer():
    for name in modules():
        if name not in PACKAGES:
            layer_of(name)


def test_no_import_from_a_lower_layer_to_a_higher_one():
    wrong = []
    for name, targets in graph().items():
        if name in PACKAGES:
            continue
        for target in sorted(targets):
            if target in PACKAGES:
                continue
            if layer_of(target) < layer_of(name):
                wrong.append(f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_circle():
    found = cycles(graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(group) for group in found)


def test_the_walk_finds_lazy_and_type_checking_imports():
    """The checks above see what they must: a lazy import and one under TYPE_CHECKING."""
    edges = graph()
    assert "search.retrieval.opened" in edges["search.engine"]  # lazy and TYPE_CHECKING in engine.py
    assert "search.ranking.ranker" in edges["search.pipeline"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
