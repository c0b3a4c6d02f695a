"""`python -m rekflow.bench NAME [ARGS...]`: run one benchmark; with no NAME, list them.

Each benchmark is a module of this package with its own `if __name__ == "__main__"` block that reads
its arguments from sys.argv, so `python -m rekflow.bench NAME ARGS` runs exactly what
`python -m rekflow.bench NAME ARGS` would.
"""

from __future__ import annotations

import pkgutil
import runpy
import sys
from pathlib import Path

import rekflow.bench

# Modules here that are parts of benchmarks, not benchmarks of their own.
HELPERS = {"burst"}


def benchmarks() -> dict[str, str]:
    """NAME -> the first line of its docstring."""
    found = {}
    for module in pkgutil.iter_modules(rekflow.bench.__path__):
        if module.name.startswith("_") or module.name in HELPERS:
            continue
        source = (Path(rekflow.bench.__path__[0]) / f"{module.name}.py").read_text(encoding="utf-8")
        docstring = source.split('"""')[1] if source.startswith('"""') else ""
        found[module.name] = docstring.strip().splitlines()[0] if docstring.strip() else ""
    return dict(sorted(found.items()))


def main() -> int:
    known = benchmarks()
    if len(sys.argv) > 1:
        sys.argv[1] = sys.argv[1].replace("-", "_")  # first-photo is the module first_photo
    if len(sys.argv) < 2 or sys.argv[1] not in known:
        print("usage: python -m rekflow.bench NAME [ARGS...]\n", file=sys.stderr)
        for name, summary in known.items():
            print(f"  {name:<12} {summary}", file=sys.stderr)
        return 0 if len(sys.argv) < 2 else 2
    name = sys.argv[1]
    sys.argv = [f"rekflow.bench.{name}", *sys.argv[2:]]
    runpy.run_module(f"rekflow.bench.{name}", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
