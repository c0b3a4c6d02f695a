"""Shared fixtures: a fresh local stack per test, and the state coverage report."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image

from rekflow import PROJECT_ROOT
from rekflow.local.runtime import ExecutionResult, LocalRuntime, client
from rekflow.local.state_cases import CASES_PATH, CaseRecorder, states_by_name

SCHEMAS = PROJECT_ROOT / "schemas"
# moto logs every failing state with its whole parse tree; the tests assert on the history instead.
logging.getLogger("moto").setLevel(logging.CRITICAL)
# Retry back-off runs at 1/1000 of real time so Retry paths take milliseconds.
FAST_RETRIES = 0.001

_entered: set[str] = set()
_defined: set[str] = set()
# Every state of every execution run through a Recorder, as TestState cases (tests/aws); written at the end.
state_cases = CaseRecorder()


class Recorder:
    """Wraps the runtime so every execution's history feeds the coverage report."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        sfn = client("stepfunctions")
        for arn in runtime.stack.state_machine_arns.values():
            _defined.update(states_by_name(json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])))

    def run(self, event: dict[str, Any], name: str | None = None, timeout: float = 120.0) -> ExecutionResult:
        return self.record(self.runtime.run(event, name=name, timeout=timeout), self.runtime)

    def wait(self, execution_arn: str, timeout: float = 120.0) -> ExecutionResult:
        return self.record(self.runtime.wait(execution_arn, timeout=timeout), self.runtime)

    @staticmethod
    def record(result: ExecutionResult, runtime: LocalRuntime | None = None) -> ExecutionResult:
        _entered.update(result.states_entered())
        if runtime is not None:
            state_cases.record(result.history, runtime.definition_of(result.arn), result.arn, result.name)
        return result

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.runtime, attribute)


@pytest.fixture
def runtime() -> Iterator[Recorder]:
    with LocalRuntime("fixture", retry_time_scale=FAST_RETRIES) as local:
        yield Recorder(local)


@pytest.fixture
def make_runtime() -> Iterator[Any]:
    """For tests that need other template parameters or backend: make_runtime(Features="labels")."""
    opened: list[LocalRuntime] = []

    def make(backend: Any = "fixture", **parameters: str) -> Recorder:
        local = LocalRuntime(backend, retry_time_scale=FAST_RETRIES, parameter_overrides=parameters)
        opened.append(local.__enter__())
        return Recorder(local)

    yield make
    for local in opened:
        local.__exit__(None, None, None)


def jpeg_bytes(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (180, 120, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_bytes(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (60, 120, 180)).save(buffer, "PNG")
    return buffer.getvalue()


@cache
def video_bytes(codec: str = "libx264") -> bytes:
    """The bundled sample video (H.264 MP4 by default), made once per test session."""
    from rekflow.samples import sample_video

    return sample_video(codec=codec)


def task_errors(result: ExecutionResult) -> list[str]:
    """The error of every failed task attempt, in the order the history records them."""
    return [e["taskFailedEventDetails"]["error"] for e in result.events_of_type("TaskFailed")]


def schema_validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    _skip_reasons(terminalreporter)
    if not _defined:
        return
    covered = _entered & _defined
    terminalreporter.write_sep("-", "State coverage (every state machine in template.yaml)")
    terminalreporter.write_line(f"states entered / states defined: {len(covered)}/{len(_defined)}"
                                f" ({100 * len(covered) / len(_defined):.0f}%)")
    for name in sorted(_defined - covered):
        terminalreporter.write_line(f"  never entered: {name}")


def pytest_sessionfinish(session: Any) -> None:
    """Write the session's state cases for tests/aws (REKFLOW_STATE_CASES names another file)."""
    if state_cases.cases:
        state_cases.write(Path(os.environ.get("REKFLOW_STATE_CASES") or CASES_PATH))


def _skip_reasons(terminalreporter: Any) -> None:
    """Each distinct skip reason once, with how many tests it skipped, so a skipped tier says why."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.write_sep("-", "skipped, and why")
        for reason, count in sorted(reasons.items()):
            terminalreporter.write_line(f"{count} skipped: {reason}")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
