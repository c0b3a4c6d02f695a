"""Make moto's Step Functions interpreter behave like AWS where the workflow depends on it."""

from __future__ import annotations

import contextlib
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


def forget_execution(execution_arn: str, account_id: str, region: str) -> None:
    """Drop a finished execution from moto's Step Functions.

    moto keeps every execution with its parsed program and branch threads (about 1 MB each) and
    scans them all on each call, so a run over a large folder would grow and slow down with
    every file; callers that have read the result let it go.
    """
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    for machine in stepfunctions_parser_backends[account_id][region].state_machines:
        for execution in [e for e in machine.executions if e.execution_arn == execution_arn]:
            machine.executions.remove(execution)  # in place: other threads may be appending
            # Each execution runs on its own deep copy of the state machine, which moto's model
            # registry (kept for its reset) would hold on to as well.
            snapshot = execution.state_machine
            with contextlib.suppress(ValueError):
                type(snapshot).instances_tracked.remove(snapshot)


def let_finished_threads_go() -> None:
    """moto's interpreter appends every thread it starts (about twenty per image execution) to a
    module list that nothing reads and nothing empties; each holds its execution's whole state.
    Dropping the finished ones keeps memory flat over thousands of executions."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    for thread in [t for t in TMP_THREADS if not t.is_alive()]:
        TMP_THREADS.remove(thread)
