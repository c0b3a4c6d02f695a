"""Where the deploy-readiness gate's tools live (.venv-deploy, .venv-checkov, .cache/node) and how they run: offline,
and in the background.

`make test` installs the tools first and sets REKFLOW_DEPLOY_GATE=1, so a missing tool fails the gate.
A plain `pytest` on a checkout without them skips these tests and names the target that installs them.

The tools are subprocesses, about 15 s of CPU together, while the in-process tests keep one core busy at a
time (the interpreter lock). So the gate's commands start when the session has been collected (conftest.py),
one after another on a worker thread, on the core the rest of the suite leaves idle; tests/deploy runs last,
and `run()` takes each command's result when its test asks for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rekflow import PROJECT_ROOT, TEMPLATE_PATH
from rekflow.local.stack import render_definition
from rekflow.local.template import Template

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


Command = tuple[str | Path, ...]

TRANSFORM: Command = (DEPLOY_BIN / "python", HERE / "sam_transform.py", TEMPLATE_PATH)
SAM_VALIDATE: Command = (DEPLOY_BIN / "sam", "validate", "--lint", "--template-file", TEMPLATE_PATH)
CFN_LINT: Command = (DEPLOY_BIN / "cfn-lint", TEMPLATE_PATH, "--append-rules", "cfn_lint_serverless.rules")
CHECKOV: Command = (
    CHECKOV_BIN / "checkov",
    "--file",
    TEMPLATE_PATH,
    "--framework",
    "cloudformation",
    "--skip-download",
    "--output",
    "json",
    "--compact",
)
# Each state machine, with the parameters that deploy it.
ASL_MACHINES = (
    ("MediaAnalysisStateMachine", {}),
    ("ImageAnalysisStateMachine", {"ImageWorkflow": "EXPRESS"}),
    ("ReviewStateMachine", {"HoldFlaggedMedia": "true"}),
)


def asl_validator(machine: str, parameters: dict[str, str]) -> Command:
    return (NODE_BIN / "asl-validator", "--json-path", rendered_definition(machine, tuple(sorted(parameters.items()))))


def commands_of(test_file: str) -> list[Command]:
    """The commands a test module of tests/deploy runs, to start while the rest of the suite runs."""
    if test_file == "test_linters.py":
        return [TRANSFORM, CHECKOV, SAM_VALIDATE, CFN_LINT, *(asl_validator(m, p) for m, p in ASL_MACHINES)]
    return [TRANSFORM] if test_file in ("test_roles.py", "test_operations.py", "test_resource_scope.py") else []


@cache
def rendered_definition(machine: str, parameters: tuple[tuple[str, str], ...]) -> Path:
    """The machine's ASL as CloudFormation renders it (DefinitionSubstitutions applied), in a file."""
    path = Path(_scratch().name) / f"{machine}.json"
    template = Template.load(TEMPLATE_PATH, parameter_overrides=dict(parameters))
    path.write_text(render_definition(template, machine), encoding="utf-8")
    return path


@cache
def _scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="rekflow-deploy-gate-")


_Key = tuple[tuple[str, ...], str | None]
_worker: ThreadPoolExecutor | None = None
_started: dict[_Key, Future[subprocess.CompletedProcess[str]]] = {}
_running: set[subprocess.Popen[str]] = set()


def start(command: Command) -> None:
    """Run `command` on the background worker, after those started before it (no-op if started already)."""
    global _worker
    key = _key(command, None)
    if key not in _started:
        _worker = _worker or ThreadPoolExecutor(max_workers=1, thread_name_prefix="deploy-gate")
        _started[key] = _worker.submit(_execute, command, None, 300)


def stop() -> None:
    """Drop the commands not begun and end the one running: a session cut short does not wait for them."""
    for future in _started.values():
        future.cancel()
    for process in list(_running):
        process.kill()


def run(
    command: Command | list[str | Path], stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The command's result: the background run's when it was started (each is taken once), else a run now."""
    future = _started.pop(_key(command, stdin), None)
    if future is not None and not future.cancelled():
        return future.result(timeout=timeout)
    return _execute(command, stdin, timeout)


def _key(command: Command | list[str | Path], stdin: str | None) -> _Key:
    return tuple(str(part) for part in command), stdin


def _execute(
    command: Command | list[str | Path], stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | OFFLINE_ENV
    arguments = [str(part) for part in command]
    # The gate's own tools and fixed arguments: nothing untrusted reaches the command line.
    with subprocess.Popen(  # noqa: S603
        arguments,
        cwd=PROJECT_ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE if stdin is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        _running.add(process)
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        finally:
            _running.discard(process)
    return subprocess.CompletedProcess(arguments, process.returncode, stdout, stderr)


@cache
def _transformed_text() -> str:
    tool(TRANSFORM[0])
    result = run(TRANSFORM)
    assert result.returncode == 0, result.stderr
    return result.stdout


def transformed_template() -> dict[str, Any]:
    """template.yaml as the SAM transform turns it into CloudFormation (a fresh copy each call)."""
    return dict(json.loads(_transformed_text()))
