"""The ReviewStateMachine: a moderation review that reaches a decision (docs/guides/review.md).

ModerationReviewRule starts one execution per "Media Analyzed" event with needsReview, its detail as the input. The
execution marks the summary item PENDING_REVIEW, holds the object (HoldFlaggedMedia), tells the reviewers, parks its
task token on the summary item and waits for `rekflow review approve|reject` to send the decision with
SendTaskSuccess: the callback pattern (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token).
The wait ends at ReviewTimeoutHours (TimeoutSecondsPath: "If the state runs longer than the specified timeout, then the
interpreter fails the state with a States.Timeout Error Name", https://states-language.net/spec.html#task-state), and
ReviewTimeoutAction decides what a timeout does. A decision is recorded by RecordReviewFunction (summary item and the
results document's review section), the object's tag follows it, and a "Media Reviewed" event announces it.

Every write is retried by the policies of policies.py and otherwise fails the execution by its error's name, which
a redrive resumes from.
"""

from __future__ import annotations

from typing import Any

from rekflow.asl import policies

State = dict[str, Any]
PENDING = "PENDING_REVIEW"
# The input is the Media Analyzed event's detail (the rule's InputPath): kept whole under $.asset, where the S3
# states find $.asset.bucket as the analysis's states do.
SETTINGS = {
    "hold": "${HoldFlaggedMedia}",
    "timeoutAction": "${ReviewTimeoutAction}",
    "timeoutSeconds.$": "States.StringToJson('${ReviewTimeoutSeconds}')",
}
OBJECT_VERSION = {"Bucket.$": "$.asset.bucket", "Key.$": "$.asset.key", "VersionId.$": "$.asset.versionId"}
SUMMARY_KEY = {"AssetId": {"S.$": "$.asset.assetId"}}


def _tagging(value: dict[str, str]) -> State:
    """PutObjectTagging replaces the object version's whole tag set
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html): the review owns the tag set of a
    flagged object while HoldFlaggedMedia is on (docs/guides/review.md says so)."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:putObjectTagging",
        "Parameters": {**OBJECT_VERSION, "Tagging": {"TagSet": [{"Key": "${ReviewTagKey}", **value}]}},
        "ResultPath": None,
        "Retry": [policies.S3_SDK],
    }


def _timed_out(decision: str) -> State:
    """The decision ReviewTimeoutAction takes when nobody decided, in the execution's name: RecordReviewFunction names
    the execution as the reviewer and the time it records it as the time (a Pass state reading the context object's
    clock or execution would answer otherwise each time it is tested alone, as TestState tests it)."""
    return {
        "Type": "Pass",
        "Comment": f"Nobody decided in time: ReviewTimeoutAction {decision} decides, in the execution's name.",
        "Parameters": {
            "decision": decision,
            "note.$": "States.Format('no decision within {} s after {} reminder(s)', $.settings.timeoutSeconds, "
            "$.escalation.count)",
            "timedOut": True,
        },
        "ResultPath": "$.decision",
        "Next": "Record the decision",
    }


def definition() -> State:
    states: dict[str, State] = {
        "Apply settings": {
            "Type": "Pass",
            "Comment": "Template parameters arrive as strings; numbers are parsed once here.",
            "Parameters": {
                "asset.$": "$",
                "settings": SETTINGS,
                "escalation": {"count": 0, "left.$": "States.StringToJson('${ReviewEscalations}')"},
            },
            "Next": "Mark pending review",
        },
        "Mark pending review": {
            "Type": "Task",
            "Comment": "Only the object version the event names, once: a duplicate delivery of the event (a second "
            "execution) stops at Already under review; a redrive of this execution may write again.",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": "${ResultsTable}",
                "Key": SUMMARY_KEY,
                "UpdateExpression": "SET ReviewStatus = :pending, ReviewStartedAt = :now, ReviewExecutionArn = "
                ":execution, ReviewEscalations = :zero",
                "ConditionExpression": "VersionId = :version AND attribute_not_exists(Deleted) AND "
                "(attribute_not_exists(ReviewStatus) OR ReviewExecutionArn = :execution)",
                "ExpressionAttributeValues": {
                    ":pending": {"S": PENDING},
                    ":now": {"S.$": "$$.State.EnteredTime"},
                    ":execution": {"S.$": "$$.Execution.Id"},
                    ":version": {"S.$": "$.asset.versionId"},
                    ":zero": {"N": "0"},
                },
            },
            "ResultPath": None,
            "Retry": [policies.DYNAMODB_OPTIMISED],
            "Catch": [policies.catch(["DynamoDB.ConditionalCheckFailedException"], "Already under review", None)],
            "Next": "Hold the object?",
        },
        "Already under review": {
            "Type": "Succeed",
            "Comment": "Another execution reviews this object version, or its summary item is gone or deleted.",
        },
        "Hold the object?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.settings.hold", "StringEquals": "true", "Next": "Hold the object"}],
            "Default": "Notify reviewers",
        },
        "Hold the object": {
            **_tagging({"Value": "PENDING"}),
            "Comment": "MediaBucketPolicy denies reading an object version tagged PENDING or REJECTED to all but the "
            "workflow's roles and the admin role.",
            "Next": "Notify reviewers",
        },
        "Notify reviewers": {
            "Type": "Task",
            "Comment": "The Media Analyzed event's detail, as the review topic has always carried it.",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": "${ReviewTopicArn}",
                "Subject.$": "States.Format('rekflow: a review is waiting (reminder {})', $.escalation.count)",
                "Message.$": "States.JsonToString($.asset)",
            },
            "ResultPath": None,
            "Retry": [policies.SNS],
            "Next": "Wait for a decision",
        },
        "Wait for a decision": {
            "Type": "Task",
            "Comment": "Park the task token on the summary item, where `rekflow review` finds it; SendTaskSuccess "
            "with the decision ends the wait, ReviewTimeoutHours without one fails it with States.Timeout.",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
            "Parameters": {
                "TableName": "${ResultsTable}",
                "Key": SUMMARY_KEY,
                "UpdateExpression": "SET ReviewTaskToken = :token, ReviewEscalations = :escalations",
                "ConditionExpression": "ReviewStatus = :pending AND ReviewExecutionArn = :execution",
                "ExpressionAttributeValues": {
                    ":token": {"S.$": "$$.Task.Token"},
                    ":escalations": {"N.$": "States.Format('{}', $.escalation.count)"},
                    ":pending": {"S": PENDING},
                    ":execution": {"S.$": "$$.Execution.Id"},
                },
            },
            "TimeoutSecondsPath": "$.settings.timeoutSeconds",
            "ResultPath": "$.decision",
            "Retry": [policies.DYNAMODB_SDK],
            "Catch": [policies.catch(["States.Timeout"], "On timeout?", "$.timeout")],
            "Next": "Record the decision",
        },
        "On timeout?": {
            "Type": "Choice",
            "Comment": "ESCALATE tells the reviewers again and waits again, ReviewEscalations times; then it rejects, "
            "as REJECT does: a flagged upload nobody approved is not published by a timer.",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.settings.timeoutAction", "StringEquals": "ESCALATE"},
                        {"Variable": "$.escalation.left", "NumericGreaterThan": 0},
                    ],
                    "Next": "Count the reminder",
                },
                {"Variable": "$.settings.timeoutAction", "StringEquals": "APPROVE", "Next": "Approve on timeout"},
            ],
            "Default": "Reject on timeout",
        },
        "Count the reminder": {
            "Type": "Pass",
            "Parameters": {
                "count.$": "States.MathAdd($.escalation.count, 1)",
                "left.$": "States.MathAdd($.escalation.left, -1)",
            },
            "ResultPath": "$.escalation",
            "Next": "Notify reviewers",
        },
        "Approve on timeout": _timed_out("APPROVED"),
        "Reject on timeout": _timed_out("REJECTED"),
        "Record the decision": {
            "Type": "Task",
            "Comment": "The summary item and the results document's review section; RecordReviewFunction checks the "
            "decision against schemas/ and returns the Media Reviewed event.",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${RecordReviewFunctionArn}",
                "Payload": {
                    "asset.$": "$.asset",
                    "decision.$": "$.decision",
                    "execution.$": "$$.Execution.Id",
                    "escalations.$": "$.escalation.count",
                },
            },
            "ResultSelector": {
                "decision.$": "$.Payload.decision",
                "objectGone.$": "$.Payload.objectGone",
                "event.$": "$.Payload.event",
            },
            "ResultPath": "$.recorded",
            "Retry": [policies.LAMBDA, policies.FUNCTION_ENVIRONMENT],
            "Next": "Tag the decision?",
        },
        "Tag the decision?": {
            "Type": "Choice",
            "Comment": "Held objects take the decision's tag; an upload whose key holds no version any more "
            "(SearchIndexFunction marked its item Deleted) has nothing left to tag.",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.settings.hold", "StringEquals": "true"},
                        {"Variable": "$.recorded.objectGone", "BooleanEquals": False},
                    ],
                    "Next": "Tag the decision",
                }
            ],
            "Default": "Announce the decision",
        },
        "Tag the decision": {
            **_tagging({"Value.$": "$.recorded.decision"}),
            "Comment": "APPROVED is readable again; REJECTED stays unreadable (MediaBucketPolicy).",
            "Next": "Announce the decision",
        },
        "Announce the decision": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": "${EventBusName}",
                        "Source": "${EventSource}",
                        "DetailType": "${ReviewedDetailType}",
                        "Detail.$": "$.recorded.event",
                    }
                ]
            },
            "ResultPath": None,
            "OutputPath": "$.recorded.event",
            "Retry": [policies.EVENTBRIDGE],
            "End": True,
        },
    }
    return {
        "Comment": "rekflow Review: a moderation review of one flagged object version, from PENDING_REVIEW to a "
        "decision (APPROVED or REJECTED) recorded in its summary item and results document and announced as "
        "Media Reviewed.",
        "StartAt": "Apply settings",
        "States": states,
    }
