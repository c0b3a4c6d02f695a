"""Every Retry and Catch policy of the state machines, written once.

Error names are the ones Step Functions reports for each integration (see the README's table
"Error names in Retry and Catch"): `Lambda.*` for lambda:invoke, the service's exception names with
the integration's prefix for aws-sdk and optimised integrations. Note the two DynamoDB prefixes:
the optimised integration (dynamodb:putItem) reports `DynamoDB.`, the SDK integration
(aws-sdk:dynamodb:…) reports `DynamoDb.`.
"""

from __future__ import annotations

from typing import Any


def _backoff(
    errors: list[str], interval: float, attempts: int, rate: float, max_delay: int | None = None
) -> dict[str, Any]:
    retrier: dict[str, Any] = {
        "ErrorEquals": errors,
        "IntervalSeconds": interval,
        "MaxAttempts": attempts,
        "BackoffRate": rate,
    }
    if max_delay is not None:
        retrier["MaxDelaySeconds"] = max_delay
    retrier["JitterStrategy"] = "FULL"
    return retrier


# Lambda's transient service errors (AWS's recommended retrier for lambda:invoke).
LAMBDA = _backoff(
    [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    2,
    6,
    2,
)
# The function's execution environment died on this invocation: the process crashed (a native decoder on the
# upload's bytes), ran out of memory or past its timeout (rekflow/local/sandbox.py cites the names). Caused by the
# bytes, it happens again on every attempt, so one more attempt only: a one-off (a noisy neighbour) passes then.
FUNCTION_ENVIRONMENT_ERRORS = ["Runtime.ExitError", "Runtime.OutOfMemory", "Sandbox.Timedout"]
FUNCTION_ENVIRONMENT = _backoff(FUNCTION_ENVIRONMENT_ERRORS, 1, 1, 2)
# Validate raises S3Unavailable for S3's throttling and 5xx answers.
S3_UNAVAILABLE = _backoff(["S3Unavailable"], 1, 5, 2, max_delay=30)
# Throttling is about rate, not faults: many short waits (full jitter up to 1 s) keep the quota in use, where
# exponential waits left it idle. A 10x-quota burst (python -m rekflow.bench.throttling): 0.96 of the quota used,
# none failed, against 0.64 and 88 of 500 failed with the exponential waits; the busiest call needed 25 attempts.
REKOGNITION_THROTTLED = _backoff(
    ["Rekognition.ThrottlingException", "Rekognition.ProvisionedThroughputExceededException"], 1, 40, 2, max_delay=1
)
REKOGNITION_FAULT = _backoff(["Rekognition.InternalServerErrorException"], 1, 4, 2, max_delay=20)
REKOGNITION = [REKOGNITION_THROTTLED, REKOGNITION_FAULT]
# Too many concurrent video jobs (20 by default): wait for running jobs to finish.
REKOGNITION_JOB_LIMIT = _backoff(["Rekognition.LimitExceededException"], 30, 10, 1.5, max_delay=300)
DYNAMODB_OPTIMISED = _backoff(
    [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceededException",
        "DynamoDB.InternalServerErrorException",
        "DynamoDB.AmazonDynamoDBException",
    ],
    1,
    5,
    2,
)
DYNAMODB_SDK = _backoff(
    [
        "DynamoDb.ProvisionedThroughputExceededException",
        "DynamoDb.ThrottlingException",
        "DynamoDb.InternalServerErrorException",
        "DynamoDb.RequestLimitExceededException",
    ],
    1,
    5,
    2,
)
S3_SDK = _backoff(["S3.S3Exception", "S3.SdkClientException"], 1, 5, 2)
EVENTBRIDGE = _backoff(
    ["EventBridge.InternalException", "EventBridge.AmazonEventBridgeException", "EventBridge.FailedEntry"], 1, 5, 2
)
# SNS's Publish (optimised integration, Java SDK v1 names): its throttling, its own fault, the topic key's
# throttling (an encrypted topic), and the SDK's base class for an unmodelled error (a 5xx).
SNS = _backoff(
    ["SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException", "SNS.AmazonSNSException"],
    1,
    5,
    2,
)
# Starting an execution runs into the account's StartExecution quota; the name is the one the Step Functions guide
# retries (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-nested-workflows.html).
START_EXECUTION = _backoff(["StepFunctions.ExecutionLimitExceeded"], 1, 5, 2)

# MediaConvert's CreateJob: too many requests, or its own fault (the optimised integration's Java SDK v1 names:
# "MediaConvert.<shape>", as for the other optimised integrations; README, "Error names in Retry and Catch").
MEDIACONVERT = _backoff(
    ["MediaConvert.TooManyRequestsException", "MediaConvert.InternalServerErrorException"], 2, 5, 2, max_delay=60
)
# A .sync job that ends in ERROR fails its task with States.TaskFailed and the job as the cause (the Run a Job
# pattern: https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-sync). Caught, that
# name is a wildcard for every error but States.Timeout, so the state after the Catch tells the two apart.
SYNC_JOB_FAILED = "States.TaskFailed"

# Errors about the media itself: caught per feature, so one unreadable feature gives a PARTIAL result.
IMAGE_MEDIA_ERRORS = [
    "Rekognition.InvalidS3ObjectException",
    "Rekognition.InvalidImageFormatException",
    "Rekognition.ImageTooLargeException",
    "Rekognition.InvalidParameterException",
]
VIDEO_MEDIA_ERRORS = [
    "Rekognition.InvalidS3ObjectException",
    "Rekognition.InvalidParameterException",
    "Rekognition.VideoTooLargeException",
    "Rekognition.IdempotentParameterMismatchException",
]
# Raised by the video results functions (lambdas/video_results): the job failed or its results cannot be read.
VIDEO_JOB_ERRORS = ["VideoJobFailed", "VideoResultsUnavailable"]


def catch(errors: list[str], next_state: str, result_path: str | None = "$.error") -> dict[str, Any]:
    return {"ErrorEquals": errors, "ResultPath": result_path, "Next": next_state}
