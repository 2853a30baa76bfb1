"""The package's layers (docs/architecture.md), checked on its source: every import goes down a
floor or stays inside its own unit, engines never import each other, there are no import cycles,
and modules and functions stay small enough to read."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dgeflow"

# bottom to top; a unit is a top-level module or subpackage of dgeflow
FLOORS = [
    # kernels and plumbing that know nothing of dgeflow
    {"stats", "threads", "fit_file", "formula", "layout", "simulate", "errors"},
    # what every engine takes: contrasts over a design, normalization
    {"contrasts", "normalize"},
    # the filterByExpr + TMM front that edgeR QL and limma-voom share
    {"filtered_fit"},
    # the engines side by side, and the readers
    {"deseq2", "edger", "limma", "io"},
    # the registry of methods: the one place that names every engine
    {"methods"},
    # what works on a run's data and results
    {"agreement", "qc", "validate"},
    {"report", "check"},
    {"api"},
    {"__init__", "__main__"},
]
FLOOR = {unit: i for i, units in enumerate(FLOORS) for unit in units}
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 120


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(module: str) -> set[str]:
    """dgeflow modules ``module`` imports anywhere in its body (inside functions too)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from dgeflow.x import y`: the module dgeflow.x.y, else the attribute y of dgeflow.x
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in targets:
            if name.split(".")[0] != "dgeflow":
                continue
            assert name in MODULES, f"{module} imports {name}, which is not a dgeflow module"
            if name != module:
                found.add(name)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_unit_has_a_floor():
    units = {_unit(m) for m in MODULES}
    assert units - set(FLOOR) == set(), "give each new module a floor in FLOORS and the docs"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_or_stay_inside_their_unit(module):
    unit = _unit(module)
    wrong = sorted(
        target
        for target in GRAPH[module]
        if _unit(target) != unit and FLOOR[_unit(target)] >= FLOOR[unit]
    )
    assert wrong == [], f"{module} (floor {FLOOR[unit]}) imports upward or sideways: {wrong}"


def test_engines_import_no_other_engine_and_no_io():
    engines = {"deseq2", "edger", "limma"}
    for module, targets in GRAPH.items():
        if _unit(module) in engines:
            others = {_unit(t) for t in targets} & (engines | {"io"}) - {_unit(module)}
            assert others == set(), f"{module} imports {others}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_checker_sees_a_cycle_and_an_upward_import(monkeypatch):
    """The checks above fail where they should (a stats kernel importing an engine)."""
    graph = dict(GRAPH)
    graph["dgeflow.stats.nb"] = GRAPH["dgeflow.stats.nb"] | {"dgeflow.deseq2.glm"}
    monkeypatch.setattr(__import__(__name__), "GRAPH", graph)
    with pytest.raises(AssertionError, match="upward or sideways"):
        test_imports_go_down_or_stay_inside_their_unit("dgeflow.stats.nb")
    with pytest.raises(AssertionError, match="import cycle"):
        test_no_import_cycles()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_short(module):
    text = MODULES[module].read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{module}: split it by concern"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == [], f"{module}: {long}"


def test_output_paths_are_spelled_only_in_the_layout():
    """No module but dgeflow/layout.py (and no rule file or script) writes a path of the output
    tree: they ask an OutputLayout."""
    spelled = re.compile(
        r"""["'](validation|normalized|qc|de)/|/\s*["'](validation|normalized|qc|de)["']"""
    )
    root = PACKAGE.parent
    sources = [
        *PACKAGE.rglob("*.py"),
        *(root / "scripts").glob("*.py"),
        *(root / "workflow").rglob("*.smk"),
        root / "workflow" / "Snakefile",
    ]
    offenders = [
        f"{path.relative_to(root)}:{i}"
        for path in sources
        if path.name != "layout.py"
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert offenders == []
