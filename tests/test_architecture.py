"""The package's imports point one way, with no loop (docs/architecture.md).

Wings: the base (``streamsim.errors``, ``clock``, ``validation``) imports no wing;
``streamsim.aws`` (the local AWS) imports the base; ``streamsim.game`` (the deployable Lambda)
imports ``streamsim.errors`` and itself, and apart from its batch path only the standard library
and boto3; ``streamsim.workbench`` imports anything. Every import counts, also those inside
functions and under ``TYPE_CHECKING``: each is an arrow of the design.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "streamsim"

BASE = {"streamsim.errors", "streamsim.clock", "streamsim.validation"}
#: The batch path of the one evaluator: pandas and numpy, not part of the Lambda zip.
GAME_BATCH = {
    "streamsim.game.badges.batch",
    "streamsim.game.badges.frames",
    "streamsim.game.badges.localdays_batch",
}
LAMBDA_THIRD_PARTY = {"boto3", "botocore"}


def wing(module: str) -> str:
    if module == "streamsim":
        return "api"
    if module in BASE:
        return "base"
    part = module.split(".")[1]
    if part in {"aws", "game", "workbench"}:
        return part
    return "stray"  # a module at the root that is not the base


def allowed(src: str, dst: str) -> bool:
    """May module ``src`` import module ``dst``?"""
    a, b = wing(src), wing(dst)
    if a == "workbench":
        return b != "api"
    if a == "aws":
        return b in {"base", "aws"}
    if a == "game":
        return dst == "streamsim.errors" or b == "game"
    if a == "base":
        return b == "base"
    return False


def module_name(path: Path, package_dir: Path) -> str:
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, package_dir: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever in the file."""
    me = module_name(path, package_dir)
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if is_pkg else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # ``from streamsim.x import y`` where y is a submodule: an arrow to it too.
            for alias in node.names:
                sub = target + "." + alias.name
                if (package_dir.parent / (sub.replace(".", "/") + ".py")).exists() or (
                    package_dir.parent / sub.replace(".", "/")
                ).is_dir():
                    found.add(sub)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    return {
        module_name(p, package_dir): imports_of(p, package_dir)
        for p in sorted(package_dir.rglob("*.py"))
    }


def violations(package_dir: Path) -> list[str]:
    """Every arrow against the order, every third-party import in the deployable Lambda, and
    every loop between the package's modules."""
    graph = import_graph(package_dir)
    problems: list[str] = []
    stdlib = set(sys.stdlib_module_names)
    for src, targets in graph.items():
        if wing(src) == "stray":
            problems.append(f"{src} is at the root but not part of the base")
        for dst in sorted(targets):
            if dst.split(".")[0] == "streamsim":
                if dst != "streamsim" and not allowed(src, dst):
                    problems.append(f"{src} imports {dst} ({wing(src)} -> {wing(dst)})")
            elif wing(src) == "game" and src not in GAME_BATCH:
                top = dst.split(".")[0]
                if top not in stdlib and top not in LAMBDA_THIRD_PARTY:
                    problems.append(f"{src} (deployable) imports {dst}")
    problems.extend(f"import loop: {' -> '.join(c)}" for c in cycles(graph))
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), as loops."""
    edges = {m: sorted(d for d in ts if d in graph and d != m) for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_package_keeps_its_import_order_and_has_no_loop() -> None:
    assert violations(PACKAGE) == []


def test_the_three_wings_and_a_small_base_are_the_tree() -> None:
    root_modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert root_modules == {m.split(".")[1] for m in BASE}
    for folder in ("aws", "game", "workbench"):
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"{folder}/__init__ says what it may import"


@pytest.fixture
def planted(tmp_path: Path):
    """A copy of the package in which one line can be planted."""
    copy = tmp_path / "streamsim"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def plant(relpath: str, line: str) -> Path:
        target = copy / relpath
        target.write_text(target.read_text() + "\n" + line + "\n")
        return copy

    return plant


@pytest.mark.parametrize(
    ("relpath", "line", "expected"),
    [
        ("aws/trigger/policy.py", "from streamsim.game.badges import DEFAULT_RULES", "aws -> game"),
        ("aws/stream/reader.py", "import streamsim.workbench.run", "aws -> workbench"),
        ("game/handler.py", "from streamsim.workbench import analysis", "game -> workbench"),
        ("game/handler.py", "from streamsim.aws.tables import PLAYS", "game -> aws"),
        ("clock.py", "from streamsim.aws import backend", "base -> aws"),
        ("game/achievements.py", "import pandas as pd", "(deployable) imports pandas"),
        ("game/badges/rules.py", "    import numpy", "(deployable) imports numpy"),
    ],
)
def test_a_planted_wrong_way_import_is_caught(planted, relpath, line, expected) -> None:
    if line.startswith("    "):  # inside a function: still an arrow
        line = "def _planted():\n" + line
    copy = planted(relpath, line)
    assert any(expected in v for v in violations(copy)), violations(copy)


def test_a_planted_loop_is_caught(planted) -> None:
    planted("workbench/runfolder.py", "from streamsim.workbench import run")
    copy = planted("workbench/run.py", "from streamsim.workbench import runfolder")
    assert any(v.startswith("import loop:") and "runfolder" in v for v in violations(copy))


def test_the_badge_handler_imports_without_pandas_or_numpy() -> None:
    """The deployable boundary, run: pandas and numpy are made unimportable."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'pandas', 'numpy', 'pyarrow', 'moto', 'simpy'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import streamsim.game.handler as h\n"
        "from streamsim.game.badges import DEFAULT_RULES, PlayerState\n"
        "assert callable(h.lambda_handler) and DEFAULT_RULES\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_docs_architecture_names_every_module() -> None:
    """docs/architecture.md stays true to the code: every module's file name is in it, with its
    folder (a new module without a line there fails here)."""
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "architecture.md").read_text()
    missing = []
    for path in sorted((root / "streamsim").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        folder = path.parent.name
        if path.name not in doc or (folder != "streamsim" and f"{folder}/" not in doc):
            missing.append(str(path.relative_to(root)))
    assert missing == [], f"modules not in docs/architecture.md: {missing}"
