"""The code's shape: modules stay short, imports point one way, capabilities line up."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("server", "admin_api", "miniprogram_api", "jobs")
MAX_MODULE_LINES = 400
MIGRATIONS = ROOT / "server" / "migrations"
# Use cases with no pure rules of their own (job runs, counts, notifications).
SERVICE_ONLY_PACKAGES = {"operations"}


def _product_files() -> Iterator[Path]:
    for package in PRODUCT_PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, module: str, known: set[str]) -> set[str]:
    """Project modules `module` imports anywhere in its body, functions included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                # `from package import module` imports the module, `from module import name`
                # the module that defines the name.
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    own_packages = {module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)}
    imported = set(targets)
    for target in targets:
        # Importing a.b.c runs a/__init__ and a/b/__init__ first (already running for the
        # packages `module` itself sits in, so those are no new edge).
        parts = target.split(".")
        imported.update(".".join(parts[:i]) for i in range(1, len(parts)))
    imported -= own_packages - targets
    return (imported & known) - {module}


def _import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in _product_files()}
    known = set(files)
    return {name: _imported_modules(path, name, known) for name, path in files.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None when the graph has none."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if step in on_path:
                return [*path[path.index(step) :], step]
            if step not in done:
                path.append(step)
                on_path.add(step)
                stack.append(iter(sorted(graph[step])))
    return None


def test_no_product_module_is_longer_than_400_lines() -> None:
    long_modules = {
        str(path.relative_to(ROOT)): lines
        for path in _product_files()
        if not path.is_relative_to(MIGRATIONS)
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long_modules == {}


def test_product_modules_import_each_other_without_a_cycle() -> None:
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_import_graph_counts_imports_made_inside_functions() -> None:
    # jobs.runner imports the Celery app only when it publishes, inside `dispatch`.
    assert "jobs.celery_app" in _import_graph()["jobs.runner"]


def test_the_cycle_finder_reports_a_cycle_it_is_given() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def _capability_packages(layer: Path) -> set[str]:
    return {init.parent.name for init in layer.glob("*/__init__.py")}


def test_domain_and_services_group_code_by_the_same_capabilities() -> None:
    domain = _capability_packages(ROOT / "server" / "domain")
    services = _capability_packages(ROOT / "server" / "services")
    assert domain, "server/domain has no capability packages"
    assert services - SERVICE_ONLY_PACKAGES == domain


def test_each_capability_package_says_in_one_to_three_lines_what_it_owns() -> None:
    unsaid = {}
    for layer in ("domain", "services"):
        for init in sorted((ROOT / "server" / layer).glob("*/__init__.py")):
            docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
            lines = len(docstring.strip().splitlines())
            if not 1 <= lines <= 3:
                unsaid[str(init.relative_to(ROOT))] = lines
    assert unsaid == {}
