"""`rekflow search --stack`'s engine (rekflow.search.athena) against botocore's Stubber: every request and answer is
checked against botocore's own model of Athena, S3 and CloudFormation (shapes, required members, types), since
no stack can be deployed here. Whether the SQL finds the right assets is the differential test's job.
"""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from rekflow.search.athena import AthenaEngine, SearchFailed
from rekflow.search.query import parse
from rekflow.search.sql import RESULT_COLUMNS

REGION = "us-east-1"
LOCATION = "s3://results-bucket/results/" + "a" * 64 + ".json"
DOCUMENT = {
    "schemaVersion": "1.0",
    "assetId": "a" * 64,
    "status": "SUCCEEDED",
    "reason": None,
    "message": None,
    "object": {"bucket": "media", "key": "shop/sign.jpg", "versionId": "v1", "size": 10, "mediaType": "image",
               "format": "JPEG"},
    "execution": {"name": "run", "startedAt": "2026-11-30T10:00:00+00:00"},
    "createdAt": "2026-11-30T10:00:05.000+00:00",
    "settings": {"features": ["labels", "text"], "minConfidence": 70, "moderationReviewThreshold": 80},
    "features": {
        "labels": {"status": "SUCCEEDED", "labels": [{"Name": "Cat", "Confidence": 97.5}]},
        "text": {"status": "SUCCEEDED",
                 "detections": [{"DetectedText": "OPEN DAILY 9-5", "Type": "LINE", "Id": 0, "Confidence": 99.0}]},
    },
    "moderationReview": {"needed": False, "threshold": 80, "labels": []},
}  # fmt: skip


def session() -> boto3.session.Session:
    # Stubbed clients send nothing; botocore still wants credentials to sign with.
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)  # noqa: S106


def client(service: str):
    return session().client(service)


def cells(values):
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


@pytest.fixture
def stubbed():
    athena, s3 = client("athena"), client("s3")
    with Stubber(athena) as athena_stub, Stubber(s3) as s3_stub:
        engine = AthenaEngine("rekflow-dev-search", "rekflow_dev_search", athena, s3, sleep=lambda _: None)
        yield engine, athena_stub, s3_stub
        athena_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


def expect_query(stub, engine, sql, states, scanned=10_485_760, reason=None):
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {"QueryString": sql, "WorkGroup": engine.workgroup, "QueryExecutionContext": {"Database": engine.database}},
    )
    for state in states:
        status = {"State": state, **({"StateChangeReason": reason} if reason else {})}
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": "q-1", "Status": status,
                                "Statistics": {"DataScannedInBytes": scanned}}},
            {"QueryExecutionId": "q-1"},
        )  # fmt: skip


def test_a_search_runs_the_compiled_sql_in_the_workgroup_and_reads_the_evidence(stubbed):
    engine, athena, s3 = stubbed
    tree = parse('label:cat text:"open daily"')
    sql = engine.sql(tree, limit=1, sort="path")
    assert '"rekflow_dev_search"."assets"' in sql and sql.endswith("LIMIT 2")
    expect_query(athena, engine, sql, ["QUEUED", "RUNNING", "SUCCEEDED"])
    row = ["media", "shop/sign.jpg", "a" * 64, "image", LOCATION]
    # Two pages: the header row comes first, on the first page only.
    athena.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [cells(RESULT_COLUMNS), cells(row)]}, "NextToken": "t"},
        {"QueryExecutionId": "q-1"},
    )
    athena.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [cells(["media", "shop/other.jpg", "b" * 64, "image", LOCATION])]}},
        {"QueryExecutionId": "q-1", "NextToken": "t"},
    )
    body = json.dumps(DOCUMENT).encode()
    s3.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body))},
        {"Bucket": "results-bucket", "Key": "results/" + "a" * 64 + ".json"},
    )

    page = engine.search(tree, limit=1, sort="path")

    assert page.more
    (hit,) = page.hits
    assert hit.asset.key == "shop/sign.jpg"
    assert {(e.kind, e.name, e.confidence) for e in hit.evidence} == {
        ("label", "Cat", 97.5),
        ("text", "OPEN DAILY 9-5", 99.0),
    }
    assert engine.scanned_bytes == 10_485_760


def test_a_query_the_workgroup_cancels_fails_with_athenas_reason(stubbed):
    engine, athena, _ = stubbed
    sql = engine.sql(parse("cat"), limit=20, sort="analyzed")
    reason = "Query cancelled: bytes scanned limit was exceeded"
    expect_query(athena, engine, sql, ["RUNNING", "CANCELLED"], reason=reason)
    with pytest.raises(SearchFailed, match="CANCELLED: Query cancelled: bytes scanned limit"):
        engine.search(parse("cat"), limit=20, sort="analyzed")


def test_a_query_that_never_ends_is_stopped(stubbed):
    engine, athena, _ = stubbed
    engine.timeout_seconds = 1.0
    sql = engine.sql(parse("cat"), limit=20, sort="path")
    expect_query(athena, engine, sql, ["RUNNING", "RUNNING", "RUNNING"])
    athena.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
    with pytest.raises(SearchFailed, match="still RUNNING"):
        engine.search(parse("cat"), limit=20, sort="path")


def test_a_hit_whose_document_was_deleted_is_left_out(stubbed):
    engine, athena, s3 = stubbed
    tree = parse("cat")
    expect_query(athena, engine, engine.sql(tree, limit=5, sort="path"), ["SUCCEEDED"])
    athena.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [cells(RESULT_COLUMNS), cells(["media", "k", "a" * 64, "image", LOCATION])]}},
        {"QueryExecutionId": "q-1"},
    )
    s3.add_client_error("get_object", "NoSuchKey", http_status_code=404, expected_params={"Bucket": ANY, "Key": ANY})
    assert engine.search(tree, limit=5, sort="path").hits == []


def test_the_stack_is_found_through_cloudformation():
    cloudformation = client("cloudformation")
    made = session()
    with Stubber(cloudformation) as stub:
        for logical_id, physical in (("SearchWorkGroup", "media-search"), ("SearchDatabase", "rekflow_prod_search")):
            stub.add_response(
                "describe_stack_resource",
                {
                    "StackResourceDetail": {
                        "LogicalResourceId": logical_id,
                        "PhysicalResourceId": physical,
                        "ResourceType": "AWS::Athena::WorkGroup",
                        "LastUpdatedTimestamp": "2026-12-01T00:00:00Z",
                        "ResourceStatus": "CREATE_COMPLETE",
                    }
                },
                {"StackName": "media", "LogicalResourceId": logical_id},
            )
        original = made.client
        made.client = lambda service, **kw: cloudformation if service == "cloudformation" else original(service)  # type: ignore[method-assign]
        engine = AthenaEngine.for_stack("media", made)
    assert (engine.workgroup, engine.database) == ("media-search", "rekflow_prod_search")


def test_rekflow_search_stack_prints_the_hits_and_says_when_athena_refuses(stubbed, monkeypatch, capsys):
    from rekflow.cli import main
    from rekflow.commands import search as search_command

    engine, athena, s3 = stubbed
    monkeypatch.setitem(search_command.STACK_ENGINES, "athena", lambda args: engine)
    tree, body = parse("label:cat"), json.dumps(DOCUMENT).encode()

    def answer_one_hit() -> None:
        """Athena finds shop/sign.jpg, and S3 gives its document."""
        expect_query(athena, engine, engine.sql(tree, limit=20, sort="analyzed"), ["SUCCEEDED"])
        athena.add_response(
            "get_query_results",
            {
                "ResultSet": {
                    "Rows": [cells(RESULT_COLUMNS), cells(["media", "shop/sign.jpg", "a" * 64, "image", LOCATION])]
                }
            },
            {"QueryExecutionId": "q-1"},
        )
        s3.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))}, {"Bucket": ANY, "Key": ANY})

    answer_one_hit()
    assert main(["search", "label:cat", "--stack", "media"]) == 0
    printed = capsys.readouterr().out
    assert "shop/sign.jpg" in printed and "label Cat 97.5%" in printed and "documents in stack media" in printed

    # --json names the document where it is: in the stack's results bucket.
    answer_one_hit()
    assert main(["search", "label:cat", "--stack", "media", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["document"] == LOCATION

    expect_query(athena, engine, engine.sql(tree, limit=20, sort="analyzed"), ["FAILED"], reason="Access denied")
    assert main(["search", "label:cat", "--stack", "media"]) == 1
    assert "rekflow: stack media: Athena query q-1 FAILED: Access denied" in capsys.readouterr().err


def test_rekflow_search_stack_says_when_the_stack_cannot_be_found(monkeypatch, capsys):
    from rekflow.cli import main

    def no_stack(self, operation, params):
        raise ClientError({"Error": {"Code": "ValidationError", "Message": "Stack with id nope does not exist"}}, "x")

    monkeypatch.setattr("botocore.client.BaseClient._make_api_call", no_stack)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert main(["search", "cat", "--stack", "nope"]) == 1
    assert "rekflow: stack nope:" in capsys.readouterr().err
