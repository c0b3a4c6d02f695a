"""The MediaAnalysis state machine on the local runtime, one named case per path through it."""

from __future__ import annotations

import boto3
import pytest

from rekflow.features import IMAGE_FEATURES
from rekflow.local.reviews import parked, wait_for
from tests.conftest import jpeg_bytes, png_bytes, schema_validator, task_errors

FEATURES = tuple(f.name for f in IMAGE_FEATURES)


def detect_attempts(result, api: str) -> list[dict]:
    """TaskScheduled events of one Rekognition API (one per attempt); branches interleave, so match the resource."""
    return [e for e in result.events_of_type("TaskScheduled") if e["taskScheduledEventDetails"]["resource"] == api]


def test_happy_path_stores_document_summary_and_event(runtime):
    # GIVEN a JPEG uploaded to the media bucket
    upload = runtime.upload(jpeg_bytes(), "photos/cat.jpg")

    # WHEN S3's Object Created event starts the workflow
    result = runtime.run(runtime.object_created_event(upload))

    # THEN every feature ran and the outcome names where the results are
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["status"] == "SUCCEEDED"
    assert {name: f["status"] for name, f in result.output["features"].items()} == dict.fromkeys(FEATURES, "SUCCEEDED")
    assert result.output["features"]["labels"]["count"] == 3  # fixture labels at or above MinConfidence 70
    entered = result.states_entered()
    branch_states = {f"Detect {f}" for f in FEATURES}
    # Branches run concurrently, so only the states outside the Parallel have a fixed order.
    assert [s for s in entered if s not in branch_states] == [
        "Validate object",
        "What kind of media is it?",
        "Analyze image",
        "Build results",
        "Store results document",
        "Record summary",
        "Announce results",
        "Mark announced",
    ]
    assert sorted(s for s in entered if s in branch_states) == sorted(branch_states)
    # Each state entered is a billed transition on Standard: an image costs twelve.
    assert len(entered) == 12
    # AND the stored document, summary item and event are valid against their schemas
    document = runtime.results_document(result.output["resultsKey"])
    schema_validator("results-document.schema.json").validate(document)
    assert document["object"] | {"width": 320, "height": 240} == document["object"]
    (item,) = runtime.summary_items()
    schema_validator("summary-item.schema.json").validate(_plain(item))
    (event,) = runtime.analyzed_events()
    assert event["detail-type"] == "Media Analyzed" and event["source"] == "rekflow"
    schema_validator("media-analyzed-event.schema.json").validate(event["detail"])
    assert runtime.review_messages() == []


def test_throttled_then_recovered(runtime):
    # GIVEN Rekognition throttles DetectLabels twice
    runtime.backend.faults.inject("DetectLabels", "ThrottlingException", times=2)
    upload = runtime.upload(jpeg_bytes(), "throttled.jpg")

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload))

    # THEN the Retry absorbed both throttles and labels succeeded on the third attempt
    assert result.output["status"] == "SUCCEEDED"
    assert result.output["features"]["labels"]["status"] == "SUCCEEDED"
    assert task_errors(result).count("Rekognition.ThrottlingException") == 2
    assert len(detect_attempts(result, "detectLabels")) == 3


def test_internal_errors_exhausted_fail_the_execution_by_name(runtime):
    # GIVEN DetectText fails with InternalServerError on every attempt (Rekognition is down, not the image)
    runtime.backend.faults.inject("DetectText", "InternalServerError", times=50)
    upload = runtime.upload(png_bytes(), "text-down.png")

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload))

    # THEN the execution fails with Rekognition's error name after the retries, so it can be redriven;
    # a PARTIAL result would be final, since every later run of this object version is a duplicate
    assert (result.status, result.error) == ("FAILED", "Rekognition.InternalServerErrorException")
    assert len(detect_attempts(result, "detectText")) == 5  # first try + MaxAttempts 4
    assert "Text failed" not in result.states_entered()
    assert runtime.summary_items() == []


def test_access_denied_fails_the_execution_without_retrying(runtime):
    # GIVEN the state machine's role may not call DetectFaces (a broken deployment)
    runtime.backend.faults.inject("DetectFaces", "AccessDeniedException", times=1)
    upload = runtime.upload(jpeg_bytes(), "denied.jpg")

    result = runtime.run(runtime.object_created_event(upload))

    assert (result.status, result.error) == ("FAILED", "Rekognition.AccessDeniedException")
    assert len(detect_attempts(result, "detectFaces")) == 1


def test_duplicate_event_gives_one_record_and_one_event(runtime):
    # GIVEN one upload whose event is delivered twice (EventBridge is at-least-once)
    upload = runtime.upload(jpeg_bytes(), "twice.jpg")
    event = runtime.object_created_event(upload)

    # WHEN both deliveries start an execution (under names Step Functions generates, as for EventBridge)
    first = runtime.run(event)
    second = runtime.run(event)

    # THEN the second finds the record and stops: one item, one event
    assert first.output["duplicate"] is False
    assert second.status == "SUCCEEDED" and second.output["duplicate"] is True
    assert "Already recorded" in second.states_entered()
    assert "Announce results" not in second.states_entered()
    assert first.name != second.name
    (item,) = runtime.summary_items()
    assert item["ExecutionArn"] == first.arn and item["Announced"] is True
    assert len(runtime.analyzed_events()) == 1


def test_moderation_above_threshold_asks_for_review(runtime):
    # GIVEN Rekognition flags the image above the 80% review threshold
    runtime.backend.inner._overrides["DetectModerationLabels"] = {
        "ModerationLabels": [
            {"Name": "Violence", "ParentName": "", "Confidence": 91.0, "TaxonomyLevel": 1},
            {"Name": "Weapons", "ParentName": "Violence", "Confidence": 75.0, "TaxonomyLevel": 2},
        ],
        "ModerationModelVersion": "7.0",
    }
    upload = runtime.upload(jpeg_bytes(), "flagged.jpg")

    result = runtime.run(runtime.object_created_event(upload))

    # THEN the event's detail reaches the review topic through template.yaml's ModerationReviewRule and the review
    # it starts (ReviewStateMachine notifies before it waits), at no extra state of the analysis
    assert result.output["needsReview"] is True
    assert len(result.states_entered()) == 12
    wait_for(boto3.client("dynamodb"), runtime.stack.results_table, result.output["assetId"], parked)
    (message,) = runtime.review_messages()
    assert message["assetId"] == result.output["assetId"] and message["key"] == "flagged.jpg"
    document = runtime.results_document(result.output["resultsKey"])
    assert document["moderationReview"] == {"needed": True, "threshold": 80.0, "labels": ["Violence"]}
    (item,) = runtime.summary_items()
    assert (item["ReviewLabels"], item["ModerationLabels"]) == (["Violence"], ["Violence", "Weapons"])


def test_rejected_object_is_recorded_with_its_reason(runtime):
    upload = runtime.upload(b"just some notes\n", "notes.jpg")  # the name says JPEG, the bytes do not

    result = runtime.run(runtime.object_created_event(upload))

    assert result.status == "SUCCEEDED"
    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "NOT_MEDIA")
    assert "Analyze image" not in result.states_entered()
    (item,) = runtime.summary_items()
    assert item["Status"] == "REJECTED" and item["Reason"] == "NOT_MEDIA"
    (event,) = runtime.analyzed_events()
    assert event["detail"]["reason"] == "NOT_MEDIA"


def test_mp4_without_a_movie_header_is_rejected_before_any_job_starts(runtime):
    mp4_head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
    upload = runtime.upload(mp4_head, "clip.mp4")

    result = runtime.run(runtime.object_created_event(upload))

    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "CORRUPT")
    assert "Analyze video" not in result.states_entered()


def test_object_deleted_before_its_run_is_skipped(runtime):
    # GIVEN an upload whose version is deleted before the workflow reads it
    upload = runtime.upload(jpeg_bytes(), "gone.jpg")
    event = runtime.object_created_event(upload)
    runtime.delete_upload(upload)

    # WHEN the workflow runs (Validate may list the bucket, so S3 answers 404, not 403)
    result = runtime.run(event)

    # THEN the outcome is a clean SKIPPED with a record saying why
    assert (result.status, result.output["status"], result.output["reason"]) == ("SUCCEEDED", "SKIPPED", "OBJECT_GONE")
    (item,) = runtime.summary_items()
    assert item["Reason"] == "OBJECT_GONE"


def test_object_deleted_after_upload_is_skipped_though_its_version_remains(runtime):
    # GIVEN an upload, then a plain delete: on the versioned bucket a delete marker hides the key,
    # while the uploaded version itself stays readable by its id
    upload = runtime.upload(jpeg_bytes(), "deleted-later.jpg")
    event = runtime.object_created_event(upload)
    boto3.client("s3").delete_object(Bucket=runtime.stack.media_bucket, Key=upload.key)

    result = runtime.run(event)

    # THEN the user's delete wins: SKIPPED, nothing analysed
    assert (result.output["status"], result.output["reason"]) == ("SKIPPED", "OBJECT_DELETED")
    assert "Analyze image" not in result.states_entered()


def test_without_list_bucket_a_deleted_object_reads_as_denied_and_fails(runtime):
    # GIVEN Validate's role without s3:ListBucket (S3 then answers 403 for a missing key, as AWS does)
    runtime._s3_permissions.listable["ValidateFunction"] = set()
    upload = runtime.upload(jpeg_bytes(), "gone-unlisted.jpg")
    event = runtime.object_created_event(upload)
    runtime.delete_upload(upload)

    result = runtime.run(event)

    # THEN "gone" cannot be told from "denied": the execution fails by name (why the template grants it)
    assert (result.status, result.error) == ("FAILED", "ObjectUnreadable")
    assert "403" in result.cause


def test_features_can_be_switched_off(make_runtime):
    runtime = make_runtime(Features="labels,faces")
    upload = runtime.upload(jpeg_bytes(), "some.jpg")

    result = runtime.run(runtime.object_created_event(upload))

    statuses = {name: f["status"] for name, f in result.output["features"].items()}
    assert statuses == {"labels": "SUCCEEDED", "moderation": "SKIPPED", "text": "SKIPPED", "faces": "SUCCEEDED"}
    assert {"Moderation not requested", "Text not requested"} <= set(result.states_entered())
    assert runtime.backend.faults.calls.get("DetectText", 0) == 0


def test_operational_fault_fails_by_name_and_replays_clean(runtime):
    # GIVEN the results table is missing (a broken deployment)
    dynamodb = boto3.client("dynamodb")
    description = dynamodb.describe_table(TableName=runtime.stack.results_table)["Table"]
    dynamodb.delete_table(TableName=runtime.stack.results_table)
    upload = runtime.upload(jpeg_bytes(), "fault.jpg")

    # WHEN the workflow runs, it ends FAILED with the service's own error name
    failed = runtime.run(runtime.object_created_event(upload))
    assert failed.status == "FAILED"
    assert failed.error == "DynamoDB.ResourceNotFoundException"

    # THEN once the table is back, the same input runs through
    dynamodb.create_table(
        TableName=runtime.stack.results_table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=description["AttributeDefinitions"],
        KeySchema=description["KeySchema"],
        GlobalSecondaryIndexes=[
            {name: index[name] for name in ("IndexName", "KeySchema", "Projection")}
            for index in description.get("GlobalSecondaryIndexes", [])
        ],
    )
    replayed = runtime.replay(failed.arn)
    assert replayed.status == "SUCCEEDED" and replayed.output["status"] == "SUCCEEDED"


def _plain(summary: dict) -> dict:
    """The table resource returns numbers as Decimal; JSON readers of the table see ints."""
    return {k: int(v) if type(v).__name__ == "Decimal" else v for k, v in summary.items()}


def test_non_retryable_errors_are_caught_per_feature(runtime):
    # GIVEN Rekognition refuses the image for two features with errors no retry can fix
    runtime.backend.faults.inject("DetectLabels", "InvalidImageFormatException")
    runtime.backend.faults.inject("DetectModerationLabels", "InvalidParameterException")
    upload = runtime.upload(png_bytes(), "odd.png")

    result = runtime.run(runtime.object_created_event(upload))

    features = result.output["features"]
    assert features["labels"]["error"] == "Rekognition.InvalidImageFormatException"
    assert features["moderation"]["error"] == "Rekognition.InvalidParameterException"
    assert len(detect_attempts(result, "detectLabels")) == 1
    assert {"Labels failed", "Moderation failed"} <= set(result.states_entered())
    assert result.output["status"] == "PARTIAL"


def test_single_feature_deployment(make_runtime):
    runtime = make_runtime(Features="text")
    upload = runtime.upload(png_bytes(), "only-text.png")

    result = runtime.run(runtime.object_created_event(upload))

    assert {"Labels not requested", "Moderation not requested", "Faces not requested"} <= set(result.states_entered())
    assert result.output["features"]["text"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("features", ["labels,moderation", "text,faces"])
def test_with_some_features_chosen_each_still_catches_its_media_errors(make_runtime, features):
    # GIVEN a deployment that runs some image features, and an image Rekognition refuses for every feature
    runtime = make_runtime(Features=features)
    for feature in IMAGE_FEATURES:
        runtime.backend.faults.inject(feature.image.operation, "InvalidImageFormatException")
    upload = runtime.upload(png_bytes(), "odd.png")

    result = runtime.run(runtime.object_created_event(upload))

    # THEN the chosen features fail one by one (a PARTIAL record) and the others are skipped
    chosen = features.split(",")
    statuses = {name: f["status"] for name, f in result.output["features"].items()}
    assert statuses == {f.name: "FAILED" if f.name in chosen else "SKIPPED" for f in IMAGE_FEATURES}
    assert {f"{name.capitalize()} failed (chosen)" for name in chosen} <= set(result.states_entered())
    assert result.output["status"] == "PARTIAL"
