"""Every state the local suite entered, sent through AWS Step Functions' TestState API with the same
input and the integration's recorded answer as a STRICT mock: AWS must produce what the local runtime
produced (the output and next state, or the error and the retry decision).

Runs when AWS credentials and a region are present; costs nothing to deploy (TestState runs one
state in the service; every Task and Parallel is mocked, so no roleArn is needed; set
REKFLOW_TESTSTATE_ROLE_ARN to send one anyway). Run it with:

    AWS_PROFILE=... AWS_REGION=... .venv/bin/python -m pytest tests/aws

Without AWS, every case runs alone on the local engine as TestState would run it
(tests/aws/local_test_state.py) and must answer what its execution recorded: that checks the cases
themselves (input, mock, retry count, expected answer) and that a state's answer depends only on what
the case carries.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.aws.conftest import aws_account_missing, parity_report, session_cases
from tests.aws.local_test_state import local_answer

ROLE_ARN = os.environ.get("REKFLOW_TESTSTATE_ROLE_ARN")
HOW_TO_RUN = (
    "to run it: AWS_PROFILE=<profile> AWS_REGION=<region> .venv/bin/python -m pytest tests/aws "
    "(no deploy needed; IAM permission states:TestState)"
)


def request_for(case: dict[str, Any]) -> dict[str, Any]:
    """The TestState request for one case."""
    request: dict[str, Any] = {
        "definition": json.dumps(case["definition"]),
        "input": json.dumps(case["input"]),
        "inspectionLevel": "DEBUG",
    }
    if case["mock"] is not None:
        request["mock"] = {**case["mock"], "fieldValidationMode": "STRICT"}
        if case.get("context"):
            request["context"] = json.dumps(case["context"])
    if case["stateConfiguration"]:
        request["stateConfiguration"] = case["stateConfiguration"]
    if ROLE_ARN:
        request["roleArn"] = ROLE_ARN
    return request


def same(local: Any, remote: Any, json_text_ok: bool) -> bool:
    """Equal JSON; with json_text_ok, a string on AWS's side that parses to the local value also counts
    (TestState may leave a mocked Lambda Payload as the text it was given)."""
    if json_text_ok and isinstance(remote, str) and not isinstance(local, str):
        try:
            return same(local, json.loads(remote), json_text_ok)
        except ValueError:
            return False
    if isinstance(local, dict) and isinstance(remote, dict):
        return local.keys() == remote.keys() and all(same(local[k], remote[k], json_text_ok) for k in local)
    if isinstance(local, list) and isinstance(remote, list):
        return len(local) == len(remote) and all(same(a, b, json_text_ok) for a, b in zip(local, remote, strict=True))
    return bool(local == remote)


def differences(case: dict[str, Any], answer: dict[str, Any], answered_by: str = "AWS") -> list[str]:
    """How an answer (AWS's, or the state's run alone on the local engine) differs from what the local runtime
    recorded for the case inside its execution."""
    expected = case["expected"]
    other = answered_by
    found = []
    if answer.get("status") != expected["status"]:
        found.append(f"status: recorded {expected['status']}, {other} {answer.get('status')}")
    if expected["status"] in ("SUCCEEDED", "CAUGHT_ERROR"):
        if answer.get("nextState") != expected["nextState"]:
            found.append(f"nextState: recorded {expected['nextState']!r}, {other} {answer.get('nextState')!r}")
        remote = json.loads(answer["output"]) if answer.get("output") else None
        lambda_text = (case.get("integration") or {}).get("operation") == "Invoke"
        if not same(expected["output"], remote, lambda_text):
            found.append(f"output: recorded {json.dumps(expected['output'])[:300]}, {other} {json.dumps(remote)[:300]}")
    if expected["status"] != "SUCCEEDED" and answer.get("error") != expected["error"]:
        found.append(f"error: recorded {expected['error']}, {other} {answer.get('error')}")
    return found


def needs_role(case: dict[str, Any]) -> bool:
    """Whether TestState must call a service for the case, and so needs an execution role: a Task, Map or
    Parallel sent without a mock. "The TestState API assumes an IAM role which must contain the required IAM
    permissions for the resources your state is accessing"; with a mock nothing is accessed and roleArn is
    optional (https://docs.aws.amazon.com/step-functions/latest/apireference/API_TestState.html). Every Task
    and Parallel case is recorded with a mock, so today no case needs one."""
    return case["mock"] is None and case["type"] in ("Task", "Map", "Parallel")


def reads_context_without_mock(case: dict[str, Any]) -> bool:
    """Whether the state reads the context object ($$.) but is sent without a mock: TestState takes a context
    only with a mock (API_TestState: "may only be specified if a mock is specified"), so it would answer from
    a context of its own, not the execution's. Such a case is not sent; locally it runs with the recorded one."""
    return case["mock"] is None and "$$." in json.dumps(case["definition"])


def send(client: Any, case: dict[str, Any]) -> tuple[dict[str, Any], list[str] | None]:
    """(case, differences), or (case, None) for a case not sent: known to need a role when none was given, or
    reading the context object without a mock.
    Any refusal of a case that needs no role, one that mentions a role included, is a disagreement."""
    from botocore.exceptions import ClientError

    if (needs_role(case) and not ROLE_ARN) or reads_context_without_mock(case):
        return case, None
    try:
        answer = client.test_state(**request_for(case))
    except ClientError as error:
        return case, [f"TestState refused the request: {str(error)[:500]}"]
    return case, differences(case, answer)


@pytest.fixture(scope="module")
def stepfunctions():
    missing = aws_account_missing()
    if missing:
        pytest.skip(f"TestState parity tier (tests/aws/test_state_parity.py): {missing}; {HOW_TO_RUN}")
    import boto3
    from botocore.config import Config

    return boto3.client("stepfunctions", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def test_every_state_agrees_with_aws(stepfunctions):
    cases = session_cases()["cases"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda case: send(stepfunctions, case), cases))

    by_state: dict[str, list[str]] = defaultdict(list)
    not_sent: set[str] = set()
    for case, found in answers:
        by_state.setdefault(case["state"], [])
        if found is None:
            not_sent.add(case["state"])
            continue
        where = f"{case['state']} (retry {case['retryCount']}, from {case['source']['execution']})"
        by_state[case["state"]] += [f"{where}: {line}" for line in found]
    parity_report.update(
        cases=len(cases),
        agreed=sorted(s for s, f in by_state.items() if not f and s not in not_sent),
        disagreed=sorted(s for s, f in by_state.items() if f),
        notes=[f"{s}: not sent (needs a role, or reads the context object without a mock)" for s in sorted(not_sent)],
    )
    disagreements = [line for lines in by_state.values() for line in lines]
    assert not disagreements, f"{len(disagreements)} disagreement(s):\n" + "\n".join(disagreements)


def test_the_local_engine_answers_each_case_as_the_execution_recorded_it():
    # GIVEN every recorded case, run alone on the local engine as TestState runs it (tests/aws/local_test_state.py:
    # the state by itself, its integration's recorded answer as the mock, the recorded context object)
    cases = session_cases()["cases"]

    # WHEN each one is answered
    found = {}
    for case in cases:
        answer = {k: v for k, v in local_answer(case).items() if v is not None}
        lines = differences(case, answer, answered_by="alone")
        if lines:
            found[f"{case['state']} (retry {case['retryCount']}, from {case['source']['execution']})"] = lines

    # THEN the state alone answers what it did inside its execution: the output and next state, or the error and
    # what the Retry or Catch decided
    assert not found, f"{len(found)} of {len(cases)} case(s) answered otherwise alone:\n" + "\n".join(
        f"{where}: {lines}" for where, lines in found.items()
    )


def test_a_changed_state_answers_otherwise_on_the_local_engine():
    # GIVEN a recorded case that succeeded, and the same state with its ResultPath changed (no OutputPath)
    cases = session_cases()["cases"]
    case = next(
        c for c in cases if c["type"] == "Task" and c["expected"]["status"] == "SUCCEEDED" and c["expected"]["output"]
    )
    definition = {k: v for k, v in case["definition"].items() if k != "OutputPath"}
    changed = case | {"definition": definition | {"ResultPath": "$.placedElsewhereByTheTest"}}

    # WHEN both run alone
    same_answer = {k: v for k, v in local_answer(case).items() if v is not None}
    changed_answer = {k: v for k, v in local_answer(changed).items() if v is not None}

    # THEN only the changed one differs from the record, and a changed answer is reported in each field
    assert differences(case, same_answer) == []
    assert differences(changed, changed_answer)
    assert differences(case, {"status": "FAILED", "error": "States.Runtime"})
    assert differences(
        case, {"status": "SUCCEEDED", "output": json.dumps({"other": 1}), "nextState": case["expected"]["nextState"]}
    )


def test_only_a_case_without_a_mock_that_calls_a_service_needs_a_role():
    task = {"type": "Task", "mock": None}
    assert needs_role(task) and needs_role(task | {"type": "Map"}) and needs_role(task | {"type": "Parallel"})
    assert not needs_role(task | {"mock": {"result": "{}"}})
    assert not needs_role({"type": "Choice", "mock": None})
    assert not any(needs_role(case) for case in session_cases()["cases"])
    # AND a state that reads the context object without a mock is not sent: TestState would use its own context
    reads = {"type": "Pass", "mock": None, "definition": {"Parameters": {"by.$": "$$.Execution.Id"}}}
    assert reads_context_without_mock(reads)
    assert not reads_context_without_mock(reads | {"type": "Task", "mock": {"result": "{}"}})
    assert send(None, reads) == (reads, None)

    # AND a refusal that mentions a role is a disagreement for a case that needs none
    class Refusing:
        def test_state(self, **request):
            from botocore.exceptions import ClientError

            refusal = {"Error": {"Code": "AccessDenied", "Message": "not authorized to assume role"}}
            raise ClientError(refusal, "TestState")

    mocked = next(c for c in session_cases()["cases"] if c["type"] == "Task")
    _, found = send(Refusing(), mocked)
    assert found and "refused" in found[0]
