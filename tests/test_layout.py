"""The package's shape, checked: the seams between core, service and campaigns hold, modules
and functions stay small, and only the settings module reads the environment."""

import ast
from collections import defaultdict
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "renderer"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path) -> set[str]:
    """Every ``renderer`` module ``path`` imports, at the top or inside a function."""
    found = set()
    known = modules()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def test_modules_and_functions_are_small():
    too_long = []
    for name, path in modules().items():
        source = path.read_text()
        if source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_the_core_imports_neither_the_service_nor_the_campaigns():
    for name, path in modules().items():
        if name.startswith("renderer.core"):
            outside = {
                imported
                for imported in imports_of(path)
                if not imported.startswith("renderer.core")
            }
            assert outside == set(), f"{name} imports {outside}"


def test_only_the_app_meets_the_campaigns():
    meeting = {
        name
        for name, path in modules().items()
        if name.startswith("renderer.service")
        and any(i.startswith("renderer.orchestrator") for i in imports_of(path))
    }
    assert meeting == {"renderer.service.app"}
    for name, path in modules().items():  # and the campaigns never import the service
        if name.startswith("renderer.orchestrator"):
            assert not any(i.startswith("renderer.service") for i in imports_of(path)), name


def test_the_load_tester_reaches_the_service_only_over_http():
    """It signs as the service does and shares its errors and settings, nothing more: so it
    measures any deployment, not this checkout's."""
    allowed = {"renderer.core.errors", "renderer.service.signing", "renderer.settings"}
    for name, path in modules().items():
        if name.startswith("renderer.loadtest"):
            outside = {i for i in imports_of(path) if not i.startswith("renderer.loadtest")}
            assert outside <= allowed, f"{name} imports {outside - allowed}"


def test_no_import_cycles():
    graph = defaultdict(set)
    for name, path in modules().items():
        graph[name] = {i for i in imports_of(path) if i != name}
    visiting, done = [], set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "cycle: " + " -> ".join([*visiting, node])
        visiting.append(node)
        for target in graph[node]:
            visit(target)
        visiting.pop()
        done.add(node)

    for node in list(graph):
        visit(node)


def test_only_the_settings_module_reads_the_environment():
    readers = set()
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        stores = {  # os.environ[...] = value: setting a variable (fontconfig's) is not reading
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
        }
        for node in ast.walk(tree):
            environ = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
            if environ and id(node) not in stores:
                readers.add(name)
    assert readers == {"renderer.settings"}


def test_every_package_says_what_it_owns():
    packages = ("renderer", "renderer.core", "renderer.service", "renderer.orchestrator",
                "renderer.loadtest")  # fmt: skip
    for package in packages:
        path = modules()[package]
        assert ast.get_docstring(ast.parse(path.read_text())), package
