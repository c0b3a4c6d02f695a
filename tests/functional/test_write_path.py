"""The write path (document, summary record, event): every write retried, and every rerun converges.

Each write fails once (the Retry absorbs it) and fails for good (the execution fails with the service's
error name). Locally a failed execution is finished by a replay once its claim on the record has lapsed
(moto has no RedriveExecution); on AWS a redrive resumes at the failed state under the same execution
ARN, which the record's claim admits at once (test_the_record_claim_admits_...).
"""

from __future__ import annotations

import json

import boto3
import pytest

from rekflow.local.reviews import parked, wait_for
from tests.conftest import jpeg_bytes, task_errors

FLAGGED = {
    "ModerationLabels": [{"Name": "Violence", "ParentName": "", "Confidence": 91.0, "TaxonomyLevel": 1}],
    "ModerationModelVersion": "7.0",
}


def writes(runtime) -> dict[str, tuple]:
    """Per write: (service, operation, error code, HTTP status, which calls, Step Functions' error name, state)."""
    stack = runtime.stack
    return {
        "document": (
            "s3",
            "PutObject",
            "SlowDown",
            503,
            lambda p: p.get("Bucket") == stack.results_bucket,
            "S3.S3Exception",
            "Store results document",
        ),
        "summary": (
            "dynamodb",
            "PutItem",
            "ProvisionedThroughputExceededException",
            400,
            lambda p: p.get("TableName") == stack.results_table,
            "DynamoDB.ProvisionedThroughputExceededException",
            "Record summary",
        ),
        "event": (
            "events",
            "PutEvents",
            "InternalException",
            500,
            lambda p: True,
            "EventBridge.InternalException",
            "Announce results",
        ),
        "announced": (
            "dynamodb",
            "UpdateItem",
            "InternalServerError",
            500,
            # Mark announced's own update: the review the event starts updates the same item at the same time.
            lambda p: p.get("TableName") == stack.results_table and "Announced" in p.get("UpdateExpression", ""),
            "DynamoDB.InternalServerErrorException",
            "Mark announced",
        ),
    }


def fail(runtime, write: str, times: int) -> tuple[str, str]:
    service, operation, code, status, applies, error_name, state = writes(runtime)[write]
    runtime.service_faults.inject(service, operation, code, status=status, times=times, when=applies)
    return error_name, state


def flagged_upload(runtime, key: str):
    # A moderation hit above the review threshold, so the review topic is written as well.
    runtime.backend.inner._overrides["DetectModerationLabels"] = FLAGGED
    return runtime.upload(jpeg_bytes(), key)


def assert_one_of_each(runtime, result) -> None:
    (item,) = runtime.summary_items()
    assert item["Announced"] is True
    assert len(runtime.analyzed_events()) == 1
    assert runtime.results_document(result.output["resultsKey"])["assetId"] == item["AssetId"]
    versions = (
        boto3.client("s3")
        .list_object_versions(Bucket=runtime.stack.results_bucket, Prefix=result.output["resultsKey"])
        .get("Versions", [])
    )
    assert len({v["Key"] for v in versions}) == 1


@pytest.mark.parametrize("write", ["document", "summary", "event", "announced"])
def test_a_write_that_fails_once_is_retried(runtime, write):
    # GIVEN the write fails once with the error its service sends under load
    error_name, state = fail(runtime, write, times=1)
    upload = flagged_upload(runtime, f"once-{write}.jpg")

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload))

    # THEN the state's Retry absorbed it: one record, one document, one event
    assert result.status == "SUCCEEDED", result.cause
    assert task_errors(result) == [error_name]
    assert state in result.states_entered()
    assert_one_of_each(runtime, result)
    # the review it starts (ReviewStateMachine) notifies the review topic before it waits
    wait_for(boto3.client("dynamodb"), runtime.stack.results_table, result.output["assetId"], parked)
    assert len(runtime.review_messages()) == 1


@pytest.mark.parametrize("write", ["document", "summary", "event"])
def test_a_write_that_fails_for_good_fails_the_execution_and_a_rerun_completes_it(make_runtime, write):
    # GIVEN the write keeps failing, and claims lapse at once (locally a rerun stands in for a redrive)
    runtime = make_runtime(RecordClaimSeconds="0")
    error_name, _ = fail(runtime, write, times=100)
    upload = flagged_upload(runtime, f"down-{write}.jpg")

    # WHEN the workflow runs, it fails with the service's error name after its retries
    failed = runtime.run(runtime.object_created_event(upload))
    assert (failed.status, failed.error) == ("FAILED", error_name)
    assert task_errors(failed) == [error_name] * 6  # first try + MaxAttempts 5

    # THEN once the service is back, running the same input again ends with one of each
    runtime.service_faults.clear()
    rerun = runtime.replay(failed.arn)
    assert rerun.status == "SUCCEEDED" and rerun.output["duplicate"] is False
    assert_one_of_each(runtime, rerun)


def test_marking_announced_that_fails_for_good_fails_the_execution_by_name(runtime):
    # GIVEN the event went out but the record cannot be marked announced
    error_name, _ = fail(runtime, "announced", times=100)
    upload = runtime.upload(jpeg_bytes(), "mark-down.jpg")

    result = runtime.run(runtime.object_created_event(upload))

    # THEN the execution fails by name, to be redriven (a redrive resumes at "Mark announced": no second event)
    assert (result.status, result.error) == ("FAILED", error_name)
    (item,) = runtime.summary_items()
    assert item["Announced"] is False and item["ExecutionArn"] == result.arn


def record_summary(runtime, item: dict, execution_arn: str, now: int) -> str:
    """Put `item` with the Record summary state's own condition, as the state would for that execution."""
    parameters = runtime.stack.definition["States"]["Record summary"]["Parameters"]
    values = json.loads(
        json.dumps(parameters["ExpressionAttributeValues"])
        .replace('"S.$": "$$.Execution.Id"', f'"S": "{execution_arn}"')
        .replace('"N.$": "$.claim.now"', f'"N": "{now}"')
    )
    try:
        boto3.client("dynamodb").put_item(
            TableName=runtime.stack.results_table,
            Item=item,
            ConditionExpression=parameters["ConditionExpression"],
            ExpressionAttributeValues=values,
        )
    except boto3.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return "Already recorded"
    return "recorded"


def test_the_record_claim_admits_a_redrive_and_a_lapsed_claim_but_no_duplicate(runtime):
    first, other = "arn:aws:states:us-east-1:123456789012:execution:m:first", "arn:aws:states:::execution:m:other"

    def item(owner: str, announced: bool = False, expires: int = 1000) -> dict:
        return {
            "AssetId": {"S": "a" * 64},
            "ExecutionArn": {"S": owner},
            "Announced": {"BOOL": announced},
            "ClaimExpiresAt": {"N": str(expires)},
        }

    # a first run claims the record
    assert record_summary(runtime, item(first), first, now=100) == "recorded"
    # a duplicate delivery while the claim holds stops
    assert record_summary(runtime, item(other), other, now=200) == "Already recorded"
    # a redrive of the claiming execution (same ARN) goes on
    assert record_summary(runtime, item(first), first, now=300) == "recorded"
    # a rerun after the claim lapsed unannounced takes it over
    assert record_summary(runtime, item(other), other, now=1000) == "recorded"
    # once announced, every run stops, even the one that claimed it
    boto3.client("dynamodb").put_item(TableName=runtime.stack.results_table, Item=item(other, announced=True))
    assert record_summary(runtime, item(first), first, now=5000) == "Already recorded"
    assert record_summary(runtime, item(other), other, now=5000) == "Already recorded"
