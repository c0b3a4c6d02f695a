"""Make moto's Step Functions interpreter behave like AWS where the workflow depends on it."""

from __future__ import annotations

import time
from types import SimpleNamespace

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk

# AWS names aws-sdk integration errors "<Service>.<Code>" with the service in PascalCase
# (Rekognition.ThrottlingException, S3.NoSuchKeyException). moto only knows a few services
# and otherwise uses the lower-case name from the ARN, which no Retry or Catch would match.
AWS_SDK_ERROR_PREFIXES = {"rekognition": "Rekognition", "s3": "S3", "sns": "SNS", "sqs": "SQS",
                          "eventbridge": "EventBridge", "lambda": "Lambda"}


def use_aws_error_names() -> None:
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.update(AWS_SDK_ERROR_PREFIXES)


def scale_retry_waits(scale: float) -> None:
    """Run Retry back-off waits `scale` times as long (1.0 is real time; tests use a tiny scale).

    The interpreter sleeps between attempts with time.sleep; only its module's view of `time` changes.
    """
    retrier_decl.time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * scale))  # type: ignore[assignment]
