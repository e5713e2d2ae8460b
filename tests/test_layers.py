"""The direction of imports inside vqual: the layer table at the top of `vqual`'s docstring (the one source), read
here, and every static import of every module under src/vqual (at module level or inside a function; not under
``if TYPE_CHECKING:``) checked against it: nothing imports a higher layer, and no modules import each other in a
circle. KNOWN_VIOLATIONS lists the imports that still break the rules while issue #15 is in progress, each with
the helper who removes it; the lead empties it after the merges. A new violation fails, and so does an entry that
no longer occurs (delete it then)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import vqual

SRC = Path(vqual.__file__).resolve().parent

#: (importer, imported) pairs allowed for now, by owner.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def parse_layers(doc: str) -> list[tuple[str, list[str]]]:
    """[(layer, [module names])] from the ``name: vqual.x vqual.y`` block (continuation lines indented further)."""
    layers: list[tuple[str, list[str]]] = []
    for line in doc.splitlines():
        m = re.match(r"^    (\w+):\s+(vqual\S*(?:\s+vqual\S*)*)\s*$", line)
        if m:
            layers.append((m[1], m[2].split()))
        elif layers and re.match(r"^\s{8,}vqual\S*(\s+vqual\S*)*\s*$", line):
            layers[-1][1].extend(line.split())
    return layers


LAYERS = parse_layers(ast.get_docstring(ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))) or "")
RANK = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}
LAYER_NAME = {i: layer for i, (layer, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """Rank of the longest table name that is `module` or a package above it (bare ``vqual`` matches only itself)."""
    best = None
    for name, rank in RANK.items():
        if module == name or (name != "vqual" and module.startswith(name + ".")):
            if best is None or len(name) > len(best[0]):
                best = (name, rank)
    return None if best is None else best[1]


def _resolve(name: str) -> str | None:
    """The deepest vqual module that `name` is or lies in (None outside vqual)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (they never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports_of(module: str, source: str) -> set[str]:
    """The vqual modules `module` imports statically (anywhere in its code), itself excluded."""
    tree = ast.parse(source)
    skip = _type_checking_nodes(tree)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out.update(t for t in (_resolve(x) for x in targets if x.startswith("vqual")) if t and t != module)
    return out


def import_graph() -> dict[str, set[str]]:
    return {m: imports_of(m, p.read_text(encoding="utf-8")) for m, p in MODULES.items()}


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets if layer_of(b) > layer_of(a))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def without_known(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {a: {b for b in targets if (a, b) not in KNOWN_VIOLATIONS} for a, targets in graph.items()}


# --- the table ----------------------------------------------------------------------------------------------------

def test_the_table_is_read_from_the_package_docstring():
    names = [layer for layer, _ in LAYERS]
    assert names == ["base", "media", "encoders", "heads", "models", "api", "metrics", "adapt", "eval", "serve", "cli"]
    assert RANK["vqual.result"] < RANK["vqual.media"] < RANK["vqual.encoders"] < RANK["vqual.heads"]
    assert RANK["vqual.heads"] < RANK["vqual.models"] < RANK["vqual.api"] < RANK["vqual.cli"]
    every = [n for _, names in LAYERS for n in names]
    assert len(every) == len(set(every)), "a name is in two layers"


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []


# --- the rules ----------------------------------------------------------------------------------------------------

def test_nothing_imports_a_higher_layer():
    bad = [(a, b) for a, b in upward(import_graph()) if (a, b) not in KNOWN_VIOLATIONS]
    assert bad == [], "\n".join(f"{a} ({LAYER_NAME[layer_of(a)]}) imports {b} ({LAYER_NAME[layer_of(b)]})"
                                for a, b in bad)


def test_no_import_cycles():
    found = cycles(without_known(import_graph()))
    assert found == [], "modules that import each other in a circle: " + "; ".join(" <-> ".join(c) for c in found)


def test_known_violations_still_occur():
    graph = import_graph()
    stale = [k for k in KNOWN_VIOLATIONS if k[1] not in graph.get(k[0], set())]
    assert stale == [], f"fixed, delete from KNOWN_VIOLATIONS in tests/test_layers.py: {stale}"


# --- the checker itself -------------------------------------------------------------------------------------------

def test_the_checker_sees_function_level_and_relative_imports_and_skips_type_checking():
    src = ("from typing import TYPE_CHECKING\n"
           "if TYPE_CHECKING:\n    from vqual.cli import score\n"
           "def f():\n    from vqual.adapt.maps import make_map\n    import vqual.eval.report\n"
           "    from . import result\n    from .media import kind\n    from vqual import api\n")
    assert imports_of("vqual.calibration", src) == {"vqual.adapt.maps", "vqual.eval.report", "vqual.result",
                                                     "vqual.media.kind", "vqual.api"}


def test_an_upward_import_and_a_cycle_are_caught():
    graph = without_known(import_graph())
    graph["vqual.result"] = graph["vqual.result"] | {"vqual.models.base"}  # models.base imports result
    assert ("vqual.result", "vqual.models.base") in upward(graph)
    assert any({"vqual.result", "vqual.models.base"} <= set(c) for c in cycles(graph))
    assert layer_of("vqual") == layer_of("vqual.cli") and layer_of("vqual.eval.metrics") < layer_of("vqual.adapt")
    assert layer_of("vqual.eval.protocols") > layer_of("vqual.adapt.maps")


@pytest.mark.parametrize("module", ["vqual.calibration", "vqual.result", "vqual.output", "vqual.paths"])
def test_the_base_layer_needs_nothing_above_it(module):
    assert all(layer_of(b) == 0 or (module, b) in KNOWN_VIOLATIONS for b in import_graph()[module])
