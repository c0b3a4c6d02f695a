"""Every change rekflow makes to moto's internals, applied and reverted in one place.

moto's Step Functions interpreter (a port of LocalStack's) runs the real ASL. These patches make it
answer as AWS does where the workflow depends on it (error names, atomic DynamoDB writes) and make
it fast enough for a laptop (one parse per definition, clients reused, no global-lock scans):

    with patched_moto(retry_time_scale=0.001):
        ...  # inside mock_aws

They were written against MOTO_VERSION and refuse any other: an upgrade must re-read each target
(tests/unit/test_moto_patches.py checks that every target still has the shape a patch relies on).
Patches are counted, so nested local runtimes share them and the last one out reverts them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any, ClassVar

import botocore.session

MOTO_VERSION = "5.2.5"

# AWS names aws-sdk integration errors "<Service>.<Code>" with the service in PascalCase
# (Rekognition.ThrottlingException, S3.NoSuchKeyException). moto only knows a few services
# and otherwise uses the lower-case name from the ARN, which no Retry or Catch would match.
AWS_SDK_ERROR_PREFIXES = {"rekognition": "Rekognition", "s3": "S3", "sns": "SNS", "sqs": "SQS",
                          "eventbridge": "EventBridge", "lambda": "Lambda"}

# The optimised integrations (dynamodb:, sns:, events:) run on the AWS SDK for Java v1, and Step
# Functions names their errors "<Prefix>.<exception class>": the modelled error's shape name with
# "Exception" appended where it lacks it (DynamoDB.RequestLimitExceededException), or the SDK's base
# class for an error the model does not know (DynamoDB.AmazonDynamoDBException for a
# ValidationException). Seen in recordings of AWS's answers (README, "Error names").
# moto names them "<Prefix>.<error code>" (DynamoDB.RequestLimitExceeded) or, for EventBridge,
# States.Runtime, which no Retry written for AWS would match.
JAVA_V1_NAMING = {
    # botocore service: (error prefix, the SDK's base exception class)
    "dynamodb": ("DynamoDB", "AmazonDynamoDBException"),
    "sns": ("SNS", "AmazonSNSException"),
    "events": ("EventBridge", "AmazonEventBridgeException"),
}
_JAVA_V1_SERVICES = {
    # moto's integration class: (botocore service, service label in causes)
    "StateTaskServiceDynamoDB": ("dynamodb", "AmazonDynamoDBv2"),
    "StateTaskServiceSns": ("sns", "AmazonSNS"),
    "StateTaskServiceEvents": ("events", "AmazonEventBridge"),
}

_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"


@dataclass
class Patch:
    """Replace `owner.name` with `replacement` while the patches are applied."""

    owner: Any
    name: str
    replacement: Any
    original: Any = None


class _State:
    lock = threading.Lock()
    depth = 0
    applied: ClassVar[list[Patch]] = []
    retry_time_scale = 1.0


def patches() -> list[Patch]:
    """Every patch, built fresh against the moto modules as they are now."""
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.models import DynamoDBBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path

    aws_sdk = importlib.import_module(f"{_SERVICE}.state_task_service_aws_sdk")
    found = [
        Patch(aws_sdk, "_SERVICE_ERROR_NAMES", {**aws_sdk._SERVICE_ERROR_NAMES, **AWS_SDK_ERROR_PREFIXES}),
        # The interpreter sleeps between Retry attempts with time.sleep; only its module's view of time changes.
        Patch(retrier_decl, "time", SimpleNamespace(sleep=_scaled_sleep)),
        Patch(AmazonStateLanguageParser, "parse", staticmethod(_parsed_once(AmazonStateLanguageParser.parse))),
        Patch(json_path, "parse", _jsonpath_once(json_path.parse)),
        Patch(BackendDict, "_create_account_specific_backend",
              _known_accounts_fast(BackendDict._create_account_specific_backend)),
    ]
    for module_name, class_name in (("state_task_service_dynamodb", "StateTaskServiceDynamoDB"),
                                    ("state_task_service_sns", "StateTaskServiceSns"),
                                    ("state_task_service_events", "StateTaskServiceEvents")):
        integration = getattr(importlib.import_module(f"{_SERVICE}.{module_name}"), class_name)
        found.append(Patch(integration, "_from_error",
                           _java_v1_from_error(integration._from_error, *_JAVA_V1_SERVICES[class_name])))
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        found.append(Patch(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name))))
    # moto's interpreter imports boto_client_for by name into each integration module.
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("moto.stepfunctions.parser")]:
        if getattr(module, "boto_client_for", None) is not None:
            found.append(Patch(module, "boto_client_for", _reused_client(module.boto_client_for)))
    return found


@contextlib.contextmanager
def patched_moto(retry_time_scale: float = 1.0) -> Iterator[None]:
    """Apply every patch (once, however deeply nested) for the duration of the block."""
    installed = version("moto")
    if installed != MOTO_VERSION:
        raise RuntimeError(f"rekflow's moto patches were written for moto {MOTO_VERSION}, not {installed}: "
                           "re-check each target in rekflow/local/engine.py and update MOTO_VERSION")
    with _State.lock:
        _State.retry_time_scale = retry_time_scale
        if _State.depth == 0:
            _load_integrations()
            _State.applied = patches()
            for patch in _State.applied:
                patch.original = getattr(patch.owner, patch.name)
                setattr(patch.owner, patch.name, patch.replacement)
        _State.depth += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.depth -= 1
            if _State.depth == 0:
                for patch in reversed(_State.applied):
                    setattr(patch.owner, patch.name, patch.original)
                _State.applied = []
                _clients.clear()


def _scaled_sleep(seconds: float) -> None:
    time.sleep(seconds * _State.retry_time_scale)


def _load_integrations() -> None:
    """Import every integration module, so each one's boto_client_for is there to patch."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory

    del state_task_service_factory  # importing it imports every integration


# ---------------------------------------------------------------- error names
@functools.cache
def _modelled_errors(service: str) -> dict[str, str]:
    """Error code → exception shape name, from botocore's model of the service."""
    model = botocore.session.get_session().get_service_model(service)
    return {shape.error_code: shape.name for shape in model.error_shapes}


def exception_name(prefix: str, shape: str) -> str:
    """Step Functions' name for a modelled error: the SDK's class, which always ends in "Exception"."""
    return f"{prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"


def modelled_exception_names(service: str, prefix: str) -> set[str]:
    """Every name Step Functions can give a modelled error of `service` under `prefix`."""
    return {exception_name(prefix, shape) for shape in _modelled_errors(service).values()}


def java_v1_error_name(service: str, code: str) -> str:
    prefix, base = JAVA_V1_NAMING[service]
    shape = _modelled_errors(service).get(code)
    return exception_name(prefix, shape) if shape else f"{prefix}.{base}"


def _java_v1_from_error(original: Any, service: str, label: str) -> Any:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        code = ex.response["Error"]["Code"]
        error = java_v1_error_name(service, code)
        metadata = ex.response.get("ResponseMetadata", {})
        cause = (f"{ex.response['Error'].get('Message', '')} (Service: {label}; Status Code: "
                 f"{metadata.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {metadata.get('RequestId')}; "
                 "Proxy: null)")
        details = TaskFailedEventDetails(error=error, cause=cause, resource=self._get_sfn_resource(),
                                         resourceType=self._get_sfn_resource_type())
        return FailureEvent(env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.TaskFailed,
                            event_details=EventDetails(taskFailedEventDetails=details))

    return from_error


# ---------------------------------------------------------------- DynamoDB writes
_DYNAMODB_WRITE_LOCK = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    """A DynamoDB write applied atomically, as DynamoDB applies it.

    moto applies an UpdateItem as read, change, store without a lock: two branches adding their
    task tokens to one job's item at the same moment lost one of them (two executions of one
    upload, each parking on the shared JobId), and that branch then waited out its timeout.
    """

    @functools.wraps(method)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_WRITE_LOCK:
            return method(self, *args, **kwargs)

    return serialised


# ---------------------------------------------------------------- speed
_parse_lock = threading.Lock()
# Parsed definitions, kept across local runtimes: the same ASL is deployed by every test.
_parses: dict[str, Any] = {}


def _parsed_once(original: Callable[[str], Any]) -> Callable[[str], Any]:
    """moto parses the whole ASL with its pure-Python ANTLR parser when a state machine is created
    and again for every execution: about a second each time here, a fifth of a local execution and
    most of a test's set-up. Parse each definition once. The program's components keep no
    per-execution state: that lives in each execution's Environment."""

    def parse(definition: str) -> Any:
        with _parse_lock:  # ten executions starting at once wait for one parse instead of making ten
            if definition not in _parses:
                if len(_parses) >= 16:
                    _parses.clear()
                _parses[definition] = original(definition)
            return _parses[definition]

    return parse


def _jsonpath_once(original: Callable[[str], Any]) -> Callable[[str], Any]:
    """moto builds a new JSONPath parser (its yacc tables included) for every path it reads; a parsed
    path is immutable, so each one is parsed once."""
    return functools.lru_cache(maxsize=1024)(original)


def _known_accounts_fast(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto runs this on every backend lookup: it takes a global lock and scans a list of every
    service's BackendDict with `in`, which compares dicts by value. Once an account's backend
    exists, there is nothing to do."""

    def create_once(self: Any, account_id: str) -> None:
        if dict.__contains__(self, account_id):
            return
        original(self, account_id)

    return create_once


_clients: dict[tuple[int, str, str], Any] = {}
_clients_lock = threading.Lock()


def _reused_client(original: Callable[..., Any]) -> Callable[..., Any]:
    """One client per service and region for the interpreter, instead of one per task.

    Creating a botocore client copies the session's event hooks and builds an SSL context: a
    third of a local execution's time. Clients are thread-safe; keyed by the default session,
    so a new local runtime (a new session with its own hooks) gets new ones.
    """

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        import boto3

        key = (id(boto3._get_default_session()), region, service)
        with _clients_lock:
            if key not in _clients:
                _clients[key] = original(region=region, service=service, state_credentials=state_credentials)
            return _clients[key]

    return client_for


# ---------------------------------------------------------------- memory
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


def wait_for_execution(execution_arn: str, account_id: str, region: str, timeout: float) -> None:
    """Block until the execution has ended, watching moto's own record of it.

    Polling DescribeExecution through botocore from every waiting thread cost a tenth of the CPU of
    a folder run; reading the status attribute costs nothing.
    """
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    execution = stepfunctions_parser_backends[account_id][region].describe_execution(execution_arn)
    deadline = time.monotonic() + timeout
    while execution.exec_status is None or execution.exec_status.value == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still running after {timeout} s")
        time.sleep(0.01)
