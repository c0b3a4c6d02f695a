"""The moderation review (ReviewStateMachine) on the local stack, end to end with the fixture backend.

A flagged upload's "Media Analyzed" event starts a review through template.yaml's ModerationReviewRule; each test
decides it (SendTaskSuccess with the task token parked on the summary item, as `rekflow review` does) or lets the
wait time out (rekflow.local.moto_patches.task_timeouts: the parked task fails with States.Timeout now, as its
TimeoutSecondsPath running out would), then checks the summary item, the results document, the Media Reviewed event
and the object's tag.
"""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from rekflow.local.reviews import decided, decision_output, parked, time_out_review, wait_for
from rekflow.local.s3_bucket_policies import acting_as
from tests.conftest import jpeg_bytes, schema_validator, task_errors

FLAGGED = {
    "ModerationLabels": [
        {"Name": "Violence", "ParentName": "", "Confidence": 91.0, "TaxonomyLevel": 1},
        {"Name": "Weapons", "ParentName": "Violence", "Confidence": 75.0, "TaxonomyLevel": 2},
    ],
    "ModerationModelVersion": "7.0",
}
REVIEWER = "arn:aws:iam::123456789012:role/reviewer"


def analyse_flagged(runtime, key: str = "flagged.jpg", color: int = 0):
    """Upload an image the fixture backend flags and run the analysis: (upload, analysis result)."""
    runtime.backend.inner._overrides["DetectModerationLabels"] = FLAGGED
    upload = runtime.upload(jpeg_bytes(320 + color, 240), key)
    result = runtime.run(runtime.object_created_event(upload))
    assert result.status == "SUCCEEDED" and result.output["needsReview"] is True
    return upload, result


def item_when(runtime, asset_id: str, ready) -> dict:
    return wait_for(boto3.client("dynamodb"), runtime.stack.results_table, asset_id, ready)


def decide(item: dict, decision: str, note: str | None = "checked") -> None:
    boto3.client("stepfunctions").send_task_success(
        taskToken=item["ReviewTaskToken"], output=decision_output(decision, REVIEWER, "2026-12-02T13:00:00Z", note)
    )


def object_tags(runtime, upload) -> dict[str, str]:
    answer = boto3.client("s3").get_object_tagging(
        Bucket=runtime.stack.media_bucket, Key=upload.key, VersionId=upload.version_id
    )
    return {tag["Key"]: tag["Value"] for tag in answer["TagSet"]}


def reviewed_events(runtime) -> list[dict]:
    return [e for e in runtime.analyzed_events() if e["detail-type"] == "Media Reviewed"]


def test_a_flagged_upload_waits_for_review_held_and_announced(make_runtime):
    runtime = make_runtime(HoldFlaggedMedia="true")
    # GIVEN a flagged upload is analysed
    upload, result = analyse_flagged(runtime)

    # THEN its review waits for a decision: PENDING_REVIEW on the summary item with the task token, the object
    # version held, and the reviewers told with the event's detail
    item = item_when(runtime, result.output["assetId"], parked)
    assert item["ReviewStatus"] == "PENDING_REVIEW" and item["ReviewEscalations"] == 0
    assert item["ReviewExecutionArn"].startswith(
        runtime.stack.state_machine_arns["ReviewStateMachine"].replace(":stateMachine:", ":execution:")
    )
    schema_validator("summary-item.schema.json").validate(json.loads(json.dumps(item, default=int)))
    assert object_tags(runtime, upload) == {"rekflow-review": "PENDING"}
    (message,) = runtime.review_messages()
    assert message["assetId"] == result.output["assetId"] and message["needsReview"] is True


@pytest.mark.parametrize("decision", ["APPROVED", "REJECTED"])
def test_a_decision_is_recorded_announced_and_tagged(make_runtime, decision):
    runtime = make_runtime(HoldFlaggedMedia="true")
    upload, result = analyse_flagged(runtime)
    item = item_when(runtime, result.output["assetId"], parked)

    # WHEN a reviewer decides
    decide(item, decision, note="seen by a person")
    review = runtime.wait(item["ReviewExecutionArn"])

    # THEN the summary item, the document (schema-valid), the event and the tag say so
    assert review.status == "SUCCEEDED", review.cause
    after = item_when(runtime, result.output["assetId"], decided)
    assert (after["ReviewStatus"], after["ReviewedBy"], after["ReviewNote"]) == (decision, REVIEWER, "seen by a person")
    assert "ReviewTaskToken" not in after and after["ReviewTimedOut"] is False
    document = runtime.results_document(result.output["resultsKey"])
    schema_validator("results-document.schema.json").validate(document)
    assert document["review"] == {
        "decision": decision,
        "reviewer": REVIEWER,
        "decidedAt": "2026-12-02T13:00:00Z",
        "note": "seen by a person",
        "labels": ["Violence"],
        "timedOut": False,
        "escalations": 0,
        "execution": item["ReviewExecutionArn"],
    }
    (event,) = reviewed_events(runtime)
    schema_validator("media-reviewed-event.schema.json").validate(event["detail"])
    assert (event["source"], event["detail"]["decision"], event["detail"]["key"]) == ("rekflow", decision, upload.key)
    assert object_tags(runtime, upload) == {"rekflow-review": decision}
    assert review.states_entered()[-3:] == ["Tag the decision?", "Tag the decision", "Announce the decision"]


def test_without_hold_nothing_is_tagged(runtime):
    upload, result = analyse_flagged(runtime, "not-held.jpg")
    item = item_when(runtime, result.output["assetId"], parked)
    decide(item, "REJECTED")
    review = runtime.wait(item["ReviewExecutionArn"])
    assert review.status == "SUCCEEDED"
    assert "Hold the object" not in review.states_entered() and "Tag the decision" not in review.states_entered()
    assert object_tags(runtime, upload) == {}


@pytest.mark.parametrize(
    "action,escalations,decision",
    [("APPROVE", "2", "APPROVED"), ("REJECT", "2", "REJECTED"), ("ESCALATE", "1", "REJECTED")],
)
def test_a_timeout_follows_the_timeout_action(make_runtime, action, escalations, decision):
    runtime = make_runtime(ReviewTimeoutAction=action, ReviewEscalations=escalations, HoldFlaggedMedia="true")
    upload, result = analyse_flagged(runtime)
    asset_id = result.output["assetId"]
    item = item_when(runtime, asset_id, parked)

    # WHEN nobody decides within ReviewTimeoutHours, each time the review waits
    waits = int(escalations) + 1 if action == "ESCALATE" else 1
    for wait in range(waits):
        time_out_review(item["ReviewTaskToken"])
        if wait < waits - 1:  # ESCALATE: the reviewers are told again and the review waits again, on a new token
            token = item["ReviewTaskToken"]
            item = item_when(runtime, asset_id, lambda i, token=token: parked(i) and i["ReviewTaskToken"] != token)
            assert item["ReviewEscalations"] == wait + 1
    review = runtime.wait(item["ReviewExecutionArn"])

    # THEN the timeout action decided, in the execution's name, and says it timed out
    assert review.status == "SUCCEEDED", review.cause
    after = item_when(runtime, asset_id, decided)
    assert (after["ReviewStatus"], after["ReviewTimedOut"], after["ReviewedBy"]) == (decision, True, review.arn)
    document = runtime.results_document(result.output["resultsKey"])
    assert document["review"]["timedOut"] is True and document["review"]["escalations"] == waits - 1
    assert len(runtime.review_messages()) == waits
    assert object_tags(runtime, upload) == {"rekflow-review": decision}
    assert review.states_entered().count("Wait for a decision") == waits


def test_two_reviewers_at_once_one_wins_and_the_other_is_told(runtime):
    _, result = analyse_flagged(runtime, "race.jpg")
    item = item_when(runtime, result.output["assetId"], parked)
    sfn = boto3.client("stepfunctions")
    answers: dict[str, str] = {}
    start = threading.Barrier(2)

    def review(decision: str) -> None:
        start.wait()
        try:
            output = decision_output(decision, decision, "2026-12-02T13:00:00Z")
            sfn.send_task_success(taskToken=item["ReviewTaskToken"], output=output)
            answers[decision] = "accepted"
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken) as refused:
            answers[decision] = refused.response["Error"]["Code"]

    threads = [threading.Thread(target=review, args=(d,)) for d in ("APPROVED", "REJECTED")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN exactly one decision was taken, and it is the one recorded
    (winner,) = [d for d, answer in answers.items() if answer == "accepted"]
    assert runtime.wait(item["ReviewExecutionArn"]).status == "SUCCEEDED"
    assert item_when(runtime, result.output["assetId"], decided)["ReviewStatus"] == winner


def test_a_decision_after_the_timeout_acted_is_refused_and_changes_nothing(make_runtime):
    runtime = make_runtime(ReviewTimeoutAction="REJECT")
    _, result = analyse_flagged(runtime)
    item = item_when(runtime, result.output["assetId"], parked)
    time_out_review(item["ReviewTaskToken"])
    runtime.wait(item["ReviewExecutionArn"])
    before = item_when(runtime, result.output["assetId"], decided)

    # WHEN a reviewer approves with the token the review waited on
    sfn = boto3.client("stepfunctions")
    with pytest.raises((sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken)):
        decide(item, "APPROVED")

    # THEN the timeout's decision stands
    assert item_when(runtime, result.output["assetId"], decided) == before
    assert before["ReviewStatus"] == "REJECTED"


def test_a_new_version_while_pending_supersedes_without_losing_the_review(make_runtime):
    runtime = make_runtime(HoldFlaggedMedia="true")
    old_upload, old = analyse_flagged(runtime, "listing.jpg")
    old_item = item_when(runtime, old.output["assetId"], parked)

    # WHEN a new, clean version of the key is uploaded and analysed while the old one waits
    runtime.backend.inner._overrides.pop("DetectModerationLabels")
    new_upload = runtime.upload(jpeg_bytes(400, 300), "listing.jpg")
    new = runtime.run(runtime.object_created_event(new_upload))
    assert new.output["needsReview"] is False and new.output["assetId"] != old.output["assetId"]

    # THEN the new version is readable, untagged, and needs no review, while the old version's review is kept and
    # can still be decided, on the old version alone
    assert object_tags(runtime, new_upload) == {}
    decide(old_item, "REJECTED")
    assert runtime.wait(old_item["ReviewExecutionArn"]).status == "SUCCEEDED"
    assert item_when(runtime, old.output["assetId"], decided)["ReviewStatus"] == "REJECTED"
    assert object_tags(runtime, old_upload) == {"rekflow-review": "REJECTED"}
    assert object_tags(runtime, new_upload) == {}
    (new_item,) = [i for i in runtime.summary_items() if i["AssetId"] == new.output["assetId"]]
    assert "ReviewStatus" not in new_item


def test_the_object_deleted_while_pending_is_still_decided(make_runtime):
    runtime = make_runtime(HoldFlaggedMedia="true")
    upload, result = analyse_flagged(runtime, "gone.jpg")
    item = item_when(runtime, result.output["assetId"], parked)

    # WHEN the upload's only version is deleted for good and the library forgets it (SearchIndexFunction: the
    # item marked Deleted, the results document deleted)
    deleted = runtime.delete_object(upload.key, upload.version_id)
    assert [error for _, _, error in runtime.deliver(deleted)] == [None]
    decide(item, "REJECTED")
    review = runtime.wait(item["ReviewExecutionArn"])

    # THEN the decision is recorded in the item and announced; there is no document and no object left to tag
    assert review.status == "SUCCEEDED", review.cause
    after = item_when(runtime, result.output["assetId"], decided)
    assert after["ReviewStatus"] == "REJECTED" and after["Deleted"] is True
    assert "Tag the decision" not in review.states_entered()
    assert [e["detail"]["decision"] for e in reviewed_events(runtime)] == ["REJECTED"]


def test_marking_pending_that_fails_once_is_retried(runtime):
    runtime.service_faults.inject(
        "dynamodb", "UpdateItem", "InternalServerError", status=500, times=1, when=_marks_pending
    )
    _, result = analyse_flagged(runtime, "retried.jpg")
    item = item_when(runtime, result.output["assetId"], parked)
    decide(item, "APPROVED")
    review = runtime.wait(item["ReviewExecutionArn"])
    assert review.status == "SUCCEEDED"
    assert task_errors(review) == ["DynamoDB.InternalServerErrorException"]


def test_a_review_write_that_fails_for_good_fails_the_review_by_name(runtime):
    # GIVEN the bus refuses every event: the decision is recorded, its announcement cannot be made
    _, result = analyse_flagged(runtime, "down.jpg")
    item = item_when(runtime, result.output["assetId"], parked)
    runtime.service_faults.inject("events", "PutEvents", "InternalException", status=500, times=100)
    decide(item, "APPROVED")
    review = runtime.wait(item["ReviewExecutionArn"])

    # THEN the review ends FAILED by the service's error name, at the state a redrive resumes from
    assert (review.status, review.error) == ("FAILED", "EventBridge.InternalException")
    assert review.states_entered()[-1] == "Announce the decision"
    assert item_when(runtime, result.output["assetId"], decided)["ReviewStatus"] == "APPROVED"


def _marks_pending(params: dict) -> bool:
    return "ReviewStatus = :pending" in params.get("UpdateExpression", "")


# ---------------------------------------------------------------- `rekflow review`, offline on a results folder
@pytest.fixture
def flagged_folder(tmp_path, monkeypatch):
    """Two photos the fixture backend flags, analysed by `rekflow analyze`: their reviews wait in the folder."""
    from rekflow.cli import main
    from rekflow.vision import fixture

    monkeypatch.setattr(fixture, "MODERATION_LABELS", FLAGGED["ModerationLabels"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, width in (("first.jpg", 320), ("second.jpg", 330)):
        (photos / name).write_bytes(jpeg_bytes(width, 240))
    output = tmp_path / "results"
    assert (
        main(["analyze", "--json", "--backend", "fixture", "--concurrency", "1", "--output", str(output), str(photos)])
        == 0
    )
    return output


def review_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from rekflow.cli import main

    capsys.readouterr()
    code = main(["review", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_lists_decides_and_refuses_a_second_decision_offline(flagged_folder, capsys):
    output = str(flagged_folder)
    # GIVEN two flagged photos analysed offline: both wait, oldest first, with their flagged labels
    code, out, _ = review_cli(capsys, "list", "--json", "--output", output)
    pending = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [p["key"] for p in pending] == ["first.jpg", "second.jpg"]
    # only the labels at or above ModerationReviewThreshold (80): Weapons 75 % is shown by `show`, not listed
    assert pending[0]["labels"] == ["Violence"] and pending[0]["startedAt"] <= pending[1]["startedAt"]
    # held while they wait (offline the stack plays HoldFlaggedMedia=true): a reader is refused by the bucket policy
    code, out, _ = review_cli(capsys, "show", "second.jpg", "--output", output)
    assert json.loads(out)["object"] == {
        "tags": {"rekflow-review": "PENDING"},
        "readable": False,
        "deniedBy": ["HoldFlaggedMedia"],
    }

    # WHEN one is approved by its key, with a note
    code, out, err = review_cli(capsys, "approve", "first.jpg", "--note", "a toy", "--output", output)
    assert code == 0, err
    assert "the object version is readable (rekflow-review=APPROVED)" in err
    event = json.loads(out)
    schema_validator("media-reviewed-event.schema.json").validate(event)

    # THEN the folder's document records the decision, by the local user, and the review no longer waits
    document = json.loads((flagged_folder / "first.jpg.json").read_text())
    schema_validator("results-document.schema.json").validate(document)
    assert (document["review"]["decision"], document["review"]["note"]) == ("APPROVED", "a toy")
    assert document["review"]["reviewer"] == event["reviewer"] and event["reviewer"]
    code, out, _ = review_cli(capsys, "list", "--json", "--output", output)
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["second.jpg"]
    code, out, _ = review_cli(capsys, "show", pending[0]["assetId"][:10], "--output", output)
    shown = json.loads(out)
    assert shown["review"]["decision"] == "APPROVED" and "APPROVED by" in shown["history"][-1]
    assert shown["moderationLabels"][0]["Name"] == "Violence"
    assert shown["object"] == {"tags": {"rekflow-review": "APPROVED"}, "readable": True, "deniedBy": []}

    # AND a second decision on it is refused, saying who decided, and changes nothing
    code, _, err = review_cli(capsys, "reject", "first.jpg", "--output", output)
    assert code == 1 and "decided already: APPROVED" in err
    assert json.loads((flagged_folder / "first.jpg.json").read_text()) == document

    # AND an unknown asset is a usage error, as is a results folder that is not there
    code, _, err = review_cli(capsys, "approve", "nothing.jpg", "--output", output)
    assert code == 2 and "no review" in err
    code, _, err = review_cli(capsys, "list", "--output", str(flagged_folder / "nowhere"))
    assert code == 2 and "no results folder" in err and "rekflow analyze writes one" in err


def test_two_reviewers_of_one_folder_one_wins_and_the_other_is_told(flagged_folder):
    from rekflow.commands.review.common import ReviewClosed
    from rekflow.commands.review.folder import decide_local

    answers: dict[str, str] = {}

    def review(decision: str) -> None:
        try:
            answers[decision] = decide_local(flagged_folder, "second.jpg", decision)["decision"]
        except ReviewClosed as closed:
            answers[decision] = f"closed: {closed}"

    threads = [threading.Thread(target=review, args=(d,)) for d in ("APPROVED", "REJECTED")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (winner,) = [d for d, answer in answers.items() if answer == d]
    (loser,) = [answer for answer in answers.values() if answer.startswith("closed: ")]
    assert f"decided already: {winner}" in loser
    assert json.loads((flagged_folder / "second.jpg.json").read_text())["review"]["decision"] == winner


def test_offline_a_clean_new_version_of_the_key_supersedes_its_waiting_review(flagged_folder, monkeypatch, capsys):
    from rekflow.cli import main
    from rekflow.vision import fixture

    # GIVEN first.jpg waits for review; WHEN a new version of it, which nothing flags, is analysed into the folder
    monkeypatch.setattr(fixture, "MODERATION_LABELS", [])
    again = flagged_folder.parent / "again"
    again.mkdir()
    (again / "first.jpg").write_bytes(jpeg_bytes(400, 240))
    assert main(["analyze", "--json", "--backend", "fixture", "--output", str(flagged_folder), str(again)]) == 0

    # THEN its old review still waits, marked superseded, and the other is not
    code, out, _ = review_cli(capsys, "list", "--json", "--output", str(flagged_folder))
    superseded = {json.loads(line)["key"]: json.loads(line)["superseded"] for line in out.splitlines()}
    assert code == 0 and superseded == {"first.jpg": True, "second.jpg": False}
    code, out, _ = review_cli(capsys, "list", "--output", str(flagged_folder))
    assert code == 0 and "first.jpg  [Violence]  (superseded by a newer version)" in out


def test_offline_a_decision_after_the_deadline_meets_the_timeout_acting_first(flagged_folder, capsys):
    from rekflow.commands.review.folder import reviews_folder

    output = str(flagged_folder)
    code, out, _ = review_cli(capsys, "list", "--json", "--output", output)
    first = json.loads(out.splitlines()[0])
    # GIVEN its deadline: ReviewTimeoutHours 24, three waits under ESCALATE (ReviewEscalations 2)
    started = first["startedAt"][:19]
    assert first["deadline"][:10] > started[:10] and first["deadline"].endswith("Z")
    # WHEN the deadline has passed (the record says so) and a reviewer approves
    record_path = reviews_folder(flagged_folder) / f"{first['assetId']}.json"
    record = json.loads(record_path.read_text())
    record["deadline"] = "2026-01-01T00:00:00Z"
    record_path.write_text(json.dumps(record))
    code, _, err = review_cli(capsys, "approve", "first.jpg", "--output", output)

    # THEN the timeout acted first, through the workflow (ESCALATE: twice more, then REJECT); the approval is refused
    assert code == 1 and "timed out at 2026-01-01T00:00:00Z" in err and "decided REJECTED" in err, err
    review = json.loads((flagged_folder / "first.jpg.json").read_text())["review"]
    assert (review["decision"], review["timedOut"], review["escalations"]) == ("REJECTED", True, 2)
    code, out, _ = review_cli(capsys, "show", "first.jpg", "--output", output)
    shown = json.loads(out)
    assert shown["object"]["tags"] == {"rekflow-review": "REJECTED"} and shown["object"]["readable"] is False
    assert "REJECTED by arn:aws:states:" in shown["history"][-1]
    code, out, _ = review_cli(capsys, "list", "--json", "--output", output)
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["second.jpg"]


# ---------------------------------------------------------------- `rekflow review --stack`, on the local stack's APIs
def test_the_stack_side_lists_from_the_index_decides_as_the_caller_and_refuses_a_closed_review(runtime):
    from rekflow.commands.review.common import ReviewClosed, UnknownAsset
    from rekflow.commands.review.stack import DeployedStack, decide_stack, list_stack, show_stack

    stack = DeployedStack(runtime.stack.results_table, runtime.stack.results_bucket)
    dynamodb, sfn, sts, s3 = (boto3.client(name) for name in ("dynamodb", "stepfunctions", "sts", "s3"))
    _, first = analyse_flagged(runtime, "one.jpg")
    _, second = analyse_flagged(runtime, "two.jpg", color=10)
    for result in (first, second):
        item_when(runtime, result.output["assetId"], parked)

    # list: the ReviewsByStatus index, oldest first
    assert [p.key for p in list_stack(stack, dynamodb)] == ["one.jpg", "two.jpg"]
    # approve by key, as the caller's IAM principal
    sent = decide_stack(stack, dynamodb, sfn, sts, "one.jpg", "APPROVED", "fine")
    assert sent["reviewer"] == sts.get_caller_identity()["Arn"]
    first_item = item_when(runtime, first.output["assetId"], decided)
    assert (first_item["ReviewStatus"], first_item["ReviewedBy"]) == ("APPROVED", sent["reviewer"])
    assert [p.key for p in list_stack(stack, dynamodb)] == ["two.jpg"]
    assert "APPROVED by" in show_stack(stack, dynamodb, s3, first.output["assetId"])["history"][-1]

    # a decided review, and a token closed under the reviewer's feet, are refused and change nothing
    with pytest.raises(ReviewClosed, match="decided already: APPROVED"):
        decide_stack(stack, dynamodb, sfn, sts, first.output["assetId"], "REJECTED")
    waiting = item_when(runtime, second.output["assetId"], parked)
    decide(waiting, "REJECTED")  # another reviewer, just before
    runtime.wait(waiting["ReviewExecutionArn"])
    with pytest.raises(ReviewClosed):
        boto3.client("dynamodb").update_item(  # the item as the reviewer read it: still waiting, token and all
            TableName=stack.table,
            Key={"AssetId": {"S": second.output["assetId"]}},
            UpdateExpression="SET ReviewStatus = :pending, ReviewTaskToken = :token",
            ExpressionAttributeValues={
                ":pending": {"S": "PENDING_REVIEW"},
                ":token": {"S": waiting["ReviewTaskToken"]},
            },
        )
        decide_stack(stack, dynamodb, sfn, sts, second.output["assetId"], "APPROVED")
    with pytest.raises(UnknownAsset):
        decide_stack(stack, dynamodb, sfn, sts, "0" * 64, "APPROVED")


@pytest.mark.parametrize("decision,readable", [("APPROVED", True), ("REJECTED", False)])
def test_the_objects_readability_follows_the_review(make_runtime, decision, readable):
    # The local S3 enforces the template's MediaBucketPolicy (rekflow.local.s3_bucket_policies): each read below is
    # a real GetObject, as a reviewer, anonymously, or as the workflow's role
    runtime = make_runtime(HoldFlaggedMedia="true")
    upload, result = analyse_flagged(runtime)
    workflow_role = runtime.template.role_arn_of("MediaAnalysisStateMachine")

    def may_read(principal: str | None) -> bool:
        with acting_as(principal):
            try:
                boto3.client("s3").get_object(
                    Bucket=runtime.stack.media_bucket, Key=upload.key, VersionId=upload.version_id
                )
            except ClientError as denied:
                assert denied.response["Error"]["Code"] == "AccessDenied"
                return False
        return True

    # WHEN it waits for review, only the workflow's roles may read it
    item = item_when(runtime, result.output["assetId"], parked)
    assert not may_read(REVIEWER) and not may_read(None)
    assert may_read(workflow_role)

    # THEN after the decision, a reader may read it exactly when it was approved
    decide(item, decision)
    assert runtime.wait(item["ReviewExecutionArn"]).status == "SUCCEEDED"
    assert may_read(REVIEWER) is readable and may_read(None) is readable
    assert may_read(workflow_role)


def test_a_function_reads_a_held_object_only_where_the_policy_exempts_its_role(make_runtime):
    # Validate's role is exempted, so a replay of a held upload is analysed again; with Validate's role taken off the
    # policy's exemptions (this stack's copy of it), its read is refused as S3 would refuse it, and the execution
    # fails by the handler's named error
    runtime = make_runtime(HoldFlaggedMedia="true")
    _, result = analyse_flagged(runtime, "held-then-replayed.jpg")
    item_when(runtime, result.output["assetId"], parked)
    assert runtime.replay(result.arn).status == "SUCCEEDED"
    statement = runtime.bucket_policies.policies[runtime.stack.media_bucket]["Statement"][1]
    exempted = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    exempted.remove(runtime.template.role_arn_of("ValidateFunction"))
    refused = runtime.replay(result.arn, attempt=2)
    assert (refused.status, refused.error) == ("FAILED", "ObjectUnreadable")
    assert "AccessDenied" in refused.cause and "HoldFlaggedMedia" in refused.cause


def test_a_second_delivery_of_the_event_stops_at_already_under_review(runtime):
    # EventBridge may deliver the Media Analyzed event twice: each delivery is an execution of its own
    _, result = analyse_flagged(runtime, "twice.jpg")
    item = item_when(runtime, result.output["assetId"], parked)
    sfn = boto3.client("stepfunctions")
    review_input = sfn.describe_execution(executionArn=item["ReviewExecutionArn"])["input"]
    second = runtime.wait(
        sfn.start_execution(stateMachineArn=runtime.stack.state_machine_arns["ReviewStateMachine"], input=review_input)[
            "executionArn"
        ]
    )
    # THEN the second stops without touching the review, which still waits on the first execution's token
    assert second.status == "SUCCEEDED" and second.states_entered()[-1] == "Already under review"
    assert item_when(runtime, result.output["assetId"], parked) == item
    assert len(runtime.review_messages()) == 1
