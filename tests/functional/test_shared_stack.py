"""Tests share one deployed local stack (tests/conftest.py): emptying it must leave exactly what a fresh
deploy holds, and the check that guards every reuse must see each kind of leftover."""

from __future__ import annotations

import boto3
import pytest

from rekflow.features import VIDEO_FEATURES
from rekflow.local import stack_reset
from rekflow.local.moto_patches.task_timeouts import time_out_task
from rekflow.local.runtime import client
from tests.conftest import SharedStack, jpeg_bytes, parked_tokens, shared_stack, video_bytes, wait_until


def dirty_every_kind_of_state(runtime) -> None:
    """An execution's objects, items, events and history; then a version, a delete marker, an item and a
    message in every bucket, table and queue the pollers do not consume, one of them in flight."""
    upload = runtime.upload(jpeg_bytes(), "photos/left-behind.jpg")
    assert runtime.run(runtime.object_created_event(upload)).status == "SUCCEEDED"
    s3, dynamodb, sqs = boto3.client("s3"), boto3.client("dynamodb"), boto3.client("sqs")
    for bucket in s3.list_buckets()["Buckets"]:
        s3.put_object(Bucket=bucket["Name"], Key="left-behind", Body=b"x")
        s3.delete_object(Bucket=bucket["Name"], Key="left-behind")  # a delete marker where versioned
    for table in dynamodb.list_tables()["TableNames"]:
        description = dynamodb.describe_table(TableName=table)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
        dynamodb.put_item(
            TableName=table,
            Item={k["AttributeName"]: {types[k["AttributeName"]]: "1"} for k in description["KeySchema"]},
        )
    consumed = {poller.queue_url for poller in runtime.pollers.values()}
    for url in set(sqs.list_queues()["QueueUrls"]) - consumed:
        sqs.send_message(QueueUrl=url, MessageBody="left behind")
    assert sqs.receive_message(QueueUrl=runtime.stack.events_tap_url, VisibilityTimeout=600)["Messages"]


def test_emptying_the_stack_leaves_what_a_fresh_deploy_holds(runtime):
    # GIVEN the shared stack, which holds what it held right after its deploy (the fixture checked)
    deployed = shared_stack.deployed_contents
    assert stack_reset.contents(client) == deployed
    # AND a test that left objects, items, messages, an execution, planned faults and counts behind
    dirty_every_kind_of_state(runtime)
    left = stack_reset.contents(client)
    assert all(left[kind] != deployed[kind] for kind in ("buckets", "tables", "queues", "executions")), left
    old_backend = runtime.backend
    runtime.backend.faults.inject("DetectLabels", "ThrottlingException")
    runtime.backend.video.plan("labels", status="FAILED")
    runtime.service_faults.inject("dynamodb", "GetItem", "InternalServerError", status=500)
    runtime.pollers["VideoCompletionFunction"].failed_records = 3

    # WHEN the stack is emptied
    assert runtime.reset()

    # THEN it holds what a fresh deploy holds, and nothing planned or counted survives
    assert stack_reset.contents(client) == deployed
    assert runtime.backend is not old_backend and runtime.backend.faults.calls == {}
    assert runtime.backend.handle("DetectLabels", {"Image": {"Bytes": jpeg_bytes()}})["Labels"]
    boto3.client("dynamodb").get_item(TableName=runtime.template.ref("VideoJobsTable"), Key={"JobId": {"S": "x"}})
    assert runtime.service_faults.failed == {}
    assert all(p.failed_records == p.batches == 0 for p in runtime.pollers.values())


def test_a_stack_with_an_execution_still_running_is_not_emptied(runtime):
    # GIVEN an execution whose branches all wait for video jobs that never finish
    for feature in VIDEO_FEATURES:
        runtime.backend.video.plan(feature.name, status="IN_PROGRESS", notify="never")
    upload = runtime.upload(video_bytes(), "videos/running.mp4")
    arn = runtime.start(runtime.object_created_event(upload))
    tokens = [wait_until(lambda name=feature.name: parked_tokens(runtime, name))[0] for feature in VIDEO_FEATURES]

    # THEN the stack is not emptied under it (the fixture would deploy afresh instead)
    assert not runtime.reset()
    assert upload.key in [key for key, _, _ in stack_reset.contents(client)["buckets"][runtime.stack.media_bucket]]

    # AND once the execution has ended, it can be
    boto3.client("stepfunctions").stop_execution(executionArn=arn)
    for token in tokens:
        time_out_task(token)
    assert runtime.wait(arn).status in ("ABORTED", "FAILED")
    assert runtime.reset()


@pytest.mark.usefixtures("make_runtime")  # a test without `runtime`: the shared stack is closed meanwhile
def test_a_stack_that_holds_more_than_its_deploy_is_deployed_afresh():
    stacks = SharedStack()
    try:
        # GIVEN a test that added a resource emptying cannot take away
        first = stacks.acquire("first")
        boto3.client("sqs").create_queue(QueueName="made-by-a-test")
        stacks.release("first")

        # WHEN the next test asks for the stack
        second = stacks.acquire("second")

        # THEN it gets a fresh deploy, and the summary says why
        assert second is not first
        assert stacks.deploys == 2 and stacks.reuses == 0
        (reason,) = stacks.redeployed
        assert reason.startswith("second: left queues") and "made-by-a-test" in reason
        assert stack_reset.contents(client) == stacks.deployed_contents
    finally:
        stacks.close()
