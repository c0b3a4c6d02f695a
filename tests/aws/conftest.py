"""tests/aws: run last, so that the cases recorded by the rest of the session are there to use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rekflow import PROJECT_ROOT
from rekflow.local.state_cases import CASES_PATH, read_cases

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[Any]) -> None:
    mine = [item for item in items if HERE in Path(str(item.fspath)).resolve().parents]
    items[:] = [item for item in items if item not in mine] + mine


def generate_cases(path: Path = CASES_PATH) -> dict[str, Any]:
    """Run the local suite (tests/functional, without the real models) in a child pytest that writes its cases."""
    environment = {**os.environ, "REKFLOW_STATE_CASES": str(path)}
    command = [sys.executable, "-m", "pytest", "tests/functional", "-q", "-m", "not models", "-p", "no:cacheprovider"]
    # This interpreter and fixed arguments: nothing untrusted reaches the command line.
    done = subprocess.run(  # noqa: S603
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    document = read_cases(path)
    if document is None:
        raise RuntimeError(f"the local suite wrote no cases (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return document


def session_cases() -> dict[str, Any]:
    """The cases of this session's executions when it ran any, else the recorded file when it was made
    from the current ASL, else a fresh run of the local suite."""
    from tests.conftest import state_cases

    if state_cases.cases:
        return json.loads(json.dumps(state_cases.document(), default=str))
    return read_cases() or generate_cases()


# What the parity test found, for the terminal summary: {"agreed": [...], "disagreed": [...], "cases": n}.
parity_report: dict[str, Any] = {}


def aws_account_missing() -> str | None:
    """Why the tiers that call AWS cannot run here, or None when they can."""
    import boto3

    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None or credentials.access_key in ("testing", "test"):
        return "no AWS credentials"
    if not session.region_name:
        return "no AWS region (set AWS_REGION or a profile region)"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not parity_report:
        return
    terminalreporter.write_sep("-", "TestState parity (local runtime vs AWS Step Functions)")
    agreed, disagreed = parity_report["agreed"], parity_report["disagreed"]
    terminalreporter.write_line(
        f"{len(agreed)} of {len(agreed) + len(disagreed)} states agreed ({parity_report['cases']} cases sent)"
    )
    for note in parity_report.get("notes", []):
        terminalreporter.write_line(f"  note: {note}")
    for name in disagreed:
        terminalreporter.write_line(f"  disagreed: {name}")
