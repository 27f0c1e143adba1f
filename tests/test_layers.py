"""The floors of harkd: a module never imports a higher floor (not even inside a function), and no
two packages import each other in a circle. Read off the source with ``ast``, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "harkd"

#: bottom to top; a name is a top-level module or package of harkd (``__init__``: the package face,
#: whose lazy attributes are the Python API, so it sits on the top floor)
FLOORS = [
    {"errors", "registry", "checks", "tensors", "plugins"},
    {"data"},
    {"encoding"},
    {"models"},
    {"losses"},
    {"semantic"},
    {"engine"},
    {"distill", "recipes"},  # recipes: imports the method packages so that they register their recipes
    {"export"},
    {"api", "cli", "suites", "__init__", "__main__"},  # suites: the benchmark runner, above everything it runs
]
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}

#: (importing module, imported package) pairs known to break the floors, each with its reason; keep it short
ALLOWED: set = set()  # (importing module, imported package) pairs allowed to break the floors: none


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def top(module: str) -> str:
    """The top-level harkd name a module belongs to (``__init__`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every harkd module ``module`` imports, at module level or inside functions, with its line."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # ``from harkd import x``: x is a submodule (or the face's attribute)
            targets = [f"{name}.{alias.name}" for alias in node.names] if name == "harkd" else [name]
            found += [(t, node.lineno) for t in targets]
    return sorted(((name, line) for name, line in found if name == "harkd" or name.startswith("harkd.")),
                  key=lambda item: item[1])


def edges() -> list[tuple[str, str, str, int]]:
    """(importing module, its top name, imported top name, line) for every import between two top names."""
    out = []
    for module, path in modules().items():
        for name, line in imports(module, path):
            if name == "harkd" or name == "harkd.__version__":  # the package itself: imported by every import
                continue
            src, dst = top(module), name.split(".")[1]
            if src != dst:
                out.append((module, src, dst, line))
    return out


def test_every_module_is_on_a_floor():
    unknown = sorted({top(m) for m in modules()} - set(FLOOR))
    assert not unknown, f"harkd.{unknown[0]} is on no floor: add it to FLOORS in tests/test_layers.py"


def test_no_module_imports_a_higher_floor():
    upward = [f"{module} (line {line}) imports harkd.{dst}: floor {FLOOR[src]} -> {FLOOR[dst]}"
              for module, src, dst, line in edges()
              if dst in FLOOR and FLOOR[dst] > FLOOR[src] and (module, dst) not in ALLOWED]
    assert not upward, "\n".join(upward)


def test_the_engine_never_imports_distill():
    found = [f"{module} (line {line})" for module, src, dst, line in edges() if src == "engine" and dst == "distill"]
    assert not found, ", ".join(found)


def test_no_circle_between_packages():
    graph: dict[str, set[str]] = {}
    for module, src, dst, _ in edges():
        if (module, dst) not in ALLOWED:
            graph.setdefault(src, set()).add(dst)

    def circle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    return path + [start]
                if nxt not in path:
                    stack.append((nxt, path + [nxt]))
        return None

    circles = [" -> ".join(c) for c in map(circle_from, sorted(graph)) if c]
    assert not circles, circles[0]


def test_the_checker_sees_function_level_imports(tmp_path):
    """A lazy import inside a function counts like a module-level one (so the rules cannot be dodged)."""
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from harkd.distill import DISTILL\n    import harkd.cli.main\n\n"
                    "from ..recipes import get_recipe\n")
    assert imports("harkd.engine.mod", path) == [("harkd.distill", 2), ("harkd.cli.main", 3), ("harkd.recipes", 5)]
