"""Shared fixtures: one deployed local stack that tests share, emptied between them; the state coverage report."""

from __future__ import annotations

import io
import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from hypothesis import HealthCheck, settings
from PIL import Image

from rekflow import PROJECT_ROOT
from rekflow.local import stack_reset
from rekflow.local.runtime import ExecutionResult, LocalRuntime, client
from rekflow.local.state_cases import CASES_PATH, CaseRecorder, states_by_name

SCHEMAS = PROJECT_ROOT / "schemas"
# Property tests draw the same examples on every run (derandomize), so a failure in CI is one anyone reproduces,
# not a draw that the next run never makes; HYPOTHESIS_PROFILE=explore draws afresh. Drawing examples slowly
# is a loaded machine, not a bad strategy (too_slow). A test's own suppress_health_check replaces this list.
settings.register_profile("repeatable", derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
# moto logs every failing state with its whole parse tree; the tests assert on the history instead.
logging.getLogger("moto").setLevel(logging.CRITICAL)
# Retry back-off runs at 1/1000 of real time so Retry paths take milliseconds.
FAST_RETRIES = 0.001
# A record the function failed is handed over again at once: on AWS it waits out the queue's visibility
# timeout (minutes); a test that checks redelivery learns nothing more from waiting.
REDELIVERY_SECONDS = 0.0

_entered: set[str] = set()
_defined: set[str] = set()
# States of a Distributed Map's item processor: on AWS each item runs as a child workflow execution with a history
# of its own; moto runs the items inline and records none, so their paths are asserted by the tests' outcomes
# (tests/functional/test_backfill.py: analysed, already analysed, a converted copy, no version id).
_in_child_workflows: set[str] = set()


def _distributed_item_states(definition: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for state in states_by_name(definition).values():
        processor = state.get("ItemProcessor") or {}
        if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            found |= set(states_by_name(processor))
    return found


_counted: weakref.WeakSet[LocalRuntime] = weakref.WeakSet()  # runtimes whose states are in _defined
# Every state of every execution run through a Recorder, as TestState cases (tests/aws); written at the end.
state_cases = CaseRecorder()


class Recorder:
    """Wraps the runtime so every execution's history feeds the coverage report."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        jobs = getattr(runtime.backend.inner, "video", runtime.backend.inner)  # the fixture's job runner, or aws
        if hasattr(jobs, "hold_completions_until"):
            # A fixture job ends in milliseconds; on AWS its completion comes minutes after the branch
            # parked its token, and tests that assert the branch was resumed rely on that order.
            jobs.hold_completions_until(token_parked(runtime))
        if runtime not in _counted:  # a shared stack's states are counted once
            _counted.add(runtime)
            sfn = client("stepfunctions")
            for arn in runtime.stack.state_machine_arns.values():
                definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
                in_children = _distributed_item_states(definition)
                _in_child_workflows.update(in_children)
                _defined.update(set(states_by_name(definition)) - in_children)

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


class SharedStack:
    """The deployed local stack that tests share. After each test it is emptied (LocalRuntime.reset);
    before the next one uses it, `stack_reset.contents` must read back exactly what the stack held right
    after its deploy, or it is closed and deployed afresh. So every test starts on a stack that provably
    holds what a fresh deploy holds, without paying a deploy (about half a second) each time."""

    def __init__(self) -> None:
        self.local: LocalRuntime | None = None
        self.deployed_contents: dict[str, Any] = {}
        self.deploys = 0
        self.reuses = 0
        self.redeployed: list[str] = []  # why a stack was not used again, for the summary

    def acquire(self, test: str) -> LocalRuntime:
        if self.local is not None:
            found = stack_reset.contents(client)
            if found == self.deployed_contents:
                self.reuses += 1
                return self.local
            self.redeployed.append(f"{test}: left {_differences(self.deployed_contents, found)}")
            self.close()
        # In this process: the tests reach into the handlers' modules (WAITER_PREFIX, a limit patched for a
        # test). The CLI's tests and tests/functional/test_function_crashes.py run them in worker processes.
        self.local = LocalRuntime(
            "fixture", retry_time_scale=FAST_RETRIES, redelivery_seconds=REDELIVERY_SECONDS, functions_in_process=True
        ).__enter__()
        # Every state machine, as the tests may start any (a runtime creates one when its ARN is first asked for).
        dict(self.local.stack.state_machine_arns)
        self.deployed_contents = stack_reset.contents(client)
        self.deploys += 1
        return self.local

    def release(self, test: str) -> None:
        """Empty the stack after `test`; close it when that cannot be done (something still runs)."""
        if self.local is not None and not self.local.reset():
            self.redeployed.append(f"{test}: still running at its end")
            self.close()

    def close(self) -> None:
        if self.local is not None:
            local, self.local = self.local, None
            local.__exit__(None, None, None)


def _differences(deployed: dict[str, Any], found: dict[str, Any]) -> str:
    """What a stack holds that a fresh deploy does not (or the reverse), briefly."""
    parts = []
    for kind, expected in deployed.items():
        now = found.get(kind)
        if now == expected:
            continue
        if isinstance(expected, dict) and isinstance(now, dict):
            changed: Any = {
                name: now.get(name) for name in sorted(set(expected) | set(now)) if now.get(name) != expected.get(name)
            }
        else:
            changed = sorted(set(now or []) ^ set(expected))
        parts.append(f"{kind} {changed}")
    return "; ".join(parts)[:600]


shared_stack = SharedStack()


@pytest.fixture(scope="session", autouse=True)
def _close_the_shared_stack() -> Iterator[None]:
    yield
    shared_stack.close()


@pytest.fixture(autouse=True)
def _one_local_stack_at_a_time(request: pytest.FixtureRequest) -> None:
    """moto holds one local stack per process: a test that does not use the shared one (make_runtime, the
    CLI) may deploy its own, and it must not see, nor wipe, the shared one's AWS settings and state."""
    if "runtime" not in request.fixturenames:
        shared_stack.close()


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """The shared local stack (template defaults, fixture backend), holding what a fresh deploy holds."""
    local = shared_stack.acquire(request.node.nodeid)
    yield Recorder(local)
    shared_stack.release(request.node.nodeid)


@pytest.fixture
def make_runtime() -> Iterator[Any]:
    """A stack of its own, for tests that need other template parameters or backend:
    make_runtime(Features="labels"); closed at the end of the test."""
    opened: list[LocalRuntime] = []

    def make(backend: Any = "fixture", **parameters: str) -> Recorder:
        local = LocalRuntime(
            backend,
            retry_time_scale=FAST_RETRIES,
            redelivery_seconds=REDELIVERY_SECONDS,
            parameter_overrides=parameters,
            functions_in_process=True,  # as the shared stack's, above
        )
        opened.append(local.__enter__())
        return Recorder(local)

    yield make
    for local in opened:
        local.__exit__(None, None, None)


def token_parked(local: LocalRuntime) -> Callable[[str], bool]:
    """job id -> whether a workflow has parked its task token on the job's item, where the completion
    callback looks for it (the attribute prefix is the callback's own)."""
    table = local.template.ref("VideoJobsTable")
    prefix = local.function("VideoCompletionFunction").module.WAITER_PREFIX

    def parked(job_id: str) -> bool:
        item = _reader().get_item(TableName=table, Key={"JobId": {"S": job_id}}, ConsistentRead=True).get("Item", {})
        return any(name.startswith(prefix) for name in item)

    return parked


@cache
def _reader() -> Any:
    """A DynamoDB client without the local runtime's hooks (a fault a test plans for the workflow's
    reads must not be taken by the fixture's own), on its own session: it is used from job threads."""
    return boto3.session.Session().client("dynamodb")


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
    from rekflow.media.samples import sample_video

    return sample_video(codec=codec)


def task_errors(result: ExecutionResult) -> list[str]:
    """The error of every failed task attempt, in the order the history records them."""
    return [e["taskFailedEventDetails"]["error"] for e in result.events_of_type("TaskFailed")]


def wait_until(condition, timeout: float = 20.0):
    """The condition's first truthy value, checked every 20 ms."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


def parked_tokens(runtime, feature: str) -> list[str]:
    """The task tokens parked on `feature`'s job item (under the completion callback's attribute prefix)."""
    prefix = runtime.function("VideoCompletionFunction").module.WAITER_PREFIX
    items = boto3.client("dynamodb").scan(TableName=runtime.template.ref("VideoJobsTable"), ConsistentRead=True)[
        "Items"
    ]
    return [
        value["S"]
        for item in items
        if item.get("Feature", {}).get("S") == feature
        for name, value in item.items()
        if name.startswith(prefix)
    ]


def schema_validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each module, the tests on the shared stack run first: any other test closes the stack, and
    the next test on it pays a deploy. Modules keep their order."""
    first_seen: dict[str, int] = {}
    for position, item in enumerate(items):
        first_seen.setdefault(str(item.path), position)
    items.sort(key=lambda item: (first_seen[str(item.path)], "runtime" not in getattr(item, "fixturenames", ())))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    _skip_reasons(terminalreporter)
    if shared_stack.deploys:
        terminalreporter.write_sep("-", "shared local stack")
        terminalreporter.write_line(
            f"{shared_stack.deploys + shared_stack.reuses} tests on {shared_stack.deploys}"
            " deploys (a test without `runtime` closes it; each xdist worker has its own)"
        )
        for reason in shared_stack.redeployed:
            terminalreporter.write_line(f"  deployed afresh after {reason}")
    if not _defined:
        return
    covered = _entered & _defined
    terminalreporter.write_sep("-", "State coverage (every state machine in template.yaml)")
    terminalreporter.write_line(
        f"states entered / states defined: {len(covered)}/{len(_defined)} ({100 * len(covered) / len(_defined):.0f}%)"
    )
    for name in sorted(_defined - covered):
        terminalreporter.write_line(f"  never entered: {name}")
    if _in_child_workflows:
        terminalreporter.write_line(
            f"not counted: {len(_in_child_workflows)} states of Distributed Map item "
            "processors (child workflow executions; moto keeps no history of them, "
            "test_backfill asserts each path's outcome)"
        )


def pytest_sessionfinish(session: Any) -> None:
    """Write the session's state cases for tests/aws (REKFLOW_STATE_CASES names another file). Under
    pytest-xdist, each worker hands what it recorded to the controller, which merges it and writes it."""
    if hasattr(session.config, "workerinput"):
        session.config.workeroutput["rekflow"] = {
            "entered": sorted(_entered),
            "defined": sorted(_defined),
            "in_child_workflows": sorted(_in_child_workflows),
            "cases": json.loads(json.dumps(state_cases.document(), default=str)),  # what execnet can carry
            "stack": [shared_stack.deploys, shared_stack.reuses, shared_stack.redeployed],
        }
        return
    if state_cases.cases:
        state_cases.write(Path(os.environ.get("REKFLOW_STATE_CASES") or CASES_PATH))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist, on the controller: take in what a worker recorded (see pytest_sessionfinish)."""
    report = getattr(node, "workeroutput", {}).get("rekflow")
    if not report:
        return
    _entered.update(report["entered"])
    _defined.update(report["defined"])
    _in_child_workflows.update(report["in_child_workflows"])
    state_cases.extend(report["cases"]["cases"])
    state_cases.entered.update(report["cases"]["statesEntered"])
    state_cases.executions += report["cases"]["executions"]
    deploys, reuses, redeployed = report["stack"]
    shared_stack.deploys += deploys
    shared_stack.reuses += reuses
    shared_stack.redeployed += redeployed


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
