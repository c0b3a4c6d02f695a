"""Video job completed: resume the workflow branch waiting on a Rekognition video job.

Rekognition → SNS → SQS → this function, in batches with partial failures:
- the token is not stored yet (the job beat its own putItem): the record fails and SQS
  delivers it again after the visibility timeout;
- the same completion twice: Powertools idempotency answers the second from its record;
- the branch stopped waiting (timed out, execution stopped): Step Functions says TaskTimedOut,
  TaskDoesNotExist or InvalidToken; the record is done, not retried forever.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
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

processor = BatchProcessor(event_type=EventType.SQS)
idempotency = IdempotencyConfig(event_key_jmespath="[JobId, Status]", expires_after_seconds=24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


class TokenNotStoredYet(Exception):
    """The completion arrived before its branch parked the task token; SQS will deliver it again."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    # The subscription delivers raw: the body is Rekognition's notification itself.
    return resume_branch(completion=json.loads(record.body))


@idempotent_function(data_keyword_argument="completion", config=idempotency, persistence_store=persistence)
def resume_branch(completion: dict[str, Any]) -> dict[str, Any]:
    job_id = completion["JobId"]
    dynamodb = boto3.client("dynamodb")
    item = dynamodb.get_item(TableName=VIDEO_JOBS_TABLE, Key={"JobId": {"S": job_id}}, ConsistentRead=True).get("Item")
    if item is None:
        raise TokenNotStoredYet(f"no task token stored for job {job_id} yet")
    feature, asset_id, token = item["Feature"]["S"], item["AssetId"]["S"], item["TaskToken"]["S"]
    logger.append_keys(job_id=job_id, feature=feature, asset_id=asset_id)

    sfn = boto3.client("stepfunctions")
    try:
        if completion["Status"] == "SUCCEEDED":
            summary = _collect_or_failure(feature, job_id, asset_id)
        else:
            summary = {"error": "VideoJobFailed",
                       "cause": f"{feature} job {job_id} ended {completion['Status']}: {completion.get('Message', '')}"}
        if "error" in summary:
            sfn.send_task_failure(taskToken=token, error=summary["error"], cause=summary["cause"][:32768])
            outcome = "FAILED"
        else:
            sfn.send_task_success(taskToken=token, output=json.dumps(summary))
            outcome = "RESUMED"
    except ClientError as error:
        if error.response["Error"]["Code"] not in TOKEN_GONE:
            raise
        logger.warning("the branch is no longer waiting for this job", extra={"error": error.response["Error"]})
        outcome = "NOBODY_WAITING"
    metrics.add_metric(name=f"VideoJobs{outcome.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    dynamodb.delete_item(TableName=VIDEO_JOBS_TABLE, Key={"JobId": {"S": job_id}})
    return {"jobId": job_id, "feature": feature, "outcome": outcome}


def _collect_or_failure(feature: str, job_id: str, asset_id: str) -> dict[str, Any]:
    try:
        return collect(boto3.client("rekognition"), boto3.client("s3"), feature=feature, job_id=job_id,
                       asset_id=asset_id, bucket=RESULTS_BUCKET, prefix=VIDEO_RESULTS_PREFIX)
    except VideoJobFailed as failure:
        return {"error": "VideoJobFailed", "cause": str(failure)}
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"):
            raise  # transient: SQS delivers the completion again
        message = error.response["Error"].get("Message", "")
        return {"error": "VideoResultsUnavailable", "cause": f"Rekognition.{code}: {message}"}
