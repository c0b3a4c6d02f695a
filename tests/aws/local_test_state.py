"""TestState on the local engine: one recorded case run through moto's Step Functions interpreter, with
rekflow's patches, as AWS's TestState runs it (one state, the integration's answer mocked), answered in
TestState's words (status, output, nextState, error, cause).

The case's state runs alone in a one-state program whose Next and Catch targets are empty Pass states;
its mock becomes moto's mocked response for that state (the engine's own mocked mode, written for Step
Functions Local's mock configuration), so Parameters, ResultSelector, ResultPath, OutputPath, Retry
and Catch are the engine's. A Parallel's branches become one mocked Task each (its recorded branch
output, or the failing branch's error). The context object is the recorded one.

TestState's statuses (https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html):
SUCCEEDED, FAILED, RETRIABLE (a Retry would run the state again), CAUGHT_ERROR (a Catch took it).
A case's stateConfiguration.retrierRetryCount is the number of retries its Retrier has already made, so
the mocked error is thrown for that many attempts and one more; a further attempt scheduled is RETRIABLE.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import importlib
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

from rekflow.local.moto_patches.engine import error_name_of, patched_moto
from rekflow.local.moto_patches.histories import _plain
from rekflow.local.state_cases import states_by_name
from rekflow.local.template import ACCOUNT_ID, REGION

# A branch is one lambda:invoke Task: the mocked mode answers before the function would be called, and its
# OutputPath hands on the mocked Payload (the branch's recorded output) as it is.
_BRANCH_RESOURCE = "arn:aws:states:::lambda:invoke"
_TRANSITIONS = ("Next", "Default")
_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"
_OPTIMISED_INTEGRATIONS = (
    ("state_task_service_dynamodb", "StateTaskServiceDynamoDB"),
    ("state_task_service_sns", "StateTaskServiceSns"),
    ("state_task_service_events", "StateTaskServiceEvents"),
)


class _Ended:
    """What moto's worker tells the execution when the program ends; a single-state run needs nothing."""

    def terminated(self) -> None:
        return None


def _targets(state: dict[str, Any]) -> set[str]:
    """Every state the state can hand over to: Next, a Choice's rules and Default, each Catcher's Next."""
    found = {state[key] for key in _TRANSITIONS if key in state}
    found |= {rule["Next"] for rule in state.get("Choices", []) if "Next" in rule}
    found |= {catcher["Next"] for catcher in state.get("Catch", [])}
    return found


def program_for(case: dict[str, Any]) -> dict[str, Any]:
    """The case's state alone, with a Pass state for each target; a Parallel's branches mocked."""
    state = copy.deepcopy(case["definition"])
    if state["Type"] == "Parallel":
        state["Branches"] = [_mocked_branch(index) for index in range(len(state["Branches"]))]
    states = {case["state"]: state}
    for target in _targets(state):
        states.setdefault(target, {"Type": "Pass", "End": True})
    return {"StartAt": case["state"], "States": states}


def _mocked_branch(index: int) -> dict[str, Any]:
    task = {
        "Type": "Task",
        "Resource": _BRANCH_RESOURCE,
        "Parameters": {"FunctionName": "branch"},
        "OutputPath": "$.Payload",
        "End": True,
    }
    return {"StartAt": f"Branch {index}", "States": {f"Branch {index}": task}}


def _failing_branch_index(case: dict[str, Any]) -> int:
    """Which branch of the recorded Parallel held the state that failed (TestState's errorCausedByState)."""
    culprit = (case["stateConfiguration"] or {}).get("errorCausedByState")
    for index, branch in enumerate(case["definition"]["Branches"]):
        if culprit in states_by_name(branch):
            return index
    return 0


def _mocked_responses(case: dict[str, Any]) -> dict[str, list[Any]]:
    """moto's mocked responses by state name, one per attempt (the context object's State.RetryCount)."""
    from moto.stepfunctions.parser.mocking.mock_config import MockedResponseReturn, MockedResponseThrow

    answer = case["mock"]
    if answer is None:
        return {}
    if case["type"] == "Parallel":
        if "result" in answer:
            results = json.loads(answer["result"])
            return {
                f"Branch {i}": [MockedResponseReturn(0, 0, {"StatusCode": 200, "Payload": result})]
                for i, result in enumerate(results)
            }
        # The failing branch throws; the others answer (TestState runs none of them).
        failing = _failing_branch_index(case)
        error = answer["errorOutput"]
        mocks: dict[str, list[Any]] = {
            f"Branch {i}": [MockedResponseReturn(0, 0, {"StatusCode": 200, "Payload": {}})]
            for i in range(len(case["definition"]["Branches"]))
        }
        return mocks | {f"Branch {failing}": [MockedResponseThrow(0, 0, error["error"], error.get("cause"))]}
    if "result" in answer:
        return {case["state"]: [MockedResponseReturn(0, 0, _integration_answer(case, answer["result"]))]}
    error = answer["errorOutput"]
    made = (case["stateConfiguration"] or {}).get("retrierRetryCount", 0)
    # Thrown for the retries already made and this attempt, and again for any retry the Retrier still
    # allows, so that the run ends (a Catch, or the state failing) whatever it decides.
    throws = made + 1 + max((r.get("MaxAttempts", 3) for r in case["definition"].get("Retry", [])), default=0)
    return {case["state"]: [MockedResponseThrow(0, throws - 1, error["error"], error.get("cause"))]}


def _integration_answer(case: dict[str, Any], text: str) -> Any:
    """The answer the integration hands the state: a STRICT mock carries Lambda's Payload as JSON text
    (Invoke models it as a blob), the live lambda:invoke integration hands the state parsed JSON."""
    answer = json.loads(text)
    integration = case.get("integration") or {}
    if integration.get("operation") == "Invoke" and isinstance(answer.get("Payload"), str):
        answer["Payload"] = json.loads(answer["Payload"])
    return answer


def _context(case: dict[str, Any]) -> dict[str, Any]:
    recorded = case.get("context") or {}
    execution = dict(recorded.get("Execution") or {})
    machine = recorded.get("StateMachine") or {}
    arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:local-test-state"
    return {
        "Execution": {
            "Id": execution.get("Id") or arn.replace(":stateMachine:", ":execution:") + ":case",
            "Input": execution.get("Input", case["input"]),
            "Name": execution.get("Name") or "case",
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/local-test-state",
            "StartTime": execution.get("StartTime") or datetime.datetime.now(datetime.UTC).isoformat(),
        },
        "StateMachine": {"Id": machine.get("Id") or arn, "Name": machine.get("Name") or "local-test-state"},
    }


@contextlib.contextmanager
def _engine() -> Iterator[None]:
    """rekflow's patches, no Retry waits, and mocked errors named as the engine names a branch's errors (moto's
    mocked Throw refuses a States.* name, such as States.Timeout for a task that timed out)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import mock_eval_utils

    with contextlib.ExitStack() as patches:
        patches.enter_context(patched_moto(retry_time_scale=0.0))
        patches.enter_context(mock.patch.object(mock_eval_utils, "CustomErrorName", error_name_of))
        for integration in _OPTIMISED_INTEGRATIONS:
            owner = getattr(importlib.import_module(f"{_SERVICE}.{integration[0]}"), integration[1])
            patches.enter_context(mock.patch.object(owner, "_from_error", _mocked_errors_kept(owner._from_error)))
        yield


def _mocked_errors_kept(from_error: Any) -> Any:
    """moto's optimised DynamoDB, SNS and EventBridge integrations rename every error that is not a botocore
    ClientError to their base class, a mocked error included; TestState reports a mocked error as given."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

    def kept(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        return from_error(self, env, ex)

    return kept


def run_locally(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The history of the case's one-state program on the local engine."""
    from moto.stepfunctions.parser.api import StateMachineType
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.evaluation_details import AWSExecutionDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.mocking.mock_config import MockTestCase, StateMockedResponses

    mocks = MockTestCase(
        "local-test-state",
        "case",
        [StateMockedResponses(name, f"{name} answer", answers) for name, answers in _mocked_responses(case).items()],
    )
    context = _context(case)
    with _engine():
        program = AmazonStateLanguageParser.parse(json.dumps(program_for(case)))[0]
        environment = Environment(
            aws_execution_details=AWSExecutionDetails(ACCOUNT_ID, REGION, context["Execution"]["RoleArn"]),
            execution_type=StateMachineType.STANDARD,
            context=context,  # type: ignore[arg-type]
            event_history_context=EventHistoryContext.of_program_start(),
            cloud_watch_logging_session=None,
            activity_store={},
            mock_test_case=mocks,
        )
        environment.states.reset(case["input"])
        program.eval(environment)
    # moto's own record of the events, in GetExecutionHistory's shape (enums as their values).
    return [_plain(event) for event in environment.event_manager.get_event_history()]


def local_answer(case: dict[str, Any]) -> dict[str, Any]:
    """What TestState would answer for the case, as the local engine runs it: RETRIABLE when the state was
    scheduled again after the mocked failure, SUCCEEDED or CAUGHT_ERROR with the output and the state entered
    next, FAILED with the execution's error."""
    history = run_locally(case)
    targets = _targets(case["definition"])
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    after = [name for name in entered if name in targets]
    exits = [e for e in history if e["type"].endswith("StateExited")]
    exited = [e for e in exits if e["stateExitedEventDetails"]["name"] == case["state"]]
    mocked_error = (case["mock"] or {}).get("errorOutput")
    if mocked_error is not None and case["type"] == "Task":
        made = (case["stateConfiguration"] or {}).get("retrierRetryCount", 0)
        if len([e for e in history if e["type"] == "TaskScheduled"]) > made + 1:
            return {"status": "RETRIABLE", "error": mocked_error["error"], "cause": mocked_error.get("cause")}
    if exited:
        answer = {"status": "SUCCEEDED", "output": exited[-1]["stateExitedEventDetails"].get("output")}
        if after:
            answer["nextState"] = after[0]
        if mocked_error is not None:
            answer |= {"status": "CAUGHT_ERROR", "error": mocked_error["error"], "cause": mocked_error.get("cause")}
        return answer
    failed = next((e["executionFailedEventDetails"] for e in history if e["type"] == "ExecutionFailed"), {})
    return {"status": "FAILED", "error": failed.get("error"), "cause": failed.get("cause")}
