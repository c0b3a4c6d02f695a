"""The architecture and the format, held in `make test` as well as `make lint` (CI runs `make test`).

import-linter's contracts in pyproject.toml: the layers (bench and docs > cli > commands > media > local >
vision > asl > features), moto's patches apart from the runtime, no import cycles among siblings.
"""

import subprocess
import sys
from pathlib import Path

from rekflow import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    # This interpreter's own tools and fixed arguments: nothing untrusted reaches the command line.
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)  # noqa: S603


def test_import_contracts_are_kept():
    done = _run(str(BIN / "lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_tree_is_formatted():
    done = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr
