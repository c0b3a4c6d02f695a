"""The TestState cases recorded from the local suite: one for every state it enters, and every
integration answer in them a valid mock for TestState's STRICT field validation (botocore's models).
Runs without AWS."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rekflow.asl.generated import DEFINITIONS
from rekflow.local.state_cases import Integration, integration_of, mock_problems, output_shape, states_by_name
from tests.aws.conftest import session_cases


@pytest.fixture(scope="module")
def recorded():
    return session_cases()


def test_every_state_entered_has_a_case(recorded):
    cases = recorded["cases"]
    with_cases = {case["state"] for case in cases}
    assert cases, "the local suite recorded no cases"
    assert set(recorded["statesEntered"]) - with_cases == set()
    # AND every case is a complete TestState request with the local runtime's answer
    for case in cases:
        assert case["definition"]["Type"] == case["type"]
        assert case["expected"]["status"] in {"SUCCEEDED", "CAUGHT_ERROR", "RETRIABLE", "FAILED"}
        if case["type"] in ("Task", "Parallel"):
            assert case["mock"] and ("result" in case["mock"]) != ("errorOutput" in case["mock"]), case["state"]
        else:
            assert case["mock"] is None, f"TestState refuses a mock for a {case['type']} state"


def test_task_mocks_validate_against_the_integrations_output_shapes(recorded):
    tasks = [case for case in recorded["cases"] if case["type"] == "Task"]
    checked = Counter()
    problems = []
    for case in tasks:
        if "result" in case["mock"]:
            checked[case["integration"]["resource"]] += 1
            problems += [f"{case['state']} ({case['integration']['resource']}): {p}" for p in mock_problems(case)]
    assert problems == []
    # AND every integration of a Task the suite entered (read from the ASL, not from the cases) answered at least
    # once and was checked against a real model
    assert set(task_resources_entered(recorded)) - set(checked) == set()


def task_resources_entered(recorded) -> set[str]:
    """The Resource of every Task of the Standard and Express definitions that the suite entered."""
    entered = set(recorded["statesEntered"])
    resources = set()
    for path in DEFINITIONS:
        for name, state in states_by_name(json.loads(path.read_text())).items():
            if state["Type"] == "Task" and name in entered:
                resources.add(state["Resource"])
    return resources


def test_every_task_resource_maps_to_a_botocore_operation(recorded):
    definitions = {}
    for case in recorded["cases"]:
        definitions |= states_by_name({"States": {case["state"]: case["definition"]}})
    resources = {s["Resource"] for s in definitions.values() if s["Type"] == "Task"}
    for resource in resources:
        integration = integration_of(resource)
        assert isinstance(integration, Integration), resource
        output_shape(integration)  # raises when botocore has no such service or operation


def test_shape_check_refuses_what_strict_refuses():
    # Cases AWS answers ValidationException for under STRICT (localstack's TestState tests, recorded on AWS)
    invoke = Integration("arn:aws:states:::lambda:invoke", "lambda", "Invoke", "request-response")
    put_events = Integration("arn:aws:states:::events:putEvents", "events", "PutEvents", "request-response")
    case = {"type": "Task", "integration": invoke.as_dict()}
    assert mock_problems(case | {"mock": {"result": '{"StatusCode": "200"}'}})
    assert mock_problems(case | {"mock": {"result": '{"StatusCode": 200, "Payload": {"a": 1}}'}})
    assert not mock_problems(case | {"mock": {"result": '{"StatusCode": 200, "Payload": "{\\"a\\": 1}"}'}})
    case = {"type": "Task", "integration": put_events.as_dict()}
    assert mock_problems(case | {"mock": {"result": '{"Entries": "not a list"}'}})
    assert mock_problems(case | {"mock": {"result": '{"Entries": [{"EventId": ["x"]}]}'}})
    assert not mock_problems(case | {"mock": {"result": '{"random": "json"}'}})  # fields outside the model pass
