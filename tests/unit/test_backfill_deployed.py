"""`rekflow backfill s3://… --stack NAME` against a deployed stack, its AWS calls answered by botocore's Stubber (which
checks every request and answer against botocore's model): the stack's resources, the start, the Map Run's progress,
and the report read from ResultWriter's files."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from rekflow.cli import main
from rekflow.commands import backfill

STACK, MEDIA = "rekflow-dev", "rekflow-dev-mediabucket-1abc"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rekflow-dev-backfill"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:rekflow-dev-backfill:7c1e"
MAP_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:rekflow-dev-backfill/9f2a:5d3b"
ANALYSIS = "arn:aws:states:us-east-1:123456789012:execution:rekflow-dev-mediaanalysisstatemachine-Xy:{}"
WHEN = datetime(2025, 3, 1, tzinfo=UTC)


def _body(value: Any) -> StreamingBody:
    data = json.dumps(value).encode("utf-8")
    return StreamingBody(io.BytesIO(data), len(data))


def _counts(succeeded: int, failed: int, running: int) -> dict[str, int]:
    return {
        "pending": 3 - succeeded - failed - running,
        "running": running,
        "succeeded": succeeded,
        "failed": failed,
        "timedOut": 0,
        "aborted": 0,
        "total": 3,
        "resultsWritten": succeeded,
    }


def _child(key: str, status: str, **fields: Any) -> dict[str, Any]:
    """One entry of a ResultWriter file, as the ResultWriter page shows them."""
    return {
        "ExecutionArn": f"{MAP_RUN}:{key}",
        "Name": key,
        "Status": status,
        "Input": json.dumps({"key": key, "lineBreak": "\n"}),
        "InputDetails": {"Included": True},
        **fields,
    }


@pytest.fixture
def aws(monkeypatch) -> dict[str, Stubber]:
    """Stubbed clients for the services the command calls, handed out by boto3.client."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()
    clients = {name: session.client(name) for name in ("cloudformation", "stepfunctions", "s3")}
    stubbers = {name: Stubber(made) for name, made in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda name, *args, **kwargs: clients[name])
    monkeypatch.setattr(backfill.time, "sleep", lambda seconds: None)
    return stubbers


def _resource(stubber: Stubber, logical_id: str, physical_id: str, resource_type: str) -> None:
    asked = {"StackName": STACK, "LogicalResourceId": logical_id}
    stubber.add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                **asked,
                "PhysicalResourceId": physical_id,
                "ResourceType": resource_type,
                "LastUpdatedTimestamp": WHEN,
                "ResourceStatus": "CREATE_COMPLETE",
            }
        },
        asked,
    )


def _progress(stubber: Stubber, status: str, counts: dict[str, int], output: dict | None = None) -> None:
    described = {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": status, "startDate": WHEN}
    if output is not None:
        described |= {"output": json.dumps(output), "stopDate": WHEN}
    stubber.add_response("describe_execution", described, {"executionArn": EXECUTION})
    stubber.add_response(
        "list_map_runs",
        {
            "mapRuns": [
                {
                    "executionArn": EXECUTION,
                    "mapRunArn": MAP_RUN,
                    "stateMachineArn": f"{MACHINE}/9f2a",
                    "startDate": WHEN,
                }
            ]
        },
        {"executionArn": EXECUTION},
    )
    stubber.add_response(
        "describe_map_run",
        {
            "mapRunArn": MAP_RUN,
            "executionArn": EXECUTION,
            "status": "SUCCEEDED" if output else "RUNNING",
            "startDate": WHEN,
            "maxConcurrency": 50,
            "toleratedFailurePercentage": 5.0,
            "toleratedFailureCount": 0,
            "itemCounts": counts,
            "executionCounts": counts,
        },
        {"mapRunArn": MAP_RUN},
    )


def test_a_deployed_backfill_is_started_followed_and_reported(aws, capsys):
    _resource(aws["cloudformation"], "MediaBucket", MEDIA, "AWS::S3::Bucket")
    _resource(aws["cloudformation"], "BackfillStateMachine", MACHINE, "AWS::StepFunctions::StateMachine")
    aws["stepfunctions"].add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": WHEN},
        {"stateMachineArn": MACHINE, "input": json.dumps({"prefix": "2023/"})},
    )
    _progress(aws["stepfunctions"], "RUNNING", _counts(1, 0, 2))
    manifest_key = "backfill/5d3b/manifest.json"
    _progress(
        aws["stepfunctions"],
        "SUCCEEDED",
        _counts(2, 1, 0),
        {
            "prefix": "2023/",
            "mapRun": {"MapRunArn": MAP_RUN, "ResultWriterDetails": {"Bucket": "results", "Key": manifest_key}},
        },
    )
    files = {
        "SUCCEEDED": [{"Key": "backfill/5d3b/SUCCEEDED_0.json", "Size": 1}],
        "FAILED": [{"Key": "backfill/5d3b/FAILED_0.json", "Size": 1}],
        "PENDING": [],
    }
    analysed = {
        "key": "2023/a.jpg",
        "outcome": "ANALYSED",
        "execution": ANALYSIS.format("a"),
        "result": {"status": "SUCCEEDED", "reason": None, "resultsKey": "results/a.json", "duplicate": False},
    }
    for key, body in (
        (manifest_key, {"DestinationBucket": "results", "MapRunArn": MAP_RUN, "ResultFiles": files}),
        (
            files["SUCCEEDED"][0]["Key"],
            [
                _child("2023/a.jpg", "SUCCEEDED", Output=json.dumps(analysed)),
                _child(
                    "2023/b.jpg",
                    "SUCCEEDED",
                    Output=json.dumps({"key": "2023/b.jpg", "assetId": "0" * 64, "outcome": "ALREADY_ANALYSED"}),
                ),
            ],
        ),
        (
            files["FAILED"][0]["Key"],
            [
                _child(
                    "2023/c.jpg",
                    "FAILED",
                    Error="States.TaskFailed",
                    Cause=json.dumps({"ExecutionArn": ANALYSIS.format("c"), "Status": "FAILED"}),
                )
            ],
        ),
    ):
        aws["s3"].add_response("get_object", {"Body": _body(body)}, {"Bucket": "results", "Key": key})

    code = main(["backfill", f"s3://{MEDIA}/2023/", "--stack", STACK, "--json"])

    captured = capsys.readouterr()
    lines = {line["key"]: line for line in map(json.loads, captured.out.splitlines())}
    assert code == 1  # one object failed
    assert {key: line["outcome"] for key, line in lines.items()} == {
        "2023/a.jpg": "analysed",
        "2023/b.jpg": "already analysed",
        "2023/c.jpg": "failed",
    }
    assert lines["2023/c.jpg"]["execution"] == ANALYSIS.format("c"), "the MediaAnalysis execution to redrive"
    assert "1/3 object(s) done, 0 failed, 2 running" in captured.err
    assert "3/3 object(s) done, 1 failed, 0 running" in captured.err
    for stubber in aws.values():
        stubber.assert_no_pending_responses()


def test_a_bucket_that_is_not_the_stacks_media_bucket_is_refused(aws, capsys):
    _resource(aws["cloudformation"], "MediaBucket", MEDIA, "AWS::S3::Bucket")

    assert main(["backfill", "s3://someone-elses-bucket/2023/", "--stack", STACK]) == 2
    assert f"is not the media bucket of stack {STACK} (that is {MEDIA})" in capsys.readouterr().err
