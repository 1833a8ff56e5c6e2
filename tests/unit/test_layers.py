"""The layers hold: data models at the bottom, the store above them, managers and the
operations layer above the store, the CLI and the web faces on top; no import circles."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "hourhand"
ABOVE_THE_STORE = (
    "app",
    "schedules",
    "scheduler",
    "worker",
    "ops",
    "web",
    "cli",
    "demo",
    "builtin",
)
# what the faces may take from the store package: data types and URL helpers, no store
FACE_MAY_IMPORT = {"hourhand.store"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, module_level_only: bool) -> set[str]:
    """hourhand modules a file imports (``from x import y``: x.y if that is a module).
    ``module_level_only``: what importing the file runs, leaving out imports under
    ``if TYPE_CHECKING``, inside functions, and the registrations at the bottom of
    cli/main.py (subcommand modules, imported last on purpose: ``noqa: E402``)."""
    text = path.read_text()
    tree = ast.parse(text)
    lines = text.splitlines()
    if module_level_only:
        nodes: list[ast.AST] = [
            n
            for n in tree.body
            if isinstance(n, ast.Import | ast.ImportFrom)
            and "noqa: E402" not in lines[n.lineno - 1]
        ]
    else:
        nodes = list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hourhand"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hourhand"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _maybe(candidate) else str(node.module))
    return found


def _maybe(name: str) -> bool:
    return (SRC.parent / Path(*name.split("."))).with_suffix(".py").exists() or (
        SRC.parent / Path(*name.split(".")) / "__init__.py"
    ).exists()


def all_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_the_store_imports_nothing_above_it() -> None:
    for path in (SRC / "store").rglob("*.py"):
        for name in imports(path, module_level_only=False):
            top = name.split(".")[1] if "." in name else ""
            assert top not in ABOVE_THE_STORE, f"{module_name(path)} imports {name}"


def test_the_faces_never_reach_into_a_store() -> None:
    faces = [p for d in ("cli", "web") if (SRC / d).exists() for p in (SRC / d).rglob("*.py")]
    assert faces
    for path in faces:
        for name in imports(path, module_level_only=False):
            if name.startswith("hourhand.store"):
                assert name in FACE_MAY_IMPORT, f"{module_name(path)} imports {name}"
        text = path.read_text()
        assert ".store." not in text and ".store)" not in text, module_name(path)
        for keyword in ("SELECT ", "INSERT INTO", "UPDATE hourhand", "DELETE FROM"):
            assert keyword not in text, f"{module_name(path)} has SQL ({keyword.strip()})"


def test_no_import_circles() -> None:
    graph = {
        module_name(p): {n for n in imports(p, module_level_only=True) if n != "hourhand"}
        for p in all_files()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt in graph and not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)
