"""server/domain must stay pure: no web framework, ORM, job queue or WeChat SDK."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"sanic", "sanic_ext", "tortoise", "celery", "wechatpy", "aiomysql", "aiosqlite"}
DOMAIN = Path(__file__).resolve().parents[2] / "server" / "domain"


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_modules_import_no_io_framework() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert files, "server/domain has no modules"
    offenders = {
        str(f.relative_to(DOMAIN)): sorted(_imported_roots(f) & FORBIDDEN)
        for f in files
        if _imported_roots(f) & FORBIDDEN
    }
    assert offenders == {}


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved (`from ...models` included)."""
    package = ("server", "domain", *path.relative_to(DOMAIN).parent.parts)
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else ()
            modules.add(".".join([*anchor, *([node.module] if node.module else [])]))
    return modules


def test_domain_modules_import_nothing_from_services_or_models() -> None:
    offenders = [
        f"{path.relative_to(DOMAIN)}: {module}"
        for path in sorted(DOMAIN.rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module.startswith(("server.services", "server.models", "server.app"))
    ]
    assert offenders == []
