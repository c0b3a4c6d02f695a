"""The review page over a deployed stack (`rekflow serve --stack NAME`), on the local stack: template.yaml's
ResultsTable (with its ReviewsByStatus index), its ReviewStateMachine parking real task tokens, its buckets, all on
moto, read through boto3's default session as the user's own credentials would be.

A flagged HEIC photo and a flagged video wait: the page lists them from the index, the photo's preview is a
presigned URL of its JPEG copy (the document's proxy) at that version, the video's flagged moments are the video
from each moment's second; a decision posted past the CSRF guard goes through SendTaskSuccess and the review
workflow records it as the caller (sts:GetCallerIdentity); a second decision on the closed review answers 409 with
why, and a stack that cannot be found answers 502 with AWS's message.
"""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from rekflow.commands.review.stack import DeployedStack
from rekflow.commands.serve import stack_reviews
from rekflow.commands.serve.app import App
from rekflow.commands.serve.csrf import TOKEN_HEADER, CsrfGuard
from rekflow.commands.serve.http import Request, Response
from rekflow.commands.serve.library import StackLibrary
from rekflow.commands.serve.routes import dispatch
from rekflow.commands.serve.stack_reviews import StackReviews
from rekflow.local.reviews import decided, parked, wait_for
from tests.conftest import schema_validator, video_bytes
from tests.functional.test_review import FLAGGED

ORIGIN = "http://127.0.0.1:8765"


def stack_app(runtime: Any, stack: DeployedStack | None = None) -> App:
    """The page's App as `rekflow serve --stack` makes it, over the local stack (no Athena: no search is run)."""
    session = boto3.session.Session()
    located = stack or DeployedStack(runtime.stack.results_table, runtime.stack.results_bucket)
    reviews = StackReviews("rekflow-local", session, located)
    return App(
        StackLibrary("rekflow-local", None, session.client("s3")), CsrfGuard(frozenset({ORIGIN})), reviews=reviews
    )


def flagged(runtime: Any, monkeypatch: pytest.MonkeyPatch, data: bytes, key: str) -> tuple[Any, dict[str, Any]]:
    """Upload media the fixture backend flags (a photo, or every second of a video), analyse it and wait until its
    review has parked its task token: (upload, summary item)."""
    from rekflow.vision import fixture

    monkeypatch.setattr(fixture, "MODERATION_LABELS", FLAGGED["ModerationLabels"])
    upload = runtime.upload(data, key)
    result = runtime.run(runtime.object_created_event(upload))
    assert result.status == "SUCCEEDED" and result.output["needsReview"] is True, result.output
    item = wait_for(boto3.client("dynamodb"), runtime.stack.results_table, result.output["assetId"], parked)
    return upload, item


def post(app: App, decision: dict[str, str], headers: dict[str, str] | None = None) -> Response:
    sent = {"Origin": ORIGIN, TOKEN_HEADER: app.guard.token} if headers is None else headers
    return dispatch(app, Request.of("POST", "/api/review", headers=sent, body=json.dumps(decision).encode()))


def signed(url: str) -> tuple[str, dict[str, list[str]]]:
    """(bucket/key path, query) of a presigned GetObject URL (virtual-hosted or path style)."""
    parts = urlsplit(url)
    bucket = parts.netloc.split(".s3")[0] if ".s3" in parts.netloc and not parts.netloc.startswith("s3") else ""
    return f"{bucket}{parts.path}" if bucket else parts.path.lstrip("/"), parse_qs(parts.query)


def test_the_stack_page_lists_pictures_and_decides_as_the_caller(runtime, monkeypatch):
    from rekflow.media.samples import iphone_heic

    photo, photo_item = flagged(runtime, monkeypatch, iphone_heic(), "phone/photo.heic")
    clip, clip_item = flagged(runtime, monkeypatch, video_bytes(), "clips/clip.mp4")
    app = stack_app(runtime)

    # GIVEN the review page over the stack
    page = dispatch(app, Request.of("GET", "/review"))
    assert page.status == 200, page.body
    html = page.body.decode()
    cards, more = app.reviews.pending()  # what the page rendered
    assert more == 0 and [c.key for c in cards] == ["phone/photo.heic", "clips/clip.mp4"]  # oldest first
    photo_card, clip_card = cards

    # THEN the photo's preview is its JPEG copy (a browser shows no HEIC), signed at the copy's version, and the
    # photo's labels are shown with their confidence
    document = json.loads(
        boto3.client("s3")
        .get_object(
            Bucket=runtime.stack.results_bucket,
            Key=photo_item["ResultsLocation"].removeprefix(f"s3://{runtime.stack.results_bucket}/"),
        )["Body"]
        .read()
    )
    proxy = document["proxy"]
    where, query = signed(photo_card.preview)
    assert where == f"{proxy['bucket']}/{proxy['key']}" and query["versionId"] == [proxy["versionId"]]
    assert "X-Amz-Signature" in query or "Signature" in query
    assert photo_card.findings == ["Violence 91%", "Weapons 75% (Violence)"]
    # the page's own picture: signed for the same object version (its Expires, and so its signature, follow the clock:
    # the cards read again above were signed a moment later)
    (rendered,) = re.findall(r'<img class="preview" src="([^"]+)"', html)
    assert signed(unescape(rendered))[0] == where and signed(unescape(rendered))[1]["versionId"] == query["versionId"]
    assert "Weapons 75% (Violence)" in html
    where, query = signed(photo_card.media)
    assert where == f"{runtime.stack.media_bucket}/{photo.key}" and query["versionId"] == [photo.version_id]

    # AND the video's flagged moments are the video (signed, at its version) from each moment's second
    assert [(m.time, m.labels) for m in clip_card.moments] == [
        (f"00:0{s}", ["Violence 91%", "Weapons 75% (Violence)"]) for s in range(3)
    ]
    for second, moment in enumerate(clip_card.moments):
        url, _, fragment = moment.video.partition("#")
        assert fragment == f"t={second}" and moment.thumbnail is None
        where, query = signed(url)
        assert where == f"{runtime.stack.media_bucket}/{clip.key}" and query["versionId"] == [clip.version_id]
    assert 'preload="metadata"' in html and "#t=2" in html

    # AND a page shows PENDING_SHOWN cards at most, saying how many more wait
    monkeypatch.setattr(stack_reviews, "PENDING_SHOWN", 1)
    assert [c.key for c in app.reviews.pending()[0]] == ["phone/photo.heic"]
    assert "1 more wait" in dispatch(app, Request.of("GET", "/review")).body.decode()
    monkeypatch.setattr(stack_reviews, "PENDING_SHOWN", 50)

    # WHEN the photo is approved from the page, THEN the review workflow records it as the caller
    refused = post(app, {"asset": photo_item["AssetId"], "decision": "APPROVED"}, {"Origin": "http://evil.example"})
    assert refused.status == 403
    answer = post(app, {"asset": photo_item["AssetId"], "decision": "APPROVED", "note": "a toy"})
    assert answer.status == 200, answer.body
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    assert answer.json_body()["reviewer"] == caller
    after = wait_for(boto3.client("dynamodb"), runtime.stack.results_table, photo_item["AssetId"], decided)
    assert (after["ReviewStatus"], after["ReviewedBy"], after["ReviewNote"]) == ("APPROVED", caller, "a toy")
    review = runtime.wait(photo_item["ReviewExecutionArn"])
    assert review.status == "SUCCEEDED", review.cause
    (event,) = [e for e in runtime.analyzed_events() if e["detail-type"] == "Media Reviewed"]
    schema_validator("media-reviewed-event.schema.json").validate(event["detail"])
    assert (event["detail"]["decision"], event["detail"]["reviewer"]) == ("APPROVED", caller)

    # AND the page lists it as decided, the video still waiting
    html = dispatch(app, Request.of("GET", "/review")).body.decode()
    assert f"phone/photo.heic: APPROVED by {caller} (a toy)" in html
    assert [c.key for c in app.reviews.pending()[0]] == ["clips/clip.mp4"]

    # AND a second decision on the closed review answers 409, saying who decided, and changes nothing
    again = post(app, {"asset": photo_item["AssetId"], "decision": "REJECTED"})
    assert again.status == 409
    assert again.json_body()["error"]["message"] == (
        f"the review of phone/photo.heic was decided already: APPROVED by {caller} at {after['ReviewedAt']}"
    )
    assert wait_for(boto3.client("dynamodb"), runtime.stack.results_table, photo_item["AssetId"], decided) == after

    # AND a decision whose token Step Functions finds closed (the timeout acted, or another reviewer won, after the
    # item was read) answers 409 too, and the review still waits
    from botocore.stub import ANY, Stubber

    with Stubber(app.reviews.sfn) as sfn:
        closed = "The task token has either expired or the task associated with the token has already been closed."
        sfn.add_client_error(
            "send_task_success", "TaskTimedOut", closed, 400, expected_params={"taskToken": ANY, "output": ANY}
        )
        late = post(app, {"asset": clip_item["AssetId"], "decision": "REJECTED"})
    assert late.status == 409 and "closed before this decision" in late.json_body()["error"]["message"]
    assert wait_for(boto3.client("dynamodb"), runtime.stack.results_table, clip_item["AssetId"], parked) == clip_item


def test_a_stack_that_cannot_be_found_answers_502_with_awss_message():
    from botocore.stub import Stubber

    # moto's CloudFormation is not loaded here (it imports its API Gateway, which needs openapi-spec-validator):
    # botocore's Stubber answers DescribeStackResource as CloudFormation does for a stack that does not exist.
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 (nothing reaches AWS: the Stubber answers)
        region_name="us-east-1",
    )
    reviews = StackReviews("no-such-stack", session)
    app = App(
        StackLibrary("no-such-stack", None, session.client("s3")), CsrfGuard(frozenset({ORIGIN})), reviews=reviews
    )
    with Stubber(reviews.cloudformation) as cloudformation:
        for _ in range(2):
            cloudformation.add_client_error(
                "describe_stack_resource", "ValidationError", "Stack 'no-such-stack' does not exist", 400
            )
        page = dispatch(app, Request.of("GET", "/review"))
        assert page.status == 502 and "Stack 'no-such-stack' does not exist" in page.body.decode()
        answer = post(app, {"asset": "0" * 64, "decision": "APPROVED"})
        assert answer.status == 502
        assert "Stack 'no-such-stack' does not exist" in answer.json_body()["error"]["message"]
        cloudformation.assert_no_pending_responses()


def test_the_page_over_a_stack_reviews_the_stack_it_serves(monkeypatch):
    from rekflow.commands.serve import review

    # GIVEN `rekflow serve --stack my-stack`'s App (its reviews are made on first use, from boto3's default session)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    app = App(StackLibrary("my-stack", None, None), CsrfGuard(frozenset({ORIGIN})))

    # THEN the review page's reviews are that stack's, in the default session's region, made once
    reviews = review.reviews_of(app)
    assert isinstance(reviews, StackReviews) and reviews.stack_name == "my-stack"
    assert reviews.dynamodb.meta.region_name == "eu-west-1" and review.reviews_of(app) is reviews


def test_a_decision_before_the_review_parks_its_token_answers_503_and_changes_nothing(runtime, monkeypatch):
    # GIVEN a review that has marked its item PENDING_REVIEW but not yet parked its token (its first states ran)
    _, item = flagged(runtime, monkeypatch, video_bytes(), "clips/early.mp4")
    dynamodb = boto3.client("dynamodb")
    key = {"AssetId": {"S": item["AssetId"]}}
    dynamodb.update_item(TableName=runtime.stack.results_table, Key=key, UpdateExpression="REMOVE ReviewTaskToken")

    # WHEN a reviewer decides from the page, THEN the page says to try again in a moment, and the review still waits
    answer = post(stack_app(runtime), {"asset": item["AssetId"], "decision": "APPROVED"})
    assert answer.status == 503 and b"not waiting for a decision yet" in answer.body
    after = dynamodb.get_item(TableName=runtime.stack.results_table, Key=key, ConsistentRead=True)["Item"]
    assert after["ReviewStatus"] == {"S": "PENDING_REVIEW"}
