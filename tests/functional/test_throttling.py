"""Rekognition's TPS quota on the fixture backend, against the ASL's real Retry policies.

`make bench` runs the 10x burst the issue asks for (rekflow.bench.throttling); here a burst of twice the
quota, which the ASL's Retry must absorb with no failed execution, kept small enough for a few seconds.
"""

from __future__ import annotations

from rekflow.bench.cost import billed_transitions, states_entered
from rekflow.bench.throttling import rekognition_image_operations, run_burst
from tests.conftest import jpeg_bytes, task_errors


def test_a_throttled_burst_ends_with_every_execution_succeeded() -> None:
    figures = run_burst(quota_tps=5, time_scale=0.5, burst_multiple=2, timeout=60)

    assert figures.executions == 10
    assert figures.failed == []
    assert {o.operation for o in figures.operations} == {
        "DetectFaces",
        "DetectLabels",
        "DetectModerationLabels",
        "DetectText",
    }
    # Every call got through in the end, and the quota did refuse some: the Retry, not luck, carried the burst.
    assert all(o.admitted == figures.executions for o in figures.operations)
    assert sum(o.refused for o in figures.operations) > 0
    assert 0 < figures.share <= 1


def test_the_image_operations_are_read_from_the_asl(runtime) -> None:
    assert rekognition_image_operations(runtime.stack.definition) == [
        "DetectFaces",
        "DetectLabels",
        "DetectModerationLabels",
        "DetectText",
    ]


def test_each_retry_in_a_real_history_is_one_more_billed_transition(runtime) -> None:
    runtime.backend.faults.inject("DetectText", "ProvisionedThroughputExceededException", times=2)
    upload = runtime.upload(jpeg_bytes(), "photos/throttled.jpg")
    result = runtime.run(runtime.object_created_event(upload))

    assert result.status == "SUCCEEDED"
    assert task_errors(result) == ["Rekognition.ProvisionedThroughputExceededException"] * 2
    assert states_entered(result.history) == len(result.states_entered())
    assert billed_transitions(result.history) == len(result.states_entered()) + 2
