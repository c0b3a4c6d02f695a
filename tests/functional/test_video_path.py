"""The video path: Rekognition video jobs, the wait-for-callback branches, and every race around them."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from rekflow.local.moto_patches.task_timeouts import time_out_task
from rekflow.vision.fixture import FixtureBackend
from tests.conftest import parked_tokens, schema_validator, task_errors, video_bytes, wait_until

FEATURES = ("labels", "moderation", "text", "faces", "segments")
START = {
    "labels": "StartLabelDetection",
    "moderation": "StartContentModeration",
    "text": "StartTextDetection",
    "faces": "StartFaceDetection",
    "segments": "StartSegmentDetection",
}
WAIT_STATES = {
    f"Wait for {words}"
    for words in ("label detection", "content moderation", "text detection", "face detection", "segment detection")
}
STATE_PAYLOAD_LIMIT = 256 * 1024


def analyse_video(runtime, key: str = "videos/tour.mp4"):
    upload = runtime.upload(video_bytes(), key)
    return runtime.run(runtime.object_created_event(upload))


def features(result) -> dict:
    return {name: f["status"] for name, f in result.output["features"].items()}


def stored_feature_result(runtime, summary: dict) -> dict:
    bucket, key = summary["resultsLocation"].removeprefix("s3://").split("/", 1)
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def time_out_the_wait(runtime, feature: str) -> None:
    """Once the branch waiting for `feature`'s completion has parked its token, time that wait out, as
    its TimeoutSeconds would: the lost completion is staged on the event, not on a short timeout that
    the completions which do arrive would race."""
    (token,) = wait_until(lambda: parked_tokens(runtime, feature))
    time_out_task(token)


def queue_depth(runtime, logical_id: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=runtime.stack.queue_urls[logical_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_video_happy_path_stores_every_feature_and_the_shot_list(runtime):
    # GIVEN an H.264 MP4 uploaded to the media bucket
    # WHEN the workflow runs: five jobs start, park their tokens, and the callback resumes each
    result = analyse_video(runtime)

    # THEN all five features succeeded and the outcome counts what each found
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["status"] == "SUCCEEDED"
    assert features(result) == dict.fromkeys(FEATURES, "SUCCEEDED")
    assert result.output["features"]["segments"]["count"] == 2  # the fixture's two shots
    entered = set(result.states_entered())
    assert {"Analyze video", *WAIT_STATES} <= entered
    assert not any(state.startswith("Poll") for state in entered), "no fallback poll when completions arrive"
    # AND the document, the summary and the event follow their schemas
    document = runtime.results_document(result.output["resultsKey"])
    schema_validator("results-document.schema.json").validate(document)
    assert document["object"]["video"]["codec"] == "H.264"
    assert document["object"]["video"]["durationMillis"] == 7000
    assert document["features"]["segments"]["shots"][1]["Start"] == "00:00:01:12"
    (item,) = runtime.summary_items()
    assert (item["MediaType"], int(item["ShotCount"]), int(item["DurationMillis"])) == ("video", 2, 7000)
    (event,) = runtime.analyzed_events()
    schema_validator("media-analyzed-event.schema.json").validate(event["detail"])
    # AND each feature's full result is stored, schema-valid, with every item Rekognition returned
    for name in FEATURES:
        full = stored_feature_result(runtime, document["features"][name])
        schema_validator("video-feature-result.schema.json").validate(full)
        assert full["feature"] == name and len(full["items"]) == document["features"][name]["count"]
    # AND each job's item records its completion, kept (TTL) so that a rerun finds it instead of waiting
    table = boto3.client("dynamodb").scan(TableName=runtime.template.ref("VideoJobsTable"))
    assert table["Count"] == 5
    assert all(item["CompletedStatus"]["S"] == "SUCCEEDED" and "ExpiresAt" in item for item in table["Items"])


def test_results_over_the_payload_limit_are_paged_and_stored_in_s3(make_runtime):
    # GIVEN a long video: 900 s of fixture findings, 2,700 labels and 2,700 text detections
    runtime = make_runtime(backend=FixtureBackend(lambda: boto3.client("s3"), video_seconds=900))

    # WHEN the workflow runs
    result = analyse_video(runtime)

    # THEN the callback paged through GetLabelDetection (1,000 per page) and stored everything
    assert result.output["status"] == "SUCCEEDED", result.output
    assert runtime.backend.faults.calls["GetLabelDetection"] == 3
    document = runtime.results_document(result.output["resultsKey"])
    labels = stored_feature_result(runtime, document["features"]["labels"])
    assert (labels["pages"], len(labels["items"])) == (3, 2700)
    text = stored_feature_result(runtime, document["features"]["text"])
    assert len(json.dumps(text)) > STATE_PAYLOAD_LIMIT, "the case must exceed the state payload limit"
    # AND what reached the state machine stayed small
    outputs = [e["taskSucceededEventDetails"]["output"] for e in result.events_of_type("TaskSucceeded")]
    assert max(len(o) for o in outputs) < 16 * 1024


def test_completion_before_the_token_is_stored_is_recorded_and_the_branch_polls_at_once(runtime):
    # GIVEN the label job publishes its completion, and Start answers only once the callback has handled it
    jobs_table = runtime.template.ref("VideoJobsTable")

    def completion_recorded(job_id: str) -> bool:
        item = boto3.client("dynamodb").get_item(TableName=jobs_table, Key={"JobId": {"S": job_id}}).get("Item")
        return bool(item and "CompletedStatus" in item)

    runtime.backend.video.plan("labels", notify="before_token_stored", released_when=completion_recorded)

    # WHEN the workflow runs
    result = analyse_video(runtime)

    # THEN the callback recorded the completion on the job's item (nothing to retry), the branch found
    # the job completed when it came to park its token, and read the results once, without waiting
    assert features(result)["labels"] == "SUCCEEDED"
    assert runtime.pollers["VideoCompletionFunction"].failed_records == 0
    assert "Poll label detection once" in result.states_entered()
    assert "DynamoDb.ConditionalCheckFailedException" in task_errors(result)
    assert runtime.backend.faults.calls["GetLabelDetection"] == 1


def test_rerun_of_a_finished_video_polls_each_job_instead_of_waiting(runtime):
    # GIVEN a video analysed once: every job finished and its completion was consumed
    upload = runtime.upload(video_bytes(), "videos/rerun.mp4")
    first = runtime.run(runtime.object_created_event(upload))
    assert first.output["status"] == "SUCCEEDED"

    # WHEN the same input runs again (a replay, or a redrive): each Start reuses its ClientRequestToken,
    # gets the finished job back, and Rekognition sends no second completion
    started = time.monotonic()
    rerun = runtime.replay(first.arn)

    # THEN every branch found its job completed and polled it at once, instead of waiting out the timeout
    assert rerun.status == "SUCCEEDED" and time.monotonic() - started < 60
    assert len([s for s in rerun.states_entered() if s.startswith("Poll")]) == 5
    assert len(runtime.backend.video.notifications_sent) == 5, "one completion per job, none for the rerun"
    assert rerun.output["duplicate"] is True  # the first run's record stands


def test_two_deliveries_of_one_upload_both_wait_on_the_same_jobs_and_both_resume(runtime):
    # GIVEN one upload whose Object Created event EventBridge delivers twice, starting two executions
    # under generated names; both Start each job with the same ClientRequestToken, so share its JobId
    upload = runtime.upload(video_bytes(), "videos/twice.mp4")
    event = runtime.object_created_event(upload)
    for feature in FEATURES:
        runtime.backend.video.plan(feature, status="IN_PROGRESS", notify="never")  # hold every job
    arns = [runtime.start(event), runtime.start(event)]
    jobs_table = runtime.template.ref("VideoJobsTable")
    dynamodb = boto3.client("dynamodb")

    def waiters() -> int:
        return sum(
            len([a for a in item if a.startswith("Waiter:")]) for item in dynamodb.scan(TableName=jobs_table)["Items"]
        )

    wait_until(lambda: waiters() == 10)  # two tokens on each of the five job items

    # WHEN the jobs finish and each publishes one completion
    runtime.backend.video.finish_all()
    first, second = (runtime.wait(arn) for arn in arns)

    # THEN both executions were resumed by the one completion per job; one record, one event
    assert {first.status, second.status} == {"SUCCEEDED"}
    assert not any(s.startswith("Poll") for r in (first, second) for s in r.states_entered())
    assert len(runtime.summary_items()) == 1
    assert len(runtime.analyzed_events()) == 1


def test_duplicate_completion_is_handled_once(runtime):
    # GIVEN the face job's completion is published twice
    runtime.backend.video.plan("faces", notify="twice")

    # WHEN the workflow runs
    result = analyse_video(runtime)
    runtime.backend.video.wait_idle()
    wait_until(lambda: queue_depth(runtime, "VideoCompletionQueue") == 0)

    # THEN the branch was resumed once: the second copy was answered from the idempotency record
    assert features(result)["faces"] == "SUCCEEDED"
    assert len([n for n in runtime.backend.video.notifications_sent if n["API"] == "FACE_DETECTION"]) == 2
    assert runtime.backend.faults.calls["GetFaceDetection"] == 1
    assert queue_depth(runtime, "VideoCompletionDeadLetterQueue") == 0


def test_lost_completions_time_out_and_each_finished_job_is_polled_once(runtime):
    # GIVEN no job's completion ever arrives
    for feature in FEATURES:
        runtime.backend.video.plan(feature, notify="never")
    upload = runtime.upload(video_bytes(), "videos/lost.mp4")
    arn = runtime.start(runtime.object_created_event(upload))

    # WHEN every job has finished and each branch's wait times out
    for feature in FEATURES:
        wait_until(lambda feature=feature: parked_tokens(runtime, feature))
    runtime.backend.video.wait_idle()
    for feature in FEATURES:
        time_out_the_wait(runtime, feature)
    result = runtime.wait(arn)

    # THEN every wait timed out, one poll per feature read the finished job, and all succeeded
    assert result.output["status"] == "SUCCEEDED"
    assert features(result) == dict.fromkeys(FEATURES, "SUCCEEDED")
    assert {e["taskTimedOutEventDetails"]["error"] for e in result.events_of_type("TaskTimedOut")} == {"States.Timeout"}
    polls = [s for s in result.states_entered() if s.startswith("Poll")]
    assert len(polls) == len(set(polls)) == 5
    assert all(
        runtime.backend.faults.calls[op] == 1
        for op in (
            "GetLabelDetection",
            "GetContentModeration",
            "GetTextDetection",
            "GetFaceDetection",
            "GetSegmentDetection",
        )
    )


def test_lost_completion_of_a_job_still_running_gives_a_partial_result(runtime):
    # GIVEN the moderation job never finishes
    runtime.backend.video.plan("moderation", status="IN_PROGRESS", notify="never")
    upload = runtime.upload(video_bytes(), "videos/still-running.mp4")
    arn = runtime.start(runtime.object_created_event(upload))

    # WHEN its branch's wait times out
    time_out_the_wait(runtime, "moderation")
    result = runtime.wait(arn)

    # THEN moderation ends FAILED with a named error after one poll; the others are kept
    assert result.output["status"] == "PARTIAL"
    assert result.output["features"]["moderation"] == {"status": "FAILED", "count": 0, "error": "VideoJobStillRunning"}
    assert "Video moderation failed" in result.states_entered()
    assert sum(f["status"] == "SUCCEEDED" for f in result.output["features"].values()) == 4


def test_the_wait_times_out_after_the_seconds_the_template_allows(make_runtime):
    # GIVEN a deployment that waits 1 s for a label job, and a job that never finishes (so nothing races the timer)
    runtime = make_runtime(Features="labels", VideoJobTimeoutBaseSeconds="1", VideoJobTimeoutFactor="0")
    runtime.backend.video.plan("labels", status="IN_PROGRESS", notify="never")

    # WHEN the workflow runs
    result = analyse_video(runtime)

    # THEN the wait timed out on its own (TimeoutSecondsPath read the template's seconds) and the branch polled
    (timed_out,) = result.events_of_type("TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    assert result.output["features"]["labels"]["error"] == "VideoJobStillRunning"
    assert result.seconds >= 1


def test_failed_job_is_reported_by_name(runtime):
    # GIVEN Rekognition reports the segment job FAILED
    runtime.backend.video.plan("segments", status="FAILED")

    # WHEN the workflow runs
    result = analyse_video(runtime)

    # THEN the callback sent SendTaskFailure and segments FAILED with VideoJobFailed
    assert result.output["status"] == "PARTIAL"
    assert result.output["features"]["segments"]["error"] == "VideoJobFailed"


@pytest.mark.parametrize("feature", FEATURES)
def test_start_refused_for_the_video_gives_a_partial_result(runtime, feature):
    # GIVEN Rekognition refuses the video for one feature (an error about the media, final)
    runtime.backend.faults.inject(START[feature], "InvalidParameterException")

    # WHEN the workflow runs
    result = analyse_video(runtime, key=f"videos/{feature}-refused.mp4")

    # THEN that feature failed by name and the others are kept
    assert result.output["status"] == "PARTIAL"
    assert result.output["features"][feature]["error"] == "Rekognition.InvalidParameterException"
    assert sum(f["status"] == "SUCCEEDED" for f in result.output["features"].values()) == 4


def test_start_denied_fails_the_execution_by_name(runtime):
    # GIVEN the role may not start label jobs (a broken deployment, not a property of the video)
    runtime.backend.faults.inject("StartLabelDetection", "AccessDeniedException")

    result = analyse_video(runtime, key="videos/denied.mp4")

    # THEN the execution fails with the service's name for it, to be redriven once the role is fixed
    assert (result.status, result.error) == ("FAILED", "Rekognition.AccessDeniedException")


def test_start_throttled_and_over_the_job_limit_is_retried(runtime):
    # GIVEN StartLabelDetection throttles once and then hits the concurrent-job limit once
    runtime.backend.faults.inject("StartLabelDetection", "ThrottlingException")
    runtime.backend.faults.inject("StartLabelDetection", "LimitExceededException")

    # WHEN the workflow runs
    result = analyse_video(runtime)

    # THEN both Retry rules absorbed the errors
    assert features(result)["labels"] == "SUCCEEDED"
    assert runtime.backend.faults.calls["StartLabelDetection"] == 3


def test_throttled_results_read_is_redelivered(runtime):
    # GIVEN reading the face job's results throttles on the first two deliveries
    runtime.backend.faults.inject("GetFaceDetection", "ThrottlingException", times=2)

    # WHEN the workflow runs
    result = analyse_video(runtime)

    # THEN the completion was delivered again and the branch resumed
    assert features(result)["faces"] == "SUCCEEDED"
    assert runtime.pollers["VideoCompletionFunction"].failed_records >= 1


def test_completion_after_the_execution_stopped_is_dropped_not_retried(make_runtime):
    # GIVEN an execution whose label job is running, with no completion yet
    runtime = make_runtime(Features="labels")
    runtime.backend.video.plan("labels", status="IN_PROGRESS", notify="never")
    upload = runtime.upload(video_bytes(), "videos/stopped.mp4")
    arn = runtime.start(runtime.object_created_event(upload))
    jobs_table = runtime.template.ref("VideoJobsTable")
    dynamodb = boto3.client("dynamodb")
    wait_until(lambda: parked_tokens(runtime, "labels"))  # the branch waits on the job
    (job,) = [i for i in dynamodb.scan(TableName=jobs_table)["Items"] if i["Feature"]["S"] == "labels"]

    # WHEN an operator stops the execution and the completion arrives afterwards
    boto3.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped in a drill")
    # (AWS ends a stopped execution at once as ABORTED; moto ends it when its waiting state ends)
    time_out_the_wait(runtime, "labels")
    assert runtime.wait(arn).status in ("ABORTED", "FAILED")
    boto3.client("sns").publish(
        TopicArn=runtime.template.ref("VideoCompletionTopic"),
        Message=json.dumps(
            {
                "JobId": job["JobId"]["S"],
                "Status": "FAILED",
                "API": "LABEL_DETECTION",
                "Message": "late",
                "Timestamp": 0,
                "Video": {"S3ObjectName": upload.key, "S3Bucket": runtime.stack.media_bucket},
            }
        ),
    )

    # THEN the callback records the completion, learns nobody is waiting and drops the message
    key = {"JobId": job["JobId"]}
    wait_until(lambda: "CompletedStatus" in dynamodb.get_item(TableName=jobs_table, Key=key)["Item"])
    wait_until(lambda: queue_depth(runtime, "VideoCompletionQueue") == 0)
    assert queue_depth(runtime, "VideoCompletionDeadLetterQueue") == 0
    assert runtime.pollers["VideoCompletionFunction"].failed_records == 0


def test_completion_for_an_unknown_job_is_recorded_for_a_branch_that_may_come(runtime):
    # GIVEN a completion for a job no branch waits on (yet): it may be a job whose Start answer is still on its way
    boto3.client("sns").publish(
        TopicArn=runtime.template.ref("VideoCompletionTopic"),
        Message=json.dumps(
            {
                "JobId": "0" * 32,
                "Status": "SUCCEEDED",
                "API": "LABEL_DETECTION",
                "Timestamp": 0,
                "Video": {"S3ObjectName": "gone.mp4", "S3Bucket": runtime.stack.media_bucket},
            }
        ),
    )

    # THEN it is recorded on the job's item (expiring with DynamoDB TTL), not retried
    jobs_table = runtime.template.ref("VideoJobsTable")
    dynamodb = boto3.client("dynamodb")
    wait_until(lambda: "Item" in dynamodb.get_item(TableName=jobs_table, Key={"JobId": {"S": "0" * 32}}))
    item = dynamodb.get_item(TableName=jobs_table, Key={"JobId": {"S": "0" * 32}})["Item"]
    assert item["CompletedStatus"]["S"] == "SUCCEEDED" and int(item["ExpiresAt"]["N"]) > time.time()
    wait_until(lambda: queue_depth(runtime, "VideoCompletionQueue") == 0)
    assert runtime.pollers["VideoCompletionFunction"].failed_records == 0


def test_a_message_that_is_not_a_completion_ends_in_the_dead_letter_queue(runtime):
    # GIVEN something other than a Rekognition completion on the completion topic
    boto3.client("sns").publish(TopicArn=runtime.template.ref("VideoCompletionTopic"), Message="not json")

    # WHEN the callback has tried it maxReceiveCount times
    # THEN SQS moves it to the dead-letter queue instead of retrying forever
    wait_until(lambda: queue_depth(runtime, "VideoCompletionDeadLetterQueue") == 1, timeout=30)
    assert runtime.pollers["VideoCompletionFunction"].failed_records == 5


def test_features_not_requested_are_skipped(make_runtime):
    # GIVEN a deployment that only wants shots
    runtime = make_runtime(Features="segments")

    # WHEN a video is analysed
    result = analyse_video(runtime)

    # THEN only the segment job ran
    assert features(result) == {
        "labels": "SKIPPED",
        "moderation": "SKIPPED",
        "text": "SKIPPED",
        "faces": "SKIPPED",
        "segments": "SUCCEEDED",
    }


def test_segments_not_requested_on_video(make_runtime):
    runtime = make_runtime(Features="labels,moderation,text,faces")
    result = analyse_video(runtime)
    assert features(result)["segments"] == "SKIPPED"
    assert "Video segments not requested" in result.states_entered()


def test_video_with_a_codec_nothing_converts_is_rejected_with_a_record(runtime):
    # Cinepak: neither Rekognition nor MediaConvert reads it (MPEG-4 Part 2, HEVC, VP9... are converted first).
    from rekflow.media.samples import sample_video

    # At 64x48: Validate reads the codec from the header, and Cinepak at the default size takes 11 s to encode.
    video = sample_video("mov", "cinepak", shots=[("cat", 1.0)], size=(64, 48))
    upload = runtime.upload(video, "videos/old-codec.mov")
    result = runtime.run(runtime.object_created_event(upload))
    assert (result.output["status"], result.output["reason"]) == ("REJECTED", "UNSUPPORTED_CODEC")
    (item,) = runtime.summary_items()
    assert item["Reason"] == "UNSUPPORTED_CODEC"
