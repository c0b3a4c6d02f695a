"""Poll video job once: the fallback when a job's completion never reached the workflow.

Returns the same summary the completion callback would have sent; raises VideoJobStillRunning
or VideoJobFailed, which the state machine turns into a FAILED feature.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from job_results import collect

logger = Logger()
tracer = Tracer()

RESULTS_BUCKET = os.environ["RESULTS_BUCKET"]
VIDEO_RESULTS_PREFIX = os.environ["VIDEO_RESULTS_PREFIX"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.warning("no completion arrived in time; polling the job once", extra=event)
    return collect(
        boto3.client("rekognition"),
        boto3.client("s3"),
        feature=event["feature"],
        job_id=event["jobId"],
        asset_id=event["assetId"],
        bucket=RESULTS_BUCKET,
        prefix=VIDEO_RESULTS_PREFIX,
    )
