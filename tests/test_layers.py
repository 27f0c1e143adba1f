"""The floors of harkd: a module never imports a higher floor (not even inside a function), no two
packages import each other in a circle, and no modules inside a package either (module-level and lazy
imports alike). Read off the source with ``ast``, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "harkd"

#: bottom to top; a name is a top-level module or package of harkd (``__init__``: the package face,
#: whose lazy attributes are the Python API, so it sits on the top floor)
FLOORS = [
    {"_version", "errors", "registry", "checks", "tensors", "plugins"},
    {"data"},
    {"encoding"},
    {"models"},
    {"losses"},
    {"semantic"},
    {"engine"},
    {"distillation", "recipes"},  # recipes: imports the method packages so that they register their recipes
    {"deploy"},
    {"api", "cli", "suites", "__init__", "__main__"},  # suites: the benchmark runner, above everything it runs
]
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}



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
            # ``from p import x``: x is a submodule of p or an attribute of p (see :func:`resolve`)
            found += [(f"{name}.{alias.name}", node.lineno) for alias in node.names]
    return sorted(((name, line) for name, line in found if name == "harkd" or name.startswith("harkd.")),
                  key=lambda item: item[1])


def resolve(name: str, known) -> str:
    """The module an imported name runs: the longest of its prefixes that is a module (``harkd.x.f`` -> ``harkd.x``;
    ``harkd.__version__`` -> ``harkd``, the face)."""
    while name not in known:
        name = name.rpartition(".")[0]
    return name


def module_edges() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import of one harkd module by another."""
    known = modules()
    return [(module, target, line) for module, path in known.items() for name, line in imports(module, path)
            if (target := resolve(name, known)) != module]


def edges() -> list[tuple[str, str, str, int]]:
    """(importing module, its top name, imported top name, line) for every import between two top names."""
    return [(module, top(module), top(target), line) for module, target, line in module_edges()
            if top(module) != top(target)]


def circle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path from ``start`` back to itself in ``graph``, or None."""
    stack, seen = [(start, [start])], {start}
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_every_module_is_on_a_floor():
    unknown = sorted({top(m) for m in modules()} - set(FLOOR))
    assert not unknown, f"harkd.{unknown[0]} is on no floor: add it to FLOORS in tests/test_layers.py"


def test_no_module_imports_a_higher_floor():
    upward = [f"{module} (line {line}) imports harkd.{dst}: floor {FLOOR[src]} -> {FLOOR[dst]}"
              for module, src, dst, line in edges()
              if FLOOR[dst] > FLOOR[src]]
    assert not upward, "\n".join(upward)


def test_the_engine_never_imports_distillation():
    found = [f"{module} (line {line})" for module, src, dst, line in edges()
             if src == "engine" and dst == "distillation"]
    assert not found, ", ".join(found)


def test_no_circle_between_packages():
    graph: dict[str, set[str]] = {}
    for _, src, dst, _ in edges():
        graph.setdefault(src, set()).add(dst)
    circles = [" -> ".join(c) for c in (circle_from(graph, node) for node in sorted(graph)) if c]
    assert not circles, circles[0]


def test_no_circle_inside_a_package():
    """Within one top-level package, modules import each other one way only, lazily or not."""
    graph: dict[str, set[str]] = {}
    for module, target, _ in module_edges():
        if top(module) == top(target):
            graph.setdefault(module, set()).add(target)
    circles = [" -> ".join(c) for c in (circle_from(graph, node) for node in sorted(graph)) if c]
    assert not circles, "\n".join(circles)


def test_a_circle_inside_a_package_is_seen(tmp_path):
    """Two modules of one package that import each other, one of them lazily, make a circle."""
    (tmp_path / "a.py").write_text("from harkd.engine.b import g\n\ndef f():\n    return g()\n")
    (tmp_path / "b.py").write_text("def g():\n    from harkd.engine.a import f\n    return f\n")
    known = {"harkd.engine.a": tmp_path / "a.py", "harkd.engine.b": tmp_path / "b.py"}
    graph = {m: {resolve(n, known) for n, _ in imports(m, p)} for m, p in known.items()}
    assert circle_from(graph, "harkd.engine.a") == ["harkd.engine.a", "harkd.engine.b", "harkd.engine.a"]


def test_the_checker_sees_function_level_imports(tmp_path):
    """A lazy import inside a function counts like a module-level one (so the rules cannot be dodged)."""
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from harkd.distillation import DISTILL\n    import harkd.cli.main\n\n"
                    "from ..recipes import get_recipe\n")
    assert imports("harkd.engine.mod", path) == [("harkd.distillation.DISTILL", 2), ("harkd.cli.main", 3),
                                                 ("harkd.recipes.get_recipe", 5)]
