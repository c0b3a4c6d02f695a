"""The types hold: scripts/typecheck (mypy over rekflow/ and each function folder in lambdas/, as `make lint`
runs it) finds no error, so `make test` holds them too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rekflow import PROJECT_ROOT


def test_mypy_finds_no_error_in_rekflow_or_the_functions():
    mypy = Path(sys.executable).with_name("mypy")
    result = subprocess.run(  # noqa: S603 - our own script, run with this environment's mypy
        [str(PROJECT_ROOT / "scripts" / "typecheck")],
        cwd=PROJECT_ROOT,
        env={**os.environ, "MYPY": str(mypy)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"scripts/typecheck failed:\n{result.stdout}{result.stderr}"
