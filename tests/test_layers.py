"""The package's layout: stages in one order, imports flowing down, no cycle.

Every import of an auxsearch module counts, those inside functions and under
`TYPE_CHECKING` too: an import that runs up a stage is a dependency either way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auxsearch"

# The stages, lowest first: a module imports only from its own stage or a lower one.
STAGES = ("core", "kt", "data", "models", "trial", "packing", "results", "search", "confirmation",
          "cli")


def _modules() -> dict[str, Path]:
    return {".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path
            for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """The auxsearch modules `name` imports (a package's `__init__` as the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    modules = _modules()
    return {m.removesuffix(".__init__") for m in modules
            if m.removesuffix(".__init__") in found} - {name.removesuffix(".__init__")}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else None


def test_every_module_belongs_to_a_stage() -> None:
    loose = [m for m in _modules() if _stage(m) is None
             and m not in ("auxsearch.__init__", "auxsearch.__main__")]
    assert loose == []
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} \
        == set(STAGES)


@pytest.mark.parametrize("module", [m for m in _modules() if _stage(m)])
def test_imports_run_down_the_stages(module: str) -> None:
    own = STAGES.index(_stage(module))
    upward = sorted(m for m in _imports(module, _modules()[module])
                    if _stage(m) and STAGES.index(_stage(m)) > own)
    assert upward == [], f"{module} imports a later stage"


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {m.removesuffix(".__init__"): _imports(m, p) for m, p in modules.items()
             if m != "auxsearch.__init__"}  # the public API imports everything, lazily
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError(" -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, path + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])


def test_the_cycle_check_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "auxsearch"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "a.py").write_text("from auxsearch.core import b\n")
    (package / "core" / "b.py").write_text("def f():\n    from auxsearch.core.a import x\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", package)
    with pytest.raises(AssertionError, match=r"auxsearch\.core\.a -> auxsearch\.core\.b"):
        test_no_import_cycle()


def test_keras_tuner_internals_stay_in_kt() -> None:
    for module, path in _modules().items():
        if _stage(module) == "kt":
            continue
        source = path.read_text()
        assert "keras_tuner.src" not in source, module


def test_modules_stay_small_and_the_hypermodel_thin() -> None:
    # A module over 400 lines holds more than one job: split it by job.
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
    assert sizes["auxsearch.search.hypermodel"] <= 250
