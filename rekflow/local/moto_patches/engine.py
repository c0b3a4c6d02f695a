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
import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any, ClassVar

import botocore.session

from rekflow.local.moto_patches import asl_programs
from rekflow.local.moto_patches.error_names import java_v1_error_name
from rekflow.local.moto_patches.stopped_states import quiet_once_stopped

MOTO_VERSION = "5.2.5"

# AWS names aws-sdk integration errors "<Service>.<Code>" with the service in PascalCase
# (Rekognition.ThrottlingException, S3.NoSuchKeyException). moto only knows a few services
# and otherwise uses the lower-case name from the ARN, which no Retry or Catch would match.
AWS_SDK_ERROR_PREFIXES = {
    "rekognition": "Rekognition",
    "s3": "S3",
    "sns": "SNS",
    "sqs": "SQS",
    "eventbridge": "EventBridge",
    "lambda": "Lambda",
}

_JAVA_V1_SERVICES = {
    # moto's integration class: (botocore service, service label in causes)
    "StateTaskServiceDynamoDB": ("dynamodb", "AmazonDynamoDBv2"),
    "StateTaskServiceSns": ("sns", "AmazonSNS"),
    "StateTaskServiceEvents": ("events", "AmazonEventBridge"),
}

_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"


_QUIET_LOG = logging.getLogger("rekflow.local.moto_state_failures")
_QUIET_LOG.setLevel(logging.CRITICAL)


@dataclass
class Patch:
    """Replace `owner.name` with `replacement` while the patches are applied."""

    owner: Any
    name: str
    replacement: Any
    original: Any = None


_INHERITED = object()  # Patch.original of a method the owner inherits: reverting deletes the owner's copy


class _State:
    lock = threading.Lock()
    depth = 0
    applied: ClassVar[list[Patch]] = []
    retry_time_scale = 1.0


def patches() -> list[Patch]:
    """Every patch, built fresh against the moto modules as they are now."""
    from moto.core.base_backend import BackendDict
    from moto.dynamodb.responses import DynamoHandler
    from moto.events.models import Rule as EventsRule
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication as WorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend as Backend

    jsonpath_ng_ext = importlib.import_module("jsonpath_ng.ext")
    result_path = importlib.import_module("moto.stepfunctions.parser.asl.component.common.path.result_path")
    aws_sdk = importlib.import_module(f"{_SERVICE}.state_task_service_aws_sdk")
    eval_component = importlib.import_module("moto.stepfunctions.parser.asl.component.eval_component")
    found = [
        # moto logs, at ERROR and with its parse tree, every failure a state meets, a Choice's IsPresent probe of an
        # absent field or a caught Task error included; the execution history records each one already.
        Patch(eval_component, "LOG", _QUIET_LOG),
        Patch(aws_sdk, "_SERVICE_ERROR_NAMES", {**aws_sdk._SERVICE_ERROR_NAMES, **AWS_SDK_ERROR_PREFIXES}),
        # The interpreter sleeps between Retry attempts with time.sleep; only its module's view of time changes.
        Patch(retrier_decl, "time", SimpleNamespace(sleep=_scaled_sleep)),
        Patch(AmazonStateLanguageParser, "parse", staticmethod(_parsed_once(AmazonStateLanguageParser.parse))),
        # The parsed program kept across runs (asl_programs.py), where moto validates and where it runs a definition.
        Patch(Backend, "_validate_definition", staticmethod(_validated_once(Backend._validate_definition))),
        Patch(ExecutionWorker, "_get_evaluation_entrypoint", _kept_program),
        # moto's json_path imports parse from jsonpath_ng (not re-exported): the name its module looks up.
        Patch(json_path, "parse", _jsonpath_once(json_path.parse)),  # type: ignore[attr-defined]
        # EventBridge's input transformer (moto.events.utils.EventTemplateParser) imports jsonpath_ng.ext's parse
        # at each call, and parsed every path of every target again for every event: 7 % of a folder run's CPU.
        Patch(jsonpath_ng_ext, "parse", _jsonpath_once(jsonpath_ng_ext.parse)),
        # ResultPath imports jsonpath_ng's plain parse, and built a parser (yacc tables) for every state's result.
        Patch(result_path, "parse", _jsonpath_once(result_path.parse)),
        # A state whose branch was stopped while it ran ends quietly (stopped_states.py), with no made-up TaskFailed.
        Patch(ExecutionState, "_evaluate_with_timeout", quiet_once_stopped(ExecutionState._evaluate_with_timeout)),
        # Waiting for an execution to end is woken when one ends (wait_for_execution), instead of polling.
        Patch(WorkerCommunication, "terminated", _announced_end(WorkerCommunication.terminated)),
        Patch(
            BackendDict,
            "_create_account_specific_backend",
            _known_accounts_fast(BackendDict._create_account_specific_backend),
        ),
    ]
    for module_name, class_name in (
        ("state_task_service_dynamodb", "StateTaskServiceDynamoDB"),
        ("state_task_service_sns", "StateTaskServiceSns"),
        ("state_task_service_events", "StateTaskServiceEvents"),
    ):
        integration = getattr(importlib.import_module(f"{_SERVICE}.{module_name}"), class_name)
        found.append(
            Patch(
                integration, "_from_error", _java_v1_from_error(integration._from_error, *_JAVA_V1_SERVICES[class_name])
            )
        )
    # A Parallel branch or a Map iteration that fails hands its error name up as a custom name, which moto's
    # CustomErrorName refuses for a States.* name (States.DataLimitExceeded from a task in a branch): the
    # execution then failed as States.Runtime with that ValueError as its cause.
    for module_name in (
        "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl",
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker",
    ):
        found.append(Patch(importlib.import_module(module_name), "CustomErrorName", error_name_of))
    found.append(Patch(EventsRule, "send_to_targets", _with_sns_and_states_targets(EventsRule.send_to_targets)))
    # A task token is closed by its first outcome: moto let a second SendTaskSuccess overwrite the first.
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager

    found.append(Patch(CallbackPoolManager, "notify", _closed_once(CallbackPoolManager.notify)))
    found.append(_mediaconvert_patch())
    found.append(Patch(DynamoHandler, "call_action", _serialised(DynamoHandler.call_action)))
    found.extend(_distributed_map_patches())
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
        raise RuntimeError(
            f"rekflow's moto patches were written for moto {MOTO_VERSION}, not {installed}: "
            "re-check each target in rekflow/local/moto_patches/engine.py and update MOTO_VERSION"
        )
    with _State.lock:
        _State.retry_time_scale = retry_time_scale
        if _State.depth == 0:
            _load_integrations()
            _State.applied = patches()
            for patch in _State.applied:
                # What the owner itself holds (a staticmethod as such; _INHERITED for a method it inherits), so
                # the revert puts back exactly that.
                patch.original = vars(patch.owner).get(patch.name, _INHERITED)
                setattr(patch.owner, patch.name, patch.replacement)
        _State.depth += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.depth -= 1
            if _State.depth == 0:
                for patch in reversed(_State.applied):
                    if patch.original is _INHERITED:
                        delattr(patch.owner, patch.name)
                    else:
                        setattr(patch.owner, patch.name, patch.original)
                _State.applied = []
                _clients.clear()


def _scaled_sleep(seconds: float) -> None:
    time.sleep(seconds * _State.retry_time_scale)


def _load_integrations() -> None:
    """Import every integration module, so each one's boto_client_for is there to patch."""
    _batch_package_without_its_models()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory

    del state_task_service_factory  # importing it imports every integration


def _batch_package_without_its_models() -> None:
    """moto.batch, imported without running its __init__, which imports moto.batch.models and so all of moto.ec2.

    moto's AWS Batch integration (which every parse imports, with every other integration) imports
    moto.batch.utils for one enum; Python runs moto/batch/__init__.py first, and its one line,
    `from .models import batch_backends`, imported moto.ec2: 0.6 s of `rekflow analyze`'s start for a
    service the workflow never calls. The package is made as the import system would make it, its
    __init__ left for later: `batch_backends` (all that __init__ defines) is imported on first use, and
    its submodules import as they always do."""
    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    assert spec is not None and spec.submodule_search_locations is not None
    package = importlib.util.module_from_spec(spec)

    def models_attribute(name: str) -> Any:  # PEP 562: looked up only for a name the package lacks
        if name == "batch_backends":
            return importlib.import_module("moto.batch.models").batch_backends
        raise AttributeError(f"module 'moto.batch' has no attribute {name!r}")

    package.__getattr__ = models_attribute  # type: ignore[method-assign]
    sys.modules["moto.batch"] = package
    importlib.import_module("moto").batch = package  # type: ignore[attr-defined]


# ---------------------------------------------------------------- error names
def error_name_of(error_name: str) -> Any:
    """moto's ErrorName for an error a failed branch or iteration passes on: a States.* name stays the States
    error it is (terminal States.DataLimitExceeded, States.Runtime...), any other name is a custom one.

    "States MAY report errors with other names, which MUST NOT begin with the prefix 'States.'" (Amazon
    States Language, Errors, https://states-language.net/spec.html#error-names): the prefix is reserved
    for the interpreter's own errors, so a name with it was the interpreter's, and is passed through."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName

    if not (isinstance(error_name, str) and error_name.startswith("States.")):
        return CustomErrorName(error_name=error_name)
    try:
        return StatesErrorName.from_name(error_name)
    except ValueError:  # a States.* name moto's grammar lacks: kept under its own name all the same
        return ErrorName(error_name=error_name)


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
        cause = (
            f"{ex.response['Error'].get('Message', '')} (Service: {label}; Status Code: "
            f"{metadata.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {metadata.get('RequestId')}; "
            "Proxy: null)"
        )
        details = TaskFailedEventDetails(
            error=error, cause=cause, resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type()
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            # moto's EventDetails is a total TypedDict; moto itself builds it with the one key that applies.
            event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]
        )

    return from_error


# ---------------------------------------------------------------- MediaConvert
def _mediaconvert_patch() -> Patch:
    """arn:aws:states:::mediaconvert:createJob(.sync) runs rekflow's integration (moto_patches/mediaconvert_sync.py):
    moto 5.2.5 builds an unsupported-service task for it, which refuses .sync."""
    factory = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_factory"
    )
    original = factory.state_task_service_for

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "mediaconvert":
            from rekflow.local.moto_patches.mediaconvert_sync import StateTaskServiceMediaConvert

            return StateTaskServiceMediaConvert()
        return original(service_name)

    return Patch(factory, "state_task_service_for", state_task_service_for)


# ---------------------------------------------------------------- DynamoDB requests
_DYNAMODB_LOCK = threading.RLock()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    """A DynamoDB request handled atomically, as DynamoDB applies it: the backend's operation and the serialising of
    its answer, one request at a time.

    moto applies an UpdateItem as read, change, store without a lock: two branches adding their task tokens to one
    job's item at the same moment lost one of them (two executions of one upload, each parking on the shared JobId),
    and that branch then waited out its timeout. And a read hands the live item to the response, which serialises it
    after the backend has returned: a Scan or GetItem of the summary item while the review workflow's UpdateItem,
    on another thread, added ReviewTaskToken to it failed with "dictionary changed size during iteration" (CI,
    test_write_path, 2026-12-02; then a GetItem in test_review, the lock then being on the backend's methods alone).
    """

    @functools.wraps(method)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
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


def _validated_once(original: Callable[[str], None]) -> Callable[[str], None]:
    """A definition whose program exists (here or on disk) parsed before: it is valid. One that does not
    parse goes through moto's own validation, which raises InvalidDefinition as moto words it."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    def validate(definition: str) -> None:
        try:
            asl_programs.program_of(definition, AmazonStateLanguageParser.parse)
        except Exception:
            original(definition)

    return validate


def _kept_program(self: Any) -> Any:
    """ExecutionWorker._get_evaluation_entrypoint: the program of the execution's definition, parsed once."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = self._evaluation_details.state_machine_details.definition
    return asl_programs.program_of(definition, AmazonStateLanguageParser.parse)


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


# ---------------------------------------------------------------- Distributed Map and nested executions
# The backfill (statemachines/backfill.asl.json) runs a Distributed Map over an S3 listing whose items each start
# a MediaAnalysis execution with states:startExecution.sync:2. moto 5.2.5 runs Distributed Maps, but differs from
# AWS where the backfill depends on it; each patch below names the AWS behaviour and its source.
_DMAP = "moto.stepfunctions.parser.asl.component.state.exec.state_map"


def _distributed_map_patches() -> list[Patch]:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend as Backend

    sfn = importlib.import_module(f"{_SERVICE}.state_task_service_sfn").StateTaskServiceSfn
    reader = importlib.import_module(f"{_DMAP}.item_reader.eval.resource_eval_s3").ResourceEvalS3
    writer = importlib.import_module(f"{_DMAP}.result_writer.resource_eval.resource_eval_s3").ResourceEvalS3
    worker = importlib.import_module(
        f"{_DMAP}.iteration.itemprocessor.distributed_item_processor_worker"
    ).DistributedItemProcessorWorker
    iteration = importlib.import_module(
        f"{_DMAP}.iteration.distributed_iteration_component"
    ).DistributedIterationComponent
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    return [
        Patch(Preprocessor, "visitAssign_template_value_terminal_string_literal", _decoded_template_literal),
        Patch(Backend, "start_execution", _named_execution(Backend.start_execution)),
        Patch(Backend, "describe_map_run", _describe_map_run_of_started_executions),
        Patch(Backend, "list_map_runs", _map_runs_once_started(Backend.list_map_runs)),
        Patch(sfn, "_normalise_parameters", _sfn_request_members(sfn._normalise_parameters)),
        Patch(sfn, "_normalise_response", _sfn_result_fields),
        Patch(sfn, "_build_sync2_resolver", _child_awaited(sfn._build_sync2_resolver)),
        Patch(reader, "eval_resource", _every_listed_object(reader.eval_resource)),
        Patch(worker, "_eval_input", _item_input_kept(worker._eval_input)),
        Patch(worker, "_eval_job", _item_result_kept(worker._eval_job)),
        Patch(worker, "_eval_pool", _jobs_in_a_loop),
        Patch(iteration, "_map_run", _failure_threshold_enforced(iteration._map_run)),
        Patch(writer, "eval_resource", _map_run_results_written(writer.eval_resource)),
    ]


def _decoded_template_literal(self: Any, ctx: Any) -> Any:
    """A string in ItemSelector (or Assign) is a JSON string: "\\n" in the definition is a line break. moto keeps
    such a literal's escapes as written (a backslash and an n), as it does not in Parameters."""
    from moto.stepfunctions.parser.asl.antlt4utils.antlr4utils import from_string_literal
    from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_terminal import (
        AssignTemplateValueTerminalLit,
    )

    return AssignTemplateValueTerminalLit(value=from_string_literal(ctx.string_literal()))


def _named_execution(start_execution: Callable[..., Any]) -> Callable[..., Any]:
    """StartExecution without a name: Step Functions names the execution with a generated UUID (StartExecution,
    `name`: https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html). moto's
    interpreter backend names it "None", so a second unnamed start (every item of a Distributed Map starting a
    child) fails with ExecutionAlreadyExists."""
    import uuid

    def start(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return start_execution(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start


def _describe_map_run_of_started_executions(self: Any, map_run_arn: str) -> dict[str, Any]:
    """DescribeMapRun, looking only at executions whose worker has set up its environment: moto looks through
    every execution and fails (AttributeError) on one started a moment ago, such as a Map item's child."""
    from moto.stepfunctions.parser.api import ResourceNotFound

    for execution in self._get_executions():
        env = execution.exec_worker.env if execution.exec_worker is not None else None
        map_run = env.map_run_record_pool_manager.get(map_run_arn) if env is not None else None
        if map_run is not None:
            return dict(map_run.describe())
    # mypy is right: moto's ResourceNotFound takes a message, so this raises TypeError (as moto's own
    # DescribeMapRun does); kept as it is, as the type checking changes no behaviour.
    raise ResourceNotFound()  # type: ignore[call-arg]


def _map_runs_once_started(list_map_runs: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """ListMapRuns of an execution started a moment ago is empty; moto fails (AttributeError) until its worker
    has set up its environment."""

    def list_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        execution = self.describe_execution(execution_arn=execution_arn)
        if execution.exec_worker is None or execution.exec_worker.env is None:
            return {"mapRuns": []}
        return list_map_runs(self, execution_arn)

    return list_runs


@functools.cache
def _api_shapes(service: str, operation: str) -> tuple[Any, Any]:
    """(input shape, output shape) of a botocore operation named as moto names it (start_execution)."""
    model = botocore.session.get_session().get_service_model(service)
    (name,) = [op for op in model.operation_names if botocore.xform_name(op) == operation]
    operation_model = model.operation_model(name)
    return operation_model.input_shape, operation_model.output_shape


def _sfn_request_members(normalise: Callable[..., None]) -> Callable[..., None]:
    """The states: integration takes the API's fields in PascalCase (StateMachineArn, Input, Name: "Start Workflow
    Executions from a Task State", https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html)
    and calls the Step Functions API, whose members are camelCase (stateMachineArn). moto passes the PascalCase
    names to botocore, which refuses them: each is renamed to the API member it stands for."""

    def normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        normalise(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None:
            input_shape, _ = _api_shapes("stepfunctions", self._get_boto_service_action())
            members = {member.lower(): member for member in input_shape.members}
            for field in list(parameters):
                member = members.get(field.lower())
                if member is not None and member != field:
                    parameters[member] = parameters.pop(field)

    return normalise_parameters


def _sfn_result_fields(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    """What the states: integration returns carries the API's fields in PascalCase: ExecutionArn and StartDate for
    startExecution, the DescribeExecution fields (Status, Output, OutputDetails.Included...) for .sync:2 (same
    page as above). moto returns botocore's camelCase; renamed here along the API's output shape, so the child's
    own Input and Output, JSON values in .sync:2, keep their keys."""
    operation = service_action_name or self._get_boto_service_action()
    _, output_shape = _api_shapes("stepfunctions", operation)
    if isinstance(response, dict):
        _pascal_case_members(response, output_shape)


def _pascal_case_members(value: dict[str, Any], shape: Any) -> None:
    """Renamed in place; a timestamp becomes epoch milliseconds, as the Java SDK the optimised integrations run
    on writes a date (assumed: nothing in rekflow reads these dates), where moto left a datetime that its own
    DescribeExecution cannot serialise."""
    from datetime import datetime

    for member, member_shape in shape.members.items():
        if member in value:
            inner = value.pop(member)
            if member_shape.type_name == "structure" and isinstance(inner, dict):
                _pascal_case_members(inner, member_shape)
            if member_shape.type_name == "timestamp" and isinstance(inner, datetime):
                inner = round(inner.timestamp() * 1000)
            value[member[0].upper() + member[1:]] = inner


def _child_awaited(build_resolver: Callable[..., Callable[[], Any]]) -> Callable[..., Callable[[], Any]]:
    """Speed: for startExecution.sync:2 moto calls DescribeExecution through botocore, and sleeps 0.5 s between
    calls, until the child ends; with dozens of children at once (a Distributed Map's) the calls and the sleeps
    were much of a backfill's time. Here each call first waits on moto's own record of the child (a status read
    every 20 ms, for at most SYNC_CHILD_WAIT_SECONDS, so a stopped parent still notices), then asks as before."""

    def build(
        self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict[str, Any], state_credentials: Any
    ) -> Callable[[], Any]:
        execution_arn = env.stack[-1]["ExecutionArn"]  # the started child, which build_resolver pops
        resolve = build_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        _, _, _, region, account_id, _ = execution_arn.split(":", 5)

        def resolve_once_ended() -> Any:
            _ended_within(execution_arn, account_id, region, SYNC_CHILD_WAIT_SECONDS, poll_seconds=0.02)
            return resolve()

        return resolve_once_ended

    return build


SYNC_CHILD_WAIT_SECONDS = 5.0


def _every_listed_object(eval_resource: Callable[..., None]) -> Callable[..., None]:
    """ItemReader over arn:aws:states:::s3:listObjectsV2: every object under the prefix, one item each, shaped
    {Etag, Key, LastModified (epoch seconds), Size, StorageClass} ("ItemReader (Map)", Amazon S3 objects:
    https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html). moto reads one page of
    ListObjectsV2 (1,000 keys at most), fails on a prefix with no objects (no "Contents"), and passes botocore's
    items (a datetime, "ETag"). Other ItemReader resources stay moto's."""

    def evaluate(self: Any, env: Any) -> None:
        if self.resource.api_action.lower() != "listobjectsv2":
            eval_resource(self, env)
            return
        s3, parameters = _s3_call(self, env)
        env.stack.append(
            [
                {
                    "Etag": listed["ETag"],
                    "Key": listed["Key"],
                    "LastModified": int(listed["LastModified"].timestamp()),
                    "Size": listed["Size"],
                    "StorageClass": listed.get("StorageClass", "STANDARD"),
                }
                for page in s3.get_paginator("list_objects_v2").paginate(**parameters)
                for listed in page.get("Contents", [])
            ]
        )

    return evaluate


# The item processor input (what ItemSelector made of the item) of the job running on this thread.
_item_input = threading.local()


def _item_input_kept(eval_input: Callable[..., None]) -> Callable[..., None]:
    """Keeps each child's input for its result record (below): moto does not keep it anywhere."""
    import copy

    def evaluate(self: Any, env_frame: Any) -> None:
        eval_input(self, env_frame)
        _item_input.value = copy.deepcopy(env_frame.states.get_input())

    return evaluate


def _item_result_kept(eval_job: Callable[..., None]) -> Callable[..., None]:
    """Records each item's child workflow as ResultWriter reports it: input, status, and its output or its error
    and cause. moto runs an item inline rather than as a child execution and keeps only the outputs of those that
    succeeded, so a failed item's error is otherwise lost."""
    from datetime import UTC, datetime

    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped

    def evaluate(self: Any, env: Any, job: Any) -> None:
        _item_input.value = job.job_input
        started = datetime.now(UTC)
        eval_job(self, env, job)
        state = env.program_state()
        result: dict[str, Any] = {
            "index": job.job_index,
            "input": _item_input.value,
            "started": started,
            "stopped": datetime.now(UTC),
        }
        if isinstance(state, ProgramError):
            error = state.error or {}
            result.update(status="FAILED", error=error.get("error"), cause=error.get("cause"))
        elif isinstance(state, ProgramStopped):
            result.update(status="ABORTED", error=state.error, cause=state.cause)
        elif job.job_output is None:
            result.update(status="FAILED", error="States.Runtime", cause="the item's workflow ended without output")
        else:
            result.update(status="SUCCEEDED", output=job.job_output)
        vars(self._map_run_record).setdefault("rekflow_item_results", []).append(result)

    return evaluate


def _jobs_in_a_loop(self: Any, job: Any, worker_frame: Any) -> None:
    """A Map Run worker takes its jobs one after another, as moto's worker does, in a loop: moto's calls itself
    once per job, so a worker given about 1,000 items (say 5,000 objects at MaxConcurrency 5) died of
    RecursionError and left its Map Run waiting for ever. The steps are moto's, in its order."""
    while True:
        if job is None:
            self._env.delete_frame(worker_frame)
            return
        job_frame = worker_frame.open_inner_frame()
        self._eval_job(env=job_frame, job=job)
        worker_frame.delete_frame(job_frame)
        if isinstance(job.job_output, Exception) or self.stopped():
            self._env.delete_frame(worker_frame)
            self._job_pool.close_job(job)
            return
        next_job = self._job_pool.next_job()
        if next_job is None:
            # Closed after the frame: a Map state waits for its jobs, not its workers.
            self._env.delete_frame(worker_frame)
            self._job_pool.close_job(job)
            return
        self._job_pool.close_job(job)
        job = next_job


def _failure_threshold_enforced(map_run: Callable[..., None]) -> Callable[..., None]:
    """A Map Run whose failed items exceed ToleratedFailurePercentage or ToleratedFailureCount fails with
    States.ExceedToleratedFailureThreshold; with neither set, one failed item fails it ("Setting failure thresholds
    for Distributed Map states": https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html#maprun-fail-threshold).
    moto evaluates both fields and ignores them: its Map Run always succeeds. Here the threshold is checked once
    every item has run (AWS stops the run as soon as it is crossed). moto reads an absent field as 0, so a field
    at 0 counts as unset when the other is set."""
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def run(self: Any, env: Any, eval_input: Any) -> None:
        map_run(self, env, eval_input)
        items = eval_input.map_run_record.item_counter
        failed, total = items.failed.get() + items.timed_out.get(), items.total.get()
        count, percentage = eval_input.tolerated_failure_count, eval_input.tolerated_failure_percentage
        over_count = failed > count and (count > 0 or not percentage)
        over_percentage = total > 0 and failed * 100 > percentage * total and (percentage > 0 or not count)
        if failed and (over_count or over_percentage):
            name = StatesErrorNameType.StatesExceedToleratedFailureThreshold
            cause = f"{failed} of {total} items failed; tolerated: {percentage}% or {count} item(s)"
            details = ExecutionFailedEventDetails(error=name.to_name(), cause=cause)
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=name),
                    event_type=HistoryEventType.MapRunFailed,
                    # moto's EventDetails is a total TypedDict; moto itself builds it with the one key that applies.
                    event_details=EventDetails(executionFailedEventDetails=details),  # type: ignore[typeddict-item]
                )
            )

    return run


def _map_run_results_written(eval_resource: Callable[..., None]) -> Callable[..., None]:
    """ResultWriter with arn:aws:states:::s3:putObject writes, under Prefix/<map run id>/, the child workflows'
    results by status (SUCCEEDED_0.json, FAILED_0.json: a JSON array of executions with their Input and Output,
    or Error and Cause, as JSON strings) and a manifest.json naming those files; the Map's output names the
    manifest ("ResultWriter (Map)": https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
    moto writes the manifest alone, with every list empty."""
    import json
    import uuid

    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    def _result_entry(child: dict[str, Any], execution_prefix: str, state_machine_arn: str) -> dict[str, Any]:
        name = str(uuid.uuid4())
        entry: dict[str, Any] = {
            "ExecutionArn": f"{execution_prefix}:{name}",
            "Name": name,
            "StateMachineArn": state_machine_arn,
            "Status": child["status"],
            "Input": to_json_str(child["input"]),
            "InputDetails": {"Included": True},
            "StartDate": child["started"].isoformat(),
            "StopDate": child["stopped"].isoformat(),
        }
        if child["status"] == "SUCCEEDED":
            entry.update(Output=to_json_str(child["output"]), OutputDetails={"Included": True})
        else:
            entry.update(Error=child.get("error"), Cause=child.get("cause"))
        return entry

    def evaluate(self: Any, env: Any) -> None:
        if self.resource.api_action.lower() != "putobject":
            eval_resource(self, env)
            return
        s3, parameters = _s3_call(self, env)
        env.stack.pop()  # the children's outputs: the records kept by _item_result_kept carry them, and more
        record = env.map_run_record_pool_manager.get_all()[-1]
        bucket, prefix = parameters["Bucket"], parameters.get("Prefix", "")
        folder = f"{prefix.rstrip('/')}/" if prefix else ""
        folder += record.map_run_arn.split(":")[-1]
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        children = sorted(vars(record).get("rekflow_item_results", []), key=lambda r: r["index"])
        execution_prefix = record.map_state_machine_arn.replace(":stateMachine:", ":execution:")
        for status in ("SUCCEEDED", "FAILED"):  # FAILED_n.json holds the aborted children too
            entries = [
                _result_entry(child, execution_prefix, record.map_state_machine_arn)
                for child in children
                if (child["status"] == "SUCCEEDED") == (status == "SUCCEEDED")
            ]
            if entries:
                key = f"{folder}/{status}_0.json"
                body = json.dumps(entries, default=str).encode("utf-8")
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                files[status].append({"Key": key, "Size": len(body)})
        manifest_key = f"{folder}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
        s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode("utf-8"))
        env.stack.append(
            {"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}
        )

    return evaluate


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
            # moto types the parser backend's executions as its plain backend's; the parser's hold their machine.
            snapshot = execution.state_machine  # type: ignore[attr-defined]
            with contextlib.suppress(ValueError):
                type(snapshot).instances_tracked.remove(snapshot)


def let_finished_threads_go() -> None:
    """moto's interpreter appends every thread it starts (about twenty per image execution) to a
    module list that nothing reads and nothing empties; each holds its execution's whole state.
    Dropping the finished ones keeps memory flat over thousands of executions."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    for thread in [t for t in TMP_THREADS if not t.is_alive()]:
        with contextlib.suppress(ValueError):  # another waiting thread dropped it first
            TMP_THREADS.remove(thread)


# Notified whenever an execution ends (moto's worker communication reports it terminated).
_ENDED = threading.Condition()


def _announced_end(terminated: Callable[[Any], None]) -> Callable[[Any], None]:
    def announce(self: Any) -> None:
        try:
            terminated(self)  # sets the execution's status
        finally:
            with _ENDED:
                _ENDED.notify_all()

    return announce


def wait_for_execution(execution_arn: str, account_id: str, region: str, timeout: float) -> None:
    """Block until the execution has ended, watching moto's own record of it.

    Polling DescribeExecution through botocore from every waiting thread cost a tenth of the CPU of
    a folder run; reading the status attribute costs nothing, and the wait is woken when an execution
    ends, so ten waiting threads no longer wake a hundred times a second each.
    """
    if not _ended_within(execution_arn, account_id, region, timeout, poll_seconds=0.1):
        raise TimeoutError(f"{execution_arn} still running after {timeout} s")


def _ended_within(execution_arn: str, account_id: str, region: str, seconds: float, poll_seconds: float) -> bool:
    """Whether the execution ends within `seconds`, watching moto's own record of it: looked at whenever an
    execution ends, and every `poll_seconds` (an end that is not announced, such as an abort)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    execution = stepfunctions_parser_backends[account_id][region].describe_execution(execution_arn)
    deadline = time.monotonic() + seconds
    with _ENDED:
        # moto types describe_execution's answer as its plain backend's Execution; the parser's has exec_status.
        while execution.exec_status is None or execution.exec_status.value == "RUNNING":  # type: ignore[attr-defined]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _ENDED.wait(min(poll_seconds, remaining))
    return True


def _s3_call(resource_eval: Any, env: Any) -> tuple[Any, Any]:
    """(S3 client, request parameters) of an ItemReader's or ResultWriter's S3 resource, evaluated the way moto's own
    resource evaluators do it (the resource pushes its parameters and then its runtime part)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials

    resource_eval.resource.eval(env=env)
    runtime_part = env.stack.pop()
    parameters = env.stack.pop()
    credentials = StateCredentials(role_arn=env.aws_execution_details.role_arn)
    return type(resource_eval)._get_s3_client(runtime_part, credentials), parameters


# ---------------------------------------------------------------- EventBridge rules
def _with_sns_and_states_targets(send_to_targets: Callable[..., None]) -> Callable[..., None]:
    """Deliver a matching event to a rule's SNS topic and Step Functions state machine targets, as EventBridge does
    (moto 5.2.5 raises NotImplementedError for both), applying the target's InputPath; other targets stay moto's.
    A state machine target starts an execution under a generated name, the input the event (or its InputPath), as
    EventBridge starts it (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html)."""
    import copy
    import json
    import uuid

    from moto.sns.models import sns_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.utilities.arns import parse_arn

    def send(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service in ("sns", "states")]
        if ours and self.event_pattern.matches_event(original_event):
            for target in ours:
                arn = parse_arn(target["Arn"])
                message = json.dumps(_input_path(original_event, target.get("InputPath", "$")))
                if arn.service == "sns":
                    sns_backends[arn.account][arn.region].get_topic(target["Arn"]).publish(message)
                else:
                    backend = stepfunctions_parser_backends[arn.account][arn.region]
                    backend.start_execution(target["Arn"], name=str(uuid.uuid4()), execution_input=message)
        rest = copy.copy(self)
        rest.targets = [t for t in self.targets if t not in ours]
        send_to_targets(rest, original_event, transform_input)

    return send


def _closed_once(notify: Callable[..., bool]) -> Callable[..., bool]:
    """The first outcome sent for a task token closes the task: a later SendTaskSuccess or SendTaskFailure with the
    token is refused with TaskTimedOut, "The task token has either expired or the task associated with the token has
    already been closed" (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
    moto 5.2.5 accepted every one, and the last overwrote the outcome the waiting task had not read yet: two
    reviewers deciding at once were both told yes."""
    import threading

    from moto.stepfunctions.parser.api import TaskTimedOut

    lock = threading.Lock()

    def closing(self: Any, callback_id: str, outcome: Any) -> bool:
        with lock:
            endpoint = self.get(callback_id)
            if endpoint is not None and endpoint.get_outcome() is not None:
                # Raised as the API's own error: moto's mapping of a consumer error to TaskTimedOut never matches.
                raise TaskTimedOut(
                    "The task token has either expired or the task associated with the token has already been closed.",
                    exception_type="TaskTimedOut",  # the error code: moto's own TaskTimedOut() answers with none
                )
            return bool(notify(self, callback_id, outcome))

    return closing


def _input_path(event: dict[str, Any], path: str) -> Any:
    """A target's InputPath: "$" or a dotted path such as "$.detail" (all rekflow's template uses)."""
    if path != "$" and not path.startswith("$."):
        raise NotImplementedError(f"InputPath {path!r}: only $ and $.a.b paths are emulated")
    value: Any = event
    for part in path.split(".")[1:]:
        value = value[part]
    return value
