"""``faceledger.report`` renders finished documents only: no module in it imports the services
or the store (the numbers are gathered by ``faceledger.services.oversight.report_numbers``), and its
modules import one another without a cycle (charts -> maps -> figure, html -> evaluation)."""

from __future__ import annotations

import ast
from pathlib import Path

import faceledger.report

REPORT = Path(faceledger.report.__file__).resolve().parent
FORBIDDEN = ("faceledger.services", "faceledger.store")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, as absolute names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ("faceledger.report", "faceledger")[node.level - 1] if node.level else ""
            module = ".".join(
                part for part in (base, node.module) if part
            )  # relative made absolute
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _modules() -> dict[str, Path]:
    return {f"faceledger.report.{p.stem}" if p.stem != "__init__" else "faceledger.report": p
            for p in sorted(REPORT.glob("*.py"))}  # fmt: skip


def test_report_imports_no_service_and_no_store() -> None:
    modules = _modules()
    assert "faceledger.report.charts" in modules and len(modules) > 5
    offending = {
        name: sorted(i for i in _imports(path) if i.startswith(FORBIDDEN))
        for name, path in modules.items()
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_walk_would_see_a_forbidden_import(tmp_path: Path) -> None:
    """The check above can fail: a lazy import inside a function is found too."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from faceledger.services.collection.status import ledger_status\n"
                      "import faceledger.store.tables\nfrom ..store import Ledger\n")  # fmt: skip
    assert {
        "faceledger.services.collection.status",
        "faceledger.store.tables",
        "faceledger.store",
    } <= _imports(sample)


def test_report_modules_import_each_other_without_a_cycle() -> None:
    modules = _modules()
    graph = {
        name: {m for m in modules if m != name and m != "faceledger.report" and m in _imports(path)}
        for name, path in modules.items()
    }
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import cycle: {' -> '.join([*visiting, name])}"
        if name in done:
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert "faceledger.report.figure" in graph["faceledger.report.maps"]
    assert "faceledger.report.maps" in graph["faceledger.report.charts"]
