"""The house rules hold for scripts/ as for the package: every Python executable there is
linted by ruff and type-checked by scripts/test, no module grows past 400 lines, and no
two modules import each other (directly or round a longer circle)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
MAX_LINES = 400
# Known, owned exceptions: remove a line once its split has landed.
TOO_LONG_FOR_NOW: dict[str, str] = {}
# Data, not code: exempt from the line limit.
DATA_MODULES = {"p2pchat/core/wordlist.py"}


def python_executables() -> list[Path]:
    """Files in scripts/ without .py that start with a Python shebang."""
    found = []
    for path in sorted(SCRIPTS.iterdir()):
        if path.is_file() and path.suffix != ".py":
            with path.open("rb") as file:
                first = file.readline()
            if first.startswith(b"#!") and b"python" in first:
                found.append(path)
    return found


def python_modules() -> list[Path]:
    modules = [*SCRIPTS.rglob("*.py"), *python_executables()]
    modules += (ROOT / "p2pchat").rglob("*.py")
    return sorted(m for m in modules if "__pycache__" not in m.parts)


def test_the_executables_are_found():
    names = {p.name for p in python_executables()}
    assert {"nat-lab", "relay", "mailbox-load"} <= names
    assert not {"self-host", "classroom-demo", "test"} & names  # bash


def test_ruff_lints_every_python_executable_in_scripts():
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python (pip install '.[test]')")
    listed = subprocess.run(
        [str(ruff), "check", "--show-files", "scripts"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    seen = {Path(line.strip()).resolve() for line in listed.splitlines() if line.strip()}
    missing = [p.name for p in python_executables() if p.resolve() not in seen]
    assert missing == []


def test_scripts_test_type_checks_every_python_executable():
    """scripts/test picks the executables by their shebang, so a new one is never missed."""
    test_script = (SCRIPTS / "test").read_text()
    mypy_lines = [line for line in test_script.splitlines() if "bin/mypy" in line]
    assert any(" scripts " in f"{line} " or line.endswith(" scripts") for line in mypy_lines)
    selection = re.search(r"^python_executables=\$\((.*)\)$", test_script, re.MULTILINE)
    assert selection is not None, "scripts/test lists the Python executables by shebang"
    out = subprocess.run(
        ["bash", "-c", selection.group(1)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert sorted(out.split()) == sorted(str(p.relative_to(ROOT)) for p in python_executables())


@pytest.mark.parametrize("path", python_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_above_400_lines(path):
    name = str(path.relative_to(ROOT))
    lines = len(path.read_text().splitlines())
    if name in DATA_MODULES:
        return
    if name in TOO_LONG_FOR_NOW:
        pytest.xfail(TOO_LONG_FOR_NOW[name])
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def module_name(path: Path) -> str:
    if path.is_relative_to(SCRIPTS):
        parts = list(path.relative_to(SCRIPTS).parts)
    else:
        parts = list(path.relative_to(ROOT).parts)
    parts[-1] = parts[-1].removesuffix(".py")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The known modules ``path`` imports, at any depth in the file (lazy imports count)."""
    tree = ast.parse(path.read_text(), str(path))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1],
                                 base]).strip(".")  # fmt: skip
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    found.discard(own)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_circle_in_the_package_or_scripts():
    paths = {module_name(p): p for p in python_modules()}
    known = set(paths)
    graph = {name: imports_of(path, known) for name, path in paths.items()}
    # A package's __init__ is imported with each of its modules: not an edge worth a circle.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(f"{m}.")}
    assert circles(graph) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
