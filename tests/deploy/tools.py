"""Where the deploy-readiness gate's tools live (.venv-deploy, .venv-checkov, .cache/node) and how they run: offline.

`make test` installs the tools first and sets REKFLOW_DEPLOY_GATE=1, so a missing tool fails the gate.
A plain `pytest` on a checkout without them skips these tests and names the target that installs them.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rekflow import PROJECT_ROOT, TEMPLATE_PATH

DEPLOY_BIN = PROJECT_ROOT / ".venv-deploy" / "bin"
CHECKOV_BIN = PROJECT_ROOT / ".venv-checkov" / "bin"
NODE_BIN = PROJECT_ROOT / ".cache" / "node" / "node_modules" / ".bin"
HERE = Path(__file__).resolve().parent

# The AWS tools want a region and credentials; none of these checks may reach AWS, so every endpoint points
# at a local port nobody listens on: a tool that tried to call AWS would fail instead of going online.
OFFLINE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "SAM_CLI_TELEMETRY": "0",
    "BC_SKIP_MAPPING": "TRUE",  # checkov: no download of Bridgecrew's guideline mapping
}


def gate_required() -> bool:
    return os.environ.get("REKFLOW_DEPLOY_GATE") == "1" or bool(os.environ.get("CI"))


def tool(path: Path) -> Path:
    """The tool at `path`, or a skip (plain pytest) / failure (`make test`, CI) naming `make deploy-tools`."""
    if path.exists():
        return path
    message = f"{path.relative_to(PROJECT_ROOT)} is missing: run `make deploy-tools` (make test does it first)"
    if gate_required():
        pytest.fail(message)
    pytest.skip(message)


def run(command: list[str | Path], stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | OFFLINE_ENV
    return subprocess.run([str(c) for c in command], cwd=PROJECT_ROOT, env=env, input=stdin,  # noqa: S603
                          capture_output=True, text=True, timeout=timeout, check=False)


@cache
def _transformed_text() -> str:
    result = run([tool(DEPLOY_BIN / "python"), HERE / "sam_transform.py", TEMPLATE_PATH])
    assert result.returncode == 0, result.stderr
    return result.stdout


def transformed_template() -> dict[str, Any]:
    """template.yaml as the SAM transform turns it into CloudFormation (a fresh copy each call)."""
    return dict(json.loads(_transformed_text()))
