"""The Lambda functions stand alone: nothing in lambdas/ imports the local runtime's package.

A function's deployment package holds its own folder and the layers; an import of rekflow would
work in the tests (the repo root is on sys.path) and fail on Lambda.
"""

import ast
from pathlib import Path

from rekflow import PROJECT_ROOT


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_lambda_function_imports_rekflow():
    sources = sorted((PROJECT_ROOT / "lambdas").rglob("*.py"))
    assert sources, "no Lambda sources found"
    offenders = [str(path.relative_to(PROJECT_ROOT)) for path in sources if "rekflow" in _imported_roots(path)]
    assert offenders == []
