"""Make moto's Step Functions interpreter behave like AWS where the workflow depends on it."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from types import SimpleNamespace
from typing import Any

import botocore.session
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


# The optimised integrations (dynamodb:, sns:, events:) run on the AWS SDK for Java v1, and Step
# Functions names their errors "<Prefix>.<exception class>": the modelled error's shape name with
# "Exception" appended where it lacks it (DynamoDB.RequestLimitExceededException), or the SDK's base
# class for an error the model does not know (DynamoDB.AmazonDynamoDBException for a
# ValidationException). Seen in Step Functions' own snapshots of AWS answers (README, "Error names").
# moto names them "<Prefix>.<error code>" (DynamoDB.RequestLimitExceeded) or, for EventBridge,
# States.Runtime, which no Retry written for AWS would match.
_JAVA_V1_SERVICES = {
    # moto's integration class: (botocore service, error prefix, base exception class, service label in causes)
    "StateTaskServiceDynamoDB": ("dynamodb", "DynamoDB", "AmazonDynamoDBException", "AmazonDynamoDBv2"),
    "StateTaskServiceSns": ("sns", "SNS", "AmazonSNSException", "AmazonSNS"),
    "StateTaskServiceEvents": ("events", "EventBridge", "AmazonEventBridgeException", "AmazonEventBridge"),
}


@functools.cache
def _modelled_errors(service: str) -> dict[str, str]:
    """Error code → exception shape name, from botocore's model of the service."""
    model = botocore.session.get_session().get_service_model(service)
    return {shape.error_code: shape.name for shape in model.error_shapes}


def java_v1_error_name(service: str, prefix: str, base: str, code: str) -> str:
    shape = _modelled_errors(service).get(code)
    if shape is None:
        return f"{prefix}.{base}"
    return f"{prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"


def use_java_v1_error_names() -> None:
    """Name the optimised integrations' errors as Step Functions does on AWS (see _JAVA_V1_SERVICES)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_dynamodb,
        state_task_service_events,
        state_task_service_sns,
    )

    for integration in (state_task_service_dynamodb.StateTaskServiceDynamoDB,
                        state_task_service_sns.StateTaskServiceSns, state_task_service_events.StateTaskServiceEvents):
        if not hasattr(integration, "_rekflow_original_from_error"):
            integration._rekflow_original_from_error = integration._from_error
            integration._from_error = _java_v1_from_error(integration._from_error,
                                                          *_JAVA_V1_SERVICES[integration.__name__])


def _java_v1_from_error(original: Any, service: str, prefix: str, base: str, label: str) -> Any:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        code = ex.response["Error"]["Code"]
        error = java_v1_error_name(service, prefix, base, code)
        metadata = ex.response.get("ResponseMetadata", {})
        cause = (f"{ex.response['Error'].get('Message', '')} (Service: {label}; Status Code: "
                 f"{metadata.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {metadata.get('RequestId')}; "
                 "Proxy: null)")
        details = TaskFailedEventDetails(error=error, cause=cause, resource=self._get_sfn_resource(),
                                         resourceType=self._get_sfn_resource_type())
        return FailureEvent(env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.TaskFailed,
                            event_details=EventDetails(taskFailedEventDetails=details))

    return from_error


_DYNAMODB_WRITE_LOCK = threading.RLock()


def serialise_dynamodb_writes() -> None:
    """Make moto's DynamoDB writes to one item atomic, as DynamoDB's are.

    moto applies an UpdateItem as read, change, store without a lock: two branches adding their
    task tokens to one job's item at the same moment lost one of them (two executions of one
    upload, each parking on the shared JobId), and that branch then waited out its timeout.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_rekflow_serialised", False):
            continue

        def serialised(self: Any, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            with _DYNAMODB_WRITE_LOCK:
                return _method(self, *args, **kwargs)

        serialised._rekflow_serialised = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialised)
