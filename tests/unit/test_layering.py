"""The package layout holds: no import cycle between top-level packages, and the domain
packages import no Flask. Both are found by scanning the code, not from a hand-kept list."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import statuspage

PACKAGE_ROOT = Path(statuspage.__file__).resolve().parent
# Packages that must run in a worker, a CLI or a test without Flask.
DOMAIN_PACKAGES = (
    "core",
    "components",
    "incidents",
    "notifications",
    "mail",
    "auth",
    "branding",
    "seed",
    "importing",
    "audiences",
    "stakeholders",
)
# Modules inside them that are web-facing by design (none today): name them here with why.
WEB_MODULES: frozenset[str] = frozenset()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(name: str, path: Path) -> set[str]:
    """Every module `name` imports at run time, at module level or inside functions
    (imports under `if TYPE_CHECKING:` are for the type checker only)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from statuspage.x import y` may import the submodule statuspage.x.y
            found.update(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def top_level(module: str) -> str | None:
    """The top-level unit of a statuspage module: `statuspage.incidents.models` ->
    `incidents`; the root package (the app factory, the composition root) -> None."""
    parts = module.split(".")
    if parts[0] != "statuspage" or len(parts) < 2:
        return None
    return parts[1]


def package_graph() -> dict[str, set[str]]:
    modules = all_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        source = top_level(name)
        if source is None:
            continue
        graph[source]
        for target_module in imported_modules(name, path):
            target = top_level(target_module)
            if target is None or target == source:
                continue
            if target_module not in modules and target_module.rsplit(".", 1)[0] not in modules:
                continue
            graph[source].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                cycles.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def test_no_import_cycles_between_top_level_packages():
    graph = package_graph()
    assert {"core", "incidents", "components", "admin", "public"} <= set(graph)
    cycles = find_cycles(graph)
    detail = "; ".join(
        " <-> ".join(cycle)
        + " ("
        + ", ".join(f"{a}->{b}" for a in cycle for b in sorted(graph[a]) if b in cycle)
        + ")"
        for cycle in cycles
    )
    assert cycles == [], f"import cycles between packages: {detail}"


def test_the_kernel_imports_no_other_package():
    assert package_graph()["core"] == set()


def test_the_cycle_check_notices_a_cycle():
    # Guards the test above against passing vacuously.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def domain_modules() -> list[str]:
    names = []
    for name in all_modules():
        package = top_level(name)
        if package in DOMAIN_PACKAGES and name not in WEB_MODULES:
            names.append(name)
    return names


def test_the_domain_scan_finds_the_packages():
    names = domain_modules()
    for package in DOMAIN_PACKAGES:
        if (PACKAGE_ROOT / package).exists():
            assert any(n.startswith(f"statuspage.{package}.") for n in names), package
    assert len(names) > 40


def test_domain_packages_name_no_flask_anywhere():
    """Not even inside a function: a domain module that imports Flask lazily still needs it."""
    modules = all_modules()
    offenders = []
    for name in domain_modules():
        for imported in imported_modules(name, modules[name]):
            if imported == "flask" or imported.startswith(("flask.", "flask_")):
                offenders.append(f"{name} imports {imported}")
            if imported.startswith("statuspage.extensions"):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_domain_imports_no_flask():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in domain_modules())
        + "bad = sorted(m for m in sys.modules\n"
        + "             if m == 'flask' or m.startswith(('flask.', 'flask_')))\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"Flask imported by the domain: {result.stdout}"


def test_the_check_itself_notices_flask():
    # Guards the test above against passing vacuously.
    code = "import sys, statuspage.extensions; print('flask' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
