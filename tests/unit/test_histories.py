"""The local runtime reads an execution's history from moto's record (rekflow.local.moto_patches.histories): it must be
what GetExecutionHistory answers, event for event, whatever the execution went through."""

from __future__ import annotations

import boto3

from rekflow.local.moto_patches.histories import execution_history
from rekflow.local.moto_patches.task_timeouts import time_out_task
from tests.conftest import jpeg_bytes, parked_tokens, video_bytes, wait_until


def api_history(execution_arn: str) -> list[dict]:
    return boto3.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def test_histories_read_from_moto_are_what_the_api_answers(runtime):
    # GIVEN executions that succeed after a retry and a caught error, wait for callbacks, time out, and fail
    runtime.backend.faults.inject("DetectText", "ThrottlingException")
    runtime.backend.faults.inject("DetectLabels", "InvalidImageFormatException")
    image = runtime.run(runtime.object_created_event(runtime.upload(jpeg_bytes(), "photos/a.jpg")))
    runtime.backend.video.plan("labels", status="IN_PROGRESS", notify="never")
    video_arn = runtime.start(runtime.object_created_event(runtime.upload(video_bytes(), "videos/v.mp4")))
    (token,) = wait_until(lambda: parked_tokens(runtime, "labels"))
    time_out_task(token)
    video = runtime.wait(video_arn)
    runtime.backend.faults.inject("DetectFaces", "AccessDeniedException")
    failed = runtime.run(runtime.object_created_event(runtime.upload(jpeg_bytes(), "photos/denied.jpg")))
    assert (image.output["status"], video.output["status"], failed.status) == ("PARTIAL", "PARTIAL", "FAILED")
    types = {event["type"] for result in (image, video, failed) for event in execution_history(result.arn)}
    assert {"TaskFailed", "TaskTimedOut", "TaskSubmitted", "ParallelStateSucceeded", "ExecutionFailed"} <= types

    # THEN each history is the API's, field for field (the type a string, the timestamp a datetime)
    for result in (image, video, failed):
        assert execution_history(result.arn) == api_history(result.arn)
