"""The MediaAnalysis state machine: validate → route → analyse → store.

Each feature's branch is built from schemas/features.json, each Retry and Catch comes from
policies.py; template.yaml fills the ${…} placeholders (DefinitionSubstitutions).
"""

from __future__ import annotations

from typing import Any

from rekflow.asl import policies
from rekflow.features import IMAGE_FEATURES, VIDEO_FEATURES, Feature

State = dict[str, Any]
S3_OBJECT = {"Bucket.$": "$.asset.bucket", "Name.$": "$.asset.key", "Version.$": "$.asset.versionId"}
# The settings ride along from Validate; template parameters arrive as strings, numbers are parsed once. A state
# that replaces the whole input (ResultPath "$") sets them again from the same constants.
SETTINGS = {
    "features": "${Features}",
    "minConfidence.$": "States.StringToJson('${MinConfidence}')",
    "maxLabels.$": "States.StringToJson('${MaxLabels}')",
}


def _wanted(feature: str, title: str, when_wanted: str) -> State:
    return {
        "Type": "Choice",
        "Choices": [{"Variable": "$.settings.features", "StringMatches": f"*{feature}*", "Next": when_wanted}],
        "Default": f"{title} not requested",
    }


def _failed() -> State:
    return {
        "Type": "Pass",
        "Parameters": {"status": "FAILED", "error.$": "$.error.Error", "cause.$": "$.error.Cause"},
        "End": True,
    }


def _not_requested() -> State:
    return {"Type": "Pass", "Result": {"status": "SKIPPED"}, "End": True}


def _sdk(service: str, operation: str) -> str:
    """The aws-sdk integration's resource: the operation's name in camel case."""
    return f"arn:aws:states:::aws-sdk:{service}:{operation[0].lower()}{operation[1:]}"


def image_branch(feature: Feature, chosen: bool) -> State:
    """One feature's branch: Detect, retried, its media errors caught. With `chosen`, a Choice first
    skips the feature when the Features parameter leaves it out."""
    assert feature.image is not None
    title = feature.name.capitalize()
    detect, failed = f"Detect {feature.name}", f"{title} failed"
    states: dict[str, State] = {
        detect: {
            "Type": "Task",
            "Resource": _sdk("rekognition", feature.image.operation),
            "Parameters": {"Image": {"S3Object": S3_OBJECT}, **feature.image.request},
            "ResultSelector": {"status": "SUCCEEDED", **feature.image.result},
            "Retry": policies.REKOGNITION,
            "Catch": [policies.catch(policies.IMAGE_MEDIA_ERRORS, failed)],
            "End": True,
        },
        failed: _failed(),
    }
    if not chosen:
        return {"StartAt": detect, "States": states}
    # State names are unique across the whole definition, so this Parallel's copies are marked.
    states = {f"{name} (chosen)": state for name, state in states.items()}
    states[f"{detect} (chosen)"]["Catch"][0]["Next"] = f"{failed} (chosen)"
    return {
        "StartAt": f"{title} wanted?",
        "States": {
            f"{title} wanted?": _wanted(feature.name, title, f"{detect} (chosen)"),
            **states,
            f"{title} not requested": _not_requested(),
        },
    }


def video_branch(feature: Feature) -> State:
    job = feature.video
    assert job is not None
    title = f"Video {feature.name}"
    start, wait, poll, failed = (f"Start {job.job}", f"Wait for {job.job}", f"Poll {job.job} once", f"{title} failed")
    return {
        "StartAt": f"{title} wanted?",
        "States": {
            f"{title} wanted?": _wanted(feature.name, title, start),
            start: {
                "Type": "Task",
                "Comment": "The same object version and feature always send the same ClientRequestToken, "
                "so a rerun joins the job already started.",
                "Resource": _sdk("rekognition", job.start),
                "Parameters": {
                    "Video": {"S3Object": S3_OBJECT},
                    "NotificationChannel": {
                        "SNSTopicArn": "${VideoCompletionTopicArn}",
                        "RoleArn": "${RekognitionPublishRoleArn}",
                    },
                    "JobTag": feature.name,
                    "ClientRequestToken.$": (
                        f"States.Hash(States.Format('{{}}:{feature.name}', $.asset.assetId), 'MD5')"
                    ),
                    **job.request,
                },
                "ResultSelector": {"id.$": "$.JobId", "feature": feature.name},
                "ResultPath": "$.job",
                "Retry": [*policies.REKOGNITION, policies.REKOGNITION_JOB_LIMIT],
                "Catch": [policies.catch(policies.VIDEO_MEDIA_ERRORS, failed)],
                "Next": wait,
            },
            wait: {
                "Type": "Task",
                "Comment": "Add this branch's task token to the job's item unless the job has already completed "
                "(a rerun reuses the ClientRequestToken and gets the finished job back): then poll it "
                "at once.",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
                "Parameters": {
                    "TableName": "${VideoJobsTable}",
                    "Key": {"JobId": {"S.$": "$.job.id"}},
                    "UpdateExpression": "SET Feature = :feature, AssetId = :asset, ExpiresAt = :expires, "
                    "#waiter = :token",
                    "ConditionExpression": "attribute_not_exists(CompletedStatus)",
                    "ExpressionAttributeNames": {"#waiter.$": "States.Format('Waiter:{}', $$.Execution.Name)"},
                    "ExpressionAttributeValues": {
                        ":feature": {"S": feature.name},
                        ":asset": {"S.$": "$.asset.assetId"},
                        ":expires": {"N.$": "States.Format('{}', $.asset.video.tokenExpiresAt)"},
                        ":token": {"S.$": "$$.Task.Token"},
                    },
                },
                "TimeoutSecondsPath": "$.asset.video.jobTimeoutSeconds",
                "Retry": [policies.DYNAMODB_SDK],
                "Catch": [
                    policies.catch(["States.Timeout", "DynamoDb.ConditionalCheckFailedException"], poll, "$.waitEnded"),
                    policies.catch(policies.VIDEO_JOB_ERRORS, failed),
                ],
                "End": True,
            },
            poll: {
                "Type": "Task",
                "Comment": "No completion arrived in time: read the job once instead of waiting forever.",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "${VideoPollFunctionArn}",
                    "Payload": {"jobId.$": "$.job.id", "feature": feature.name, "assetId.$": "$.asset.assetId"},
                },
                "ResultSelector": {"result.$": "$.Payload"},
                "OutputPath": "$.result",
                "Retry": [policies.LAMBDA],
                "Catch": [policies.catch(["VideoJobStillRunning", *policies.VIDEO_JOB_ERRORS], failed)],
                "End": True,
            },
            failed: _failed(),
            f"{title} not requested": _not_requested(),
        },
    }


def _parallel(comment: str, features: tuple[Feature, ...], branch: Any) -> State:
    return {
        "Type": "Parallel",
        "Comment": comment,
        "Branches": [branch(f) for f in features],
        "ResultSelector": {f"{f.name}.$": f"$[{i}]" for i, f in enumerate(features)},
        "ResultPath": "$.analysis",
        "Next": "Build results",
    }


def _accepted(media_type: str, next_state: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "And": [
            {"Variable": "$.asset.status", "StringEquals": "ACCEPTED"},
            {"Variable": "$.asset.mediaType", "StringEquals": media_type},
            *(extra or []),
        ],
        "Next": next_state,
    }


def _to_convert(media_type: str, next_state: str) -> dict[str, Any]:
    """Accepted on condition that an analysable copy is made first (Validate's `convert`)."""
    return _accepted(media_type, next_state, [{"Variable": "$.asset.convert", "IsPresent": True}])


def _use_copy(function_payload: dict[str, Any], comment: str) -> State:
    """A make_proxy invocation whose answer becomes the asset the analysis reads; then back to the routing."""
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${MakeProxyFunctionArn}", "Payload": function_payload},
        "ResultSelector": {"asset.$": "$.Payload", "settings": SETTINGS},
        "ResultPath": "$",
        "Retry": [policies.LAMBDA, policies.S3_UNAVAILABLE, policies.FUNCTION_ENVIRONMENT],
        "Catch": [policies.catch(policies.FUNCTION_ENVIRONMENT_ERRORS, "Conversion crashed")],
        "Next": "What kind of media is it?",
    }


def image_conversion_states() -> dict[str, State]:
    return {
        "Conversion crashed": {
            "Type": "Pass",
            "Comment": "The decoder's process died on this upload twice (a crash, its memory or its timeout): the "
            "bytes are the cause, so the asset is rejected with the error, not failed for a redrive to repeat.",
            "Parameters": {
                "status": "REJECTED",
                "reason": "CONVERSION_CRASHED",
                "message.$": "States.Format('The conversion ended in {}: {}', $.error.Error, $.error.Cause)",
            },
            "ResultPath": "$.routing",
            "Next": "Build results",
        },
        "Convert image to JPEG": _use_copy(
            {"asset.$": "$.asset"},
            "Make an analysable copy: decode the upload (HEIC, AVIF, WebP, TIFF, GIF, BMP, or a JPEG/PNG over "
            "Rekognition's limits) and write a JPEG under the proxies prefix; the analysis reads the copy, the "
            "document reports both. Data that cannot be decoded comes back REJECTED with its reason.",
        ),
    }


def video_conversion_states() -> dict[str, State]:
    """MediaConvert makes an H.264 MP4 of the upload (.sync: Step Functions waits for the job); a job that ends in
    ERROR is recorded as CONVERSION_FAILED, any other failure fails the execution by its own name."""
    return {
        "Convert video to H.264": {
            "Type": "Task",
            "Comment": "Make an analysable copy with AWS Elemental MediaConvert: video only, H.264 (QVBR) in MP4, the "
            "upload's rotation applied, written under the proxies prefix named by the asset id.",
            "Resource": "arn:aws:states:::mediaconvert:createJob.sync",
            "Parameters": {
                "Role": "${MediaConvertRoleArn}",
                "UserMetadata": {"assetId.$": "$.asset.assetId"},
                "Settings": {
                    "TimecodeConfig": {"Source": "ZEROBASED"},
                    "Inputs": [
                        {
                            "FileInput.$": "States.Format('s3://{}/{}', $.asset.bucket, $.asset.key)",
                            "TimecodeSource": "ZEROBASED",
                            "VideoSelector": {"Rotate": "AUTO"},
                        }
                    ],
                    "OutputGroups": [
                        {
                            "Name": "Analysable copy",
                            "OutputGroupSettings": {
                                "Type": "FILE_GROUP_SETTINGS",
                                "FileGroupSettings": {
                                    "Destination.$": "States.Format('s3://{}/${ProxyPrefix}{}/proxy', "
                                    "$.asset.bucket, $.asset.assetId)"
                                },
                            },
                            "Outputs": [
                                {
                                    "ContainerSettings": {
                                        "Container": "MP4",
                                        "Mp4Settings": {"MoovPlacement": "PROGRESSIVE_DOWNLOAD"},
                                    },
                                    "VideoDescription": {
                                        "CodecSettings": {
                                            "Codec": "H_264",
                                            "H264Settings": {
                                                "RateControlMode": "QVBR",
                                                "QvbrSettings": {"QvbrQualityLevel": 7},
                                                "MaxBitrate": 8000000,
                                                "SceneChangeDetect": "TRANSITION_DETECTION",
                                            },
                                        }
                                    },
                                }
                            ],
                        }
                    ],
                },
            },
            "ResultSelector": {
                "id.$": "$.Job.Id",
                "timing.$": "$.Job.Timing",
                "outputGroups.$": "$.Job.OutputGroupDetails",
            },
            "ResultPath": "$.job",
            "Retry": [policies.MEDIACONVERT],
            "Catch": [policies.catch([policies.SYNC_JOB_FAILED], "Did the conversion job fail?")],
            "Next": "Take the converted video",
        },
        "Take the converted video": _use_copy(
            {"asset.$": "$.asset", "job.$": "$.job"},
            "Read the copy's version and size; from here the analysis reads the copy.",
        ),
        "Did the conversion job fail?": {
            "Type": "Choice",
            "Comment": "Caught as States.TaskFailed, the wildcard: a job that ended in ERROR has exactly that name; "
            "a refused request or a missing permission has its own, and fails the execution by it.",
            "Choices": [
                {"Variable": "$.error.Error", "StringEquals": policies.SYNC_JOB_FAILED, "Next": "Read the failed job"}
            ],
            "Default": "Conversion could not run",
        },
        "Read the failed job": {
            "Type": "Pass",
            "Comment": "The cause is the job as MediaConvert describes it, error code and message included.",
            "Parameters": {"job.$": "States.StringToJson($.error.Cause)"},
            "ResultPath": "$.failedJob",
            "Next": "Video conversion refused",
        },
        "Video conversion refused": {
            "Type": "Pass",
            "Parameters": {
                "status": "REJECTED",
                "reason": "CONVERSION_FAILED",
                "message.$": "States.Format('MediaConvert ended job {} in ERROR {}: {}', "
                "$.failedJob.job.Id, $.failedJob.job.ErrorCode, $.failedJob.job.ErrorMessage)",
            },
            "ResultPath": "$.routing",
            "Next": "Build results",
        },
        "Conversion could not run": {
            "Type": "Fail",
            "Comment": "Not the video's fault (throttled past the retries, a permission, a refused request): fail "
            "by the error's own name.",
            "ErrorPath": "$.error.Error",
            "CausePath": "$.error.Cause",
        },
    }


def definition() -> State:
    """MediaAnalysis, the Standard workflow: images and videos, videos converted with MediaConvert (.sync)."""
    return _workflow(
        "Analyze video",
        {
            "Analyze video": _parallel(
                "One Rekognition video job per feature, each branch waiting for its own completion; a failing feature "
                "yields a partial result.",
                VIDEO_FEATURES,
                video_branch,
            ),
            **video_conversion_states(),
        },
        convert_videos=True,
    )


def image_express_definition() -> State:
    """ImageAnalysis, the Express option for images (template parameter ImageWorkflow=EXPRESS): the same states,
    except that a video, which needs task tokens Express cannot wait for, is handed to MediaAnalysis."""
    return _workflow(
        "Hand video to MediaAnalysis",
        {
            "Hand video to MediaAnalysis": {
                "Type": "Task",
                "Comment": (
                    "Express workflows cannot wait for a task token: the video runs on the Standard MediaAnalysis, "
                    "started with this execution's input (the S3 event)."
                ),
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": "${MediaAnalysisArn}", "Input.$": "$$.Execution.Input"},
                "ResultSelector": {"handedOverTo.$": "$.ExecutionArn"},
                "Retry": [policies.START_EXECUTION],
                "End": True,
            }
        },
        comment="rekflow ImageAnalysis (Express): validate an uploaded object and analyse an image with "
        "Rekognition, store the results; a video goes on to MediaAnalysis.",
    )


def _workflow(
    video_route: str,
    video_states: dict[str, State],
    comment: str = "rekflow MediaAnalysis: validate an uploaded object, route it, make an analysable copy "
    "when Rekognition cannot read it as it is, analyse it with Rekognition, store the "
    "results.",
    convert_videos: bool = False,
) -> State:
    # Express cannot wait for a .sync job: there a video to convert takes the video route (to MediaAnalysis).
    conversions = [_to_convert("image", "Convert image to JPEG")]
    if convert_videos:
        conversions.append(_to_convert("video", "Convert video to H.264"))
    every_image_feature = [{"Variable": "$.settings.features", "StringMatches": f"*{f.name}*"} for f in IMAGE_FEATURES]
    return {
        "Comment": comment,
        "StartAt": "Validate object",
        "States": {
            "Validate object": {
                "Type": "Task",
                "Comment": "Decide from the object's bytes whether Rekognition can analyse it. The settings ride "
                "along from here: template parameters arrive as strings, numbers are parsed once.",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${ValidateFunctionArn}", "Payload.$": "$"},
                "ResultSelector": {"asset.$": "$.Payload", "settings": SETTINGS},
                "ResultPath": "$",
                # Validate decodes no pixels (headers only, HEIF boxes in Python): its process dying is a fault of
                # ours or of the platform, not of the upload, so after one more attempt it fails by that name.
                "Retry": [policies.LAMBDA, policies.S3_UNAVAILABLE, policies.FUNCTION_ENVIRONMENT],
                "Next": "What kind of media is it?",
            },
            "What kind of media is it?": {
                "Type": "Choice",
                "Comment": "Every image feature wanted (the default) takes the Parallel without a Choice per "
                "branch: four states fewer per image. A copy, once made, comes back here as analysable.",
                "Choices": [
                    *conversions,
                    _accepted("image", "Analyze image", every_image_feature),
                    _accepted("image", "Analyze chosen image features"),
                    _accepted("video", video_route),
                ],
                "Default": "Build results",
            },
            "Analyze image": _parallel(
                "One branch per Rekognition feature; a failing feature yields a partial result, not a lost one.",
                IMAGE_FEATURES,
                lambda f: image_branch(f, chosen=False),
            ),
            "Analyze chosen image features": _parallel(
                "The same branches, each first asking whether the Features parameter wants it.",
                IMAGE_FEATURES,
                lambda f: image_branch(f, chosen=True),
            ),
            **image_conversion_states(),
            **video_states,
            "Build results": {
                "Type": "Task",
                "Comment": "Assemble the schema-versioned document, the summary item and the event from what the "
                "run found.",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "${BuildResultsFunctionArn}",
                    "Payload": {
                        "run.$": "$",
                        "execution": {
                            "id.$": "$$.Execution.Id",
                            "name.$": "$$.Execution.Name",
                            "startedAt.$": "$$.Execution.StartTime",
                        },
                    },
                },
                "ResultSelector": {
                    "document.$": "$.Payload.document",
                    "item.$": "$.Payload.item",
                    "event.$": "$.Payload.event",
                    "outcome.$": "$.Payload.outcome",
                    "claim.$": "$.Payload.claim",
                },
                "ResultPath": "$",
                "Retry": [policies.LAMBDA],
                "Next": "Store results document",
            },
            "Store results document": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {
                    "Bucket": "${ResultsBucket}",
                    "Key.$": "$.outcome.resultsKey",
                    "Body.$": "States.JsonToString($.document)",
                    "ContentType": "application/json",
                },
                "ResultPath": None,
                "Next": "Record summary",
                "Comment": "Same key for every run of this object version: a rerun overwrites, never duplicates.",
                "Retry": [policies.S3_SDK],
            },
            "Record summary": {
                "Type": "Task",
                "Comment": "Claim the record: a first run, a redrive of the run that claimed it, or a run whose "
                "claim expired unannounced may write; any other run of the same object version stops "
                "at Already recorded.",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": "${ResultsTable}",
                    "Item.$": "$.item",
                    "ConditionExpression": "attribute_not_exists(AssetId) OR (Announced = :false AND "
                    "(ExecutionArn = :execution OR ClaimExpiresAt <= :now))",
                    "ExpressionAttributeValues": {
                        ":false": {"BOOL": False},
                        ":execution": {"S.$": "$$.Execution.Id"},
                        ":now": {"N.$": "$.claim.now"},
                    },
                },
                "ResultPath": None,
                "Retry": [policies.DYNAMODB_OPTIMISED],
                "Catch": [policies.catch(["DynamoDB.ConditionalCheckFailedException"], "Already recorded", None)],
                "Next": "Announce results",
            },
            "Already recorded": {
                "Type": "Pass",
                "Comment": "Another run of this object version recorded it (or is recording it now): nothing more "
                "to do.",
                "Result": True,
                "ResultPath": "$.outcome.duplicate",
                "OutputPath": "$.outcome",
                "End": True,
            },
            "Announce results": {
                "Type": "Task",
                "Comment": "One event per asset; template.yaml's ModerationReviewRule sends those that need a "
                "moderation review on to the review topic.",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {
                    "Entries": [
                        {
                            "EventBusName": "${EventBusName}",
                            "Source": "${EventSource}",
                            "DetailType": "${EventDetailType}",
                            "Detail.$": "$.event",
                        }
                    ]
                },
                "ResultPath": None,
                "Retry": [policies.EVENTBRIDGE],
                "Next": "Mark announced",
            },
            "Mark announced": {
                "Type": "Task",
                "Comment": "The event is out: from now on every other run of this object version stops at "
                "Already recorded.",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": {
                    "TableName": "${ResultsTable}",
                    "Key": {"AssetId": {"S.$": "$.outcome.assetId"}},
                    "UpdateExpression": "SET Announced = :true",
                    "ExpressionAttributeValues": {":true": {"BOOL": True}},
                },
                "ResultPath": None,
                "OutputPath": "$.outcome",
                "Retry": [policies.DYNAMODB_OPTIMISED],
                "End": True,
            },
        },
    }
