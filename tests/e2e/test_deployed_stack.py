"""End to end on a deployed stack: the bundled samples uploaded to the media bucket, each execution's
outcome, results document, summary item and "Media Analyzed" event, and one forced failure redriven.

Needs an account and a deployed stack (see README, "Testing against AWS"):

    AWS_SAM_STACK_NAME=rekflow-dev .venv/bin/python -m pytest tests/e2e

Every test skips, saying why, without AWS_SAM_STACK_NAME or credentials. Calls are billed to the
account (Rekognition on 7 images and 1 short video). What it leaves behind: the uploaded objects
(under rekflow-e2e/<run id>/), their results and summary items; the queue and rule it creates for
the events are deleted at the end, and the bucket policy is put back as it was.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from rekflow.features import IMAGE_FEATURES, VIDEO_FEATURES
from rekflow.media.samples import SAMPLES
from tests.aws.conftest import aws_account_missing
from tests.conftest import jpeg_bytes, schema_validator

STACK = os.environ.get("AWS_SAM_STACK_NAME")
HOW_TO_RUN = (
    "to run it: sam build && sam deploy --guided, then AWS_SAM_STACK_NAME=<stack> .venv/bin/python -m pytest tests/e2e"
)
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
FORCED_FAILURE_SID = "RekflowE2eForcedFailure"


def _why_not() -> str | None:
    return "AWS_SAM_STACK_NAME is not set" if not STACK else aws_account_missing()


@pytest.fixture(scope="module")
def aws():
    reason = _why_not()
    if reason:
        pytest.skip(f"end-to-end tier (tests/e2e): {reason}; {HOW_TO_RUN}")
    import boto3

    return boto3.Session()


@pytest.fixture(scope="module")
def stack(aws) -> dict[str, str]:
    described = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    wanted = ("MediaBucketName", "ResultsBucketName", "ResultsTableName", "MediaAnalysisStateMachineArn")
    missing = [name for name in wanted if name not in outputs]
    assert not missing, f"stack {STACK} has no output(s) {missing}"
    return outputs


@pytest.fixture(scope="module")
def events_queue(aws, stack):
    """A temporary queue with an EventBridge rule on the default bus sending it every "Media Analyzed" event."""
    sqs, events = aws.client("sqs"), aws.client("events")
    name = f"rekflow-e2e-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(
        Name=name, EventPattern=json.dumps({"detail-type": ["Media Analyzed"]}), State="ENABLED"
    )["RuleArn"]
    try:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
        yield url
    finally:
        events.remove_targets(Rule=name, Ids=["queue"])
        events.delete_rule(Name=name)
        sqs.delete_queue(QueueUrl=url)


def _key_matches(event_key: str, key: str) -> bool:
    """The event's key against ours, whichever of S3's encodings it arrives in."""
    return event_key in (key, quote(key, safe="/"), quote_plus(key, safe="/"))


def wait_for_execution(aws, machine_arn: str, key: str, since: float, timeout: float = 900) -> dict[str, Any]:
    """The execution that EventBridge started for `key` (found by its input), once it has ended."""
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    arn = None
    while time.monotonic() < deadline:
        if arn is None:
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
                for execution in page["executions"]:
                    if execution["startDate"].timestamp() < since - 5:
                        continue
                    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
                    if _key_matches(started.get("detail", {}).get("object", {}).get("key", ""), key):
                        arn = execution["executionArn"]
                        break
                if arn:
                    break
        if arn is not None:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] in TERMINAL:
                return dict(described)
        time.sleep(5)
    raise TimeoutError(f"no finished execution for {key!r} after {timeout} s (execution: {arn})")


@pytest.fixture(scope="module")
def runs(aws, stack, events_queue) -> dict[str, dict[str, Any]]:
    """Every bundled sample uploaded under a fresh prefix, with its finished execution."""
    s3 = aws.client("s3")
    prefix = f"rekflow-e2e/{uuid.uuid4().hex[:12]}/"
    since = time.time()
    keys = {}
    for sample in SAMPLES:
        keys[sample.name] = prefix + sample.name
        s3.put_object(Bucket=stack["MediaBucketName"], Key=keys[sample.name], Body=sample.make())
    return {
        name: wait_for_execution(aws, stack["MediaAnalysisStateMachineArn"], key, since) for name, key in keys.items()
    }


def _plain(value: Any) -> Any:
    """A DynamoDB item as JSON would hold it (Decimal to int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# What each sample is analysed as: an image (the features with an image operation), a video (those with a video
# job), or nothing (rejected before any analysis). On Rekognition every analysis of these samples succeeds: none
# is PARTIAL (a GIF and a HEIC are converted to JPEG, the MPEG-4 Part 2 and HEVC videos to H.264 first).
ANALYSED_AS = {
    "astronaut.jpg": "image",
    "cat.jpg": "image",
    "coffee.jpg": "image",
    "rocket.jpg": "image",
    "shop sign + hours 100% café.png": "image",
    "blank.png": "image",
    "notes.txt": None,
    "spinner.gif": "image",
    "IMG_4032.HEIC": "image",
    "broken upload.jpg": None,
    "empty.jpg": None,
    "pixel-bomb.png": None,
    "space cat tour.mp4": "video",
    "tour in mpeg-4 part 2.mp4": "video",
    "IMG_4033.MOV": "video",
}
FEATURES_OF = {
    "image": {feature.name for feature in IMAGE_FEATURES},
    "video": {feature.name for feature in VIDEO_FEATURES},
    None: set(),
}


def expected_features(name: str, requested: list[str]) -> dict[str, str]:
    """The features a sample's results document must hold, each SUCCEEDED: those the stack requests that its
    media type has."""
    return {feature: "SUCCEEDED" for feature in requested if feature in FEATURES_OF[ANALYSED_AS[name]]}


def test_every_sample_has_its_expectation():
    assert set(ANALYSED_AS) == {sample.name for sample in SAMPLES}
    assert {sample.name for sample in SAMPLES if sample.expected_status == "REJECTED"} == {
        name for name, kind in ANALYSED_AS.items() if kind is None
    }


def test_every_sample_reaches_its_outcome(runs):
    for sample in SAMPLES:
        execution = runs[sample.name]
        assert execution["status"] == "SUCCEEDED", (sample.name, execution.get("error"), execution.get("cause"))
        output = json.loads(execution["output"])
        assert output["status"] == sample.expected_status, (sample.name, output)
        assert output.get("reason") == sample.expected_reason, (sample.name, output)


def test_results_documents_are_stored_and_valid(aws, stack, runs):
    s3 = aws.client("s3")
    validator = schema_validator("results-document.schema.json")
    for name, execution in runs.items():
        output = json.loads(execution["output"])
        body = s3.get_object(Bucket=stack["ResultsBucketName"], Key=output["resultsKey"])["Body"].read()
        document = json.loads(body)
        validator.validate(document)
        assert document["assetId"] == output["assetId"], name
        assert document["object"]["key"].endswith(name), name
        # AND each feature the sample's media type has ran and succeeded; no other ran
        features = document["features"].items()
        ran = {feature: result["status"] for feature, result in features if result["status"] != "SKIPPED"}
        assert ran == expected_features(name, document["settings"]["features"]), name


def test_one_summary_item_per_sample(aws, stack, runs):
    dynamodb = aws.client("dynamodb")
    (key_name,) = [
        k["AttributeName"] for k in dynamodb.describe_table(TableName=stack["ResultsTableName"])["Table"]["KeySchema"]
    ]
    table = aws.resource("dynamodb").Table(stack["ResultsTableName"])
    validator = schema_validator("summary-item.schema.json")
    for name, execution in runs.items():
        asset_id = json.loads(execution["output"])["assetId"]
        item = table.get_item(Key={key_name: asset_id}, ConsistentRead=True).get("Item")
        assert item, f"no summary item for {name}"
        validator.validate(_plain(item))


def test_a_media_analyzed_event_per_sample(aws, runs, events_queue):
    sqs = aws.client("sqs")
    wanted = {json.loads(e["output"])["assetId"] for e in runs.values()}
    validator = schema_validator("media-analyzed-event.schema.json")
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while wanted - seen and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=events_queue, MaxNumberOfMessages=10, WaitTimeSeconds=10).get(
            "Messages", []
        ):
            event = json.loads(message["Body"])
            if event["detail"].get("assetId") in wanted:
                assert event["source"] == "rekflow"
                validator.validate(event["detail"])
                seen.add(event["detail"]["assetId"])
            sqs.delete_message(QueueUrl=events_queue, ReceiptHandle=message["ReceiptHandle"])
    assert wanted - seen == set(), "no event for these asset ids"


def test_a_denied_results_write_fails_by_name_and_redrive_completes_it(aws, stack, runs):
    """The forced failure: a bucket-policy Deny on the results bucket for the state machine's own role
    (an operational fault the workflow cannot fix itself, as a mis-set policy would be). The execution
    must fail with a named error; once the Deny is gone, RedriveExecution must finish it."""
    s3, sfn = aws.client("s3"), aws.client("stepfunctions")
    bucket = stack["ResultsBucketName"]
    role = sfn.describe_state_machine(stateMachineArn=stack["MediaAnalysisStateMachineArn"])["roleArn"]
    try:
        original = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        original = None
    policy = json.loads(original) if original else {"Version": "2012-10-17", "Statement": []}
    policy["Statement"].append(
        {
            "Sid": FORCED_FAILURE_SID,
            "Effect": "Deny",
            "Principal": {"AWS": role},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )
    key = f"rekflow-e2e/{uuid.uuid4().hex[:12]}/denied.jpg"
    since = time.time()
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    try:
        time.sleep(10)  # bucket policies take a moment to apply
        aws.client("s3").put_object(Bucket=stack["MediaBucketName"], Key=key, Body=jpeg_bytes())
        failed = wait_for_execution(aws, stack["MediaAnalysisStateMachineArn"], key, since)
    finally:
        if original:
            s3.put_bucket_policy(Bucket=bucket, Policy=original)
        else:
            s3.delete_bucket_policy(Bucket=bucket)
    assert failed["status"] == "FAILED"
    assert failed.get("error") and failed["error"] != "States.Runtime", failed.get("cause")

    time.sleep(10)
    sfn.redrive_execution(executionArn=failed["executionArn"])
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=failed["executionArn"])
        if described.get("redriveCount", 0) >= 1 and described["status"] in TERMINAL:
            break
        time.sleep(5)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    assert described.get("redriveCount", 0) >= 1
    output = json.loads(described["output"])
    s3.head_object(Bucket=bucket, Key=output["resultsKey"])
