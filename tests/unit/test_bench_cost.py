"""The cost arithmetic of `make bench`: what a history is billed for, and the billing increments."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rekflow.bench.cost import (
    EXPRESS_GB_SECOND,
    EXPRESS_REQUEST,
    LAMBDA_GB_SECOND,
    LAMBDA_REQUEST,
    REKOGNITION_VIDEO_MINUTE,
    STANDARD_TRANSITION,
    billed_transitions,
    express_cost,
    lambda_cost,
    lambda_invocations,
    largest_payload_bytes,
    rekognition_calls,
    rekognition_video_cost_per_minute,
    segment_types,
    standard_cost,
    states_entered,
    task_retries,
)


def _entered(kind: str, name: str, data: str = "{}") -> dict:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name, "input": data}}


def _scheduled(resource_type: str, resource: str, **parameters: object) -> dict:
    return {
        "type": "TaskScheduled",
        "taskScheduledEventDetails": {
            "resourceType": resource_type,
            "resource": resource,
            "parameters": json.dumps(parameters),
        },
    }


def _succeeded(resource_type: str, resource: str) -> dict:
    return {"type": "TaskSucceeded", "taskSucceededEventDetails": {"resourceType": resource_type, "resource": resource}}


# A Lambda task, a Choice, a Parallel with a Rekognition task that throttled twice, a Pass, and a task
# whose Resource is a function's ARN (LambdaFunction… events instead of Task… ones).
HISTORY = [
    {"type": "ExecutionStarted"},
    _entered("Task", "Validate object"),
    _scheduled("lambda", "invoke", FunctionName="arn:aws:lambda:us-east-1:1:function:validate"),
    _succeeded("lambda", "invoke"),
    _entered("Choice", "What kind of media is it?"),
    _entered("Parallel", "Analyze image"),
    _entered("Task", "Detect labels", data="x" * 5000),
    _scheduled("aws-sdk:rekognition", "detectLabels"),
    {"type": "TaskFailed", "taskFailedEventDetails": {"error": "Rekognition.ProvisionedThroughputExceededException"}},
    _scheduled("aws-sdk:rekognition", "detectLabels"),
    {"type": "TaskFailed", "taskFailedEventDetails": {"error": "Rekognition.ProvisionedThroughputExceededException"}},
    _scheduled("aws-sdk:rekognition", "detectLabels"),
    _succeeded("aws-sdk:rekognition", "detectLabels"),
    _entered("Pass", "Labels done"),
    _entered("Task", "Build results"),
    {"type": "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails": {"resource": "build"}},
    {"type": "ExecutionSucceeded", "executionSucceededEventDetails": {"output": "y" * 7000}},
]


def test_a_billed_transition_is_each_state_entered_and_each_retry() -> None:
    assert states_entered(HISTORY) == 6
    # Five attempts (three at Rekognition, two Lambda invocations) in three Task states: two retries.
    assert task_retries(HISTORY) == 2
    assert billed_transitions(HISTORY) == 8


def test_lambda_invocations_are_counted_by_function_from_both_event_shapes() -> None:
    assert lambda_invocations(HISTORY) == Counter({"arn:aws:lambda:us-east-1:1:function:validate": 1, "build": 1})


def test_only_rekognition_calls_that_succeeded_are_billed() -> None:
    assert rekognition_calls(HISTORY) == Counter({"detectLabels": 1})


def test_the_largest_payload_is_read_from_any_event_detail() -> None:
    assert largest_payload_bytes(HISTORY) == 7000


def test_segment_types_are_read_from_the_segment_job_request() -> None:
    history = [_scheduled("aws-sdk:rekognition", "startSegmentDetection", SegmentTypes=["SHOT", "TECHNICAL_CUE"])]
    assert segment_types(history) == 2
    assert segment_types(HISTORY) == 0


def test_standard_bills_each_transition() -> None:
    assert standard_cost(1000) == pytest.approx(1000 * STANDARD_TRANSITION.usd)
    assert STANDARD_TRANSITION.usd == pytest.approx(0.025 / 1000)


@pytest.mark.parametrize(("seconds", "billed_seconds"), [(1.0, 1.0), (1.01, 1.1), (0.3, 0.3), (0.001, 0.1)])
def test_express_duration_is_billed_in_100_ms_steps(seconds: float, billed_seconds: float) -> None:
    expected = EXPRESS_REQUEST.usd + billed_seconds * (64 / 1024) * EXPRESS_GB_SECOND.usd
    assert express_cost(seconds, 64) == pytest.approx(expected)


@pytest.mark.parametrize(("memory_mb", "billed_mb"), [(1, 64), (64, 64), (65, 128), (200, 256)])
def test_express_memory_is_billed_in_64_mb_chunks(memory_mb: float, billed_mb: int) -> None:
    expected = EXPRESS_REQUEST.usd + 2.0 * (billed_mb / 1024) * EXPRESS_GB_SECOND.usd
    assert express_cost(2.0, memory_mb) == pytest.approx(expected)


def test_lambda_bills_its_configured_memory_for_each_millisecond_begun() -> None:
    expected = LAMBDA_REQUEST.usd + 0.101 * 0.25 * LAMBDA_GB_SECOND["arm64"].usd
    assert lambda_cost(256, 100.2, "arm64") == pytest.approx(expected)
    assert lambda_cost(256, 100.2, "x86_64") > lambda_cost(256, 100.2, "arm64")


def test_rekognition_video_prices_each_feature_and_each_segment_type_per_minute() -> None:
    jobs = Counter({"startLabelDetection": 1, "startSegmentDetection": 1})
    expected = (
        REKOGNITION_VIDEO_MINUTE["startLabelDetection"].usd + 2 * REKOGNITION_VIDEO_MINUTE["startSegmentDetection"].usd
    )
    assert rekognition_video_cost_per_minute(jobs, segment_type_count=2) == pytest.approx(expected)
