"""Video job completed: record it on the job's item and resume every branch waiting on the job.

Rekognition → SNS → SQS → this function, in batches with partial failures. Each branch that
waits on a job adds its task token to the job's item (keyed by JobId) unless the item already
says the job completed; this function marks the item completed and resumes the tokens it held
at that moment, in one atomic update. So every order ends well:
- the completion arrives before any token: it is recorded; the branch then finds the job
  completed and polls it once, without waiting;
- a rerun (redrive or replay) reuses the ClientRequestToken, gets the finished job back and
  finds it completed the same way; Rekognition sends no second completion;
- two executions of one upload (EventBridge delivers at least once) both wait on one JobId:
  both tokens are on the item and both are resumed;
- the same completion twice: Powertools idempotency answers the second from its record;
- a branch that stopped waiting (timed out, execution stopped): Step Functions says
  TaskTimedOut, TaskDoesNotExist or InvalidToken; that token is skipped, not retried.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from job_results import VideoJobFailed, collect

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RESULTS_BUCKET = os.environ["RESULTS_BUCKET"]
VIDEO_RESULTS_PREFIX = os.environ["VIDEO_RESULTS_PREFIX"]
VIDEO_JOBS_TABLE = os.environ["VIDEO_JOBS_TABLE"]
# Step Functions' answers when the task token no longer has a state waiting on it.
TOKEN_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
# Each waiting branch's token is an attribute named after its execution (see the ASL's "Wait for …" states).
WAITER_PREFIX = "Waiter:"
# A rerun within this time finds the job completed; Rekognition keeps a video job's results for 7 days.
COMPLETION_KEPT_SECONDS = 7 * 24 * 3600

processor = BatchProcessor(event_type=EventType.SQS)
idempotency = IdempotencyConfig(event_key_jmespath="[JobId, Status]", expires_after_seconds=24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    # The subscription delivers raw: the body is Rekognition's notification itself.
    outcome: dict[str, Any] = resume_branch(completion=json.loads(record.body))
    return outcome


# powertools annotates idempotent_function's result as Any (the wrapper keeps the signature at run time).
@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="completion", config=idempotency, persistence_store=persistence
)
def resume_branch(completion: dict[str, Any]) -> dict[str, Any]:
    job_id = completion["JobId"]
    item = _record_completion(boto3.client("dynamodb"), job_id, completion["Status"])
    tokens = [value["S"] for name, value in item.items() if name.startswith(WAITER_PREFIX)]
    if not tokens:
        # No branch waits yet: the one that parks next finds the job completed and polls it.
        metrics.add_metric(name="VideoJobsCompletedBeforeWait", unit=MetricUnit.Count, value=1)
        return {"jobId": job_id, "outcome": "RECORDED", "resumed": 0}
    feature, asset_id = item["Feature"]["S"], item["AssetId"]["S"]
    logger.append_keys(job_id=job_id, feature=feature, asset_id=asset_id)
    if completion["Status"] == "SUCCEEDED":
        answer = _collect_or_failure(feature, job_id, asset_id)
    else:
        answer = {
            "error": "VideoJobFailed",
            "cause": f"{feature} job {job_id} ended {completion['Status']}: {completion.get('Message', '')}",
        }
    sfn = boto3.client("stepfunctions")
    resumed = sum(_resume(sfn, token, answer) for token in tokens)
    outcome = "FAILED" if "error" in answer else "RESUMED"
    metrics.add_metric(name=f"VideoJobs{outcome.title()}", unit=MetricUnit.Count, value=resumed)
    metrics.add_metric(name="VideoJobsNobodyWaiting", unit=MetricUnit.Count, value=len(tokens) - resumed)
    return {"jobId": job_id, "feature": feature, "outcome": outcome, "resumed": resumed}


def _record_completion(dynamodb: Any, job_id: str, status: str) -> dict[str, Any]:
    """Mark the job completed and return its item as it stands, with every token parked until now."""
    now = int(time.time())
    response = dynamodb.update_item(
        TableName=VIDEO_JOBS_TABLE,
        Key={"JobId": {"S": job_id}},
        UpdateExpression="SET CompletedStatus = :status, CompletedAt = :now, ExpiresAt = :expires",
        ExpressionAttributeValues={
            ":status": {"S": status},
            ":now": {"N": str(now)},
            ":expires": {"N": str(now + COMPLETION_KEPT_SECONDS)},
        },
        ReturnValues="ALL_NEW",
    )
    return dict(response["Attributes"])


def _resume(sfn: Any, token: str, answer: dict[str, Any]) -> bool:
    """Send the answer to one waiting branch; False when that branch no longer waits."""
    try:
        if "error" in answer:
            sfn.send_task_failure(taskToken=token, error=answer["error"], cause=answer["cause"][:32768])
        else:
            sfn.send_task_success(taskToken=token, output=json.dumps(answer))
    except ClientError as error:
        if error.response["Error"]["Code"] not in TOKEN_GONE:
            raise
        logger.warning("a branch is no longer waiting for this job", extra={"error": error.response["Error"]})
        return False
    return True


def _collect_or_failure(feature: str, job_id: str, asset_id: str) -> dict[str, Any]:
    try:
        return collect(
            boto3.client("rekognition"),
            boto3.client("s3"),
            feature=feature,
            job_id=job_id,
            asset_id=asset_id,
            bucket=RESULTS_BUCKET,
            prefix=VIDEO_RESULTS_PREFIX,
        )
    except VideoJobFailed as failure:
        return {"error": "VideoJobFailed", "cause": str(failure)}
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"):
            raise  # transient: SQS delivers the completion again
        message = error.response["Error"].get("Message", "")
        return {"error": "VideoResultsUnavailable", "cause": f"Rekognition.{code}: {message}"}
