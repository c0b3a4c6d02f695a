"""The offline rekflow: template.yaml's resources on moto, its ASL on moto's interpreter.

with LocalRuntime(backend="fixture") as runtime:
    upload = runtime.upload(Path("cat.jpg").read_bytes(), "photos/cat.jpg")
    result = runtime.run(runtime.object_created_event(upload))
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

import boto3
import botocore
import botocore.loaders
from moto import mock_aws
from moto.events.models import EventPattern

from rekflow import TEMPLATE_PATH
from rekflow.local import stack_reset, timings
from rekflow.local.event_sources import SqsPoller, sqs_event_sources
from rekflow.local.firehose import LocalFirehose
from rekflow.local.functions import LocalFunction, function_environment, load_functions
from rekflow.local.moto_patches import engine, histories
from rekflow.local.routing import Router
from rekflow.local.rule_targets import function_rules
from rekflow.local.s3_bucket_policies import S3BucketPolicies
from rekflow.local.s3_events import object_created_event, object_deleted_event
from rekflow.local.s3_permissions import S3ListPermissions
from rekflow.local.sandbox import FunctionSandboxes
from rekflow.local.service_faults import ServiceFaults
from rekflow.local.stack import LocalStack, deploy, entry_state_machine, functions_called
from rekflow.local.template import ACCOUNT_ID, PARTITION, REGION, Template
from rekflow.vision.backend import Backend, FaultInjectingBackend

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

# Settings that differ offline: no X-Ray daemon, no CloudWatch, schemas read from the repo.
LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass(frozen=True)
class Upload:
    key: str
    size: int
    etag: str
    version_id: str | None


@dataclass
class ExecutionResult:
    name: str
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    read_history: Callable[[], list[dict[str, Any]]] = field(repr=False)
    seconds: float = 0.0
    start_date: datetime | None = None
    stop_date: datetime | None = None

    @functools.cached_property
    def history(self) -> list[dict[str, Any]]:
        """The execution's events in GetExecutionHistory's shape (rekflow.local.moto_patches.histories), read on first
        use: read it before the execution is forgotten; a folder run only needs the output."""
        return self.read_history()

    def states_entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]

    def events_of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.history if e["type"] == event_type]


_clients: dict[tuple[int, str], Any] = {}


def client(service: str) -> Any:
    """A client of the local runtime's (moto) `service`, made once per boto3 default session.

    Making a client copies the session's hooks and loads the service model: reused, not remade per
    call. A new local runtime has a new default session (and new hooks), so it gets new clients.
    """
    key = (id(boto3._get_default_session()), service)
    if key not in _clients:
        _clients[key] = boto3.client(service)
    return _clients[key]


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> Any:
    return botocore.loaders.create_loader(search_path_string)


def _call_aws(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """A call a function made in its worker process, made here on the local stack."""
    answer: dict[str, Any] = getattr(client(service), botocore.xform_name(operation))(**params)
    return answer


def _runtime_s3() -> Any:
    return client("s3")


def make_backend(name: str, video_frames_per_second: float = 1.0, aws_bucket: str | None = None) -> Backend:
    """The vision backend called `name`: fixture (canned, instant), local (real models) or aws
    (Amazon Rekognition, with the caller's credentials; `aws_bucket` stages large images and videos)."""
    if name == "fixture":
        from rekflow.vision.fixture import FixtureBackend

        return FixtureBackend(_runtime_s3)
    if name == "local":
        from rekflow.vision.local import LocalModelsBackend

        return LocalModelsBackend(_runtime_s3, video_frames_per_second)
    if name == "aws":
        from rekflow.vision.aws import AwsRekognitionBackend

        return AwsRekognitionBackend(_runtime_s3, staging_bucket=aws_bucket)
    raise ValueError(f"unknown backend {name!r}")


class LocalRuntime:
    """Deploys template.yaml on moto and runs the MediaAnalysis state machine in this process."""

    def __init__(
        self,
        backend: str | Backend = "fixture",
        *,
        template_path: Path = TEMPLATE_PATH,
        parameter_overrides: dict[str, str] | None = None,
        retry_time_scale: float = 1.0,
        redelivery_seconds: float = 0.5,
        log_level: str = "WARNING",
        functions_in_process: bool | None = None,
    ) -> None:
        self.template = Template.load(template_path, parameter_overrides=parameter_overrides)
        self._backend_name = backend if isinstance(backend, str) else None  # reset() makes it anew
        inner = make_backend(backend) if isinstance(backend, str) else backend
        self.backend = FaultInjectingBackend(inner)
        self.retry_time_scale = retry_time_scale
        self.redelivery_seconds = redelivery_seconds
        self.pollers: dict[str, SqsPoller] = {}
        self.log_level = log_level
        # Each function in worker processes of its own, as Lambda runs it (rekflow.local.sandbox); in this
        # process for the tests that reach into a handler's module, and with REKFLOW_FUNCTIONS_IN_PROCESS=1
        # for a breakpoint in a handler.
        if functions_in_process is None:
            functions_in_process = os.environ.get("REKFLOW_FUNCTIONS_IN_PROCESS") == "1"
        self.sandboxes = None if functions_in_process else FunctionSandboxes(_call_aws)
        # A backend that calls AWS itself (aws) names what moto must let through.
        passthrough = inner.moto_passthrough() if hasattr(inner, "moto_passthrough") else {}
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": True},
                "core": {
                    "mock_credentials": True,
                    "reset_boto3_session": True,
                    "passthrough": {"urls": [], "services": [], **passthrough},
                },
            }
        )
        self._saved_environ: dict[str, str] | None = None
        self.stack: LocalStack

    def __enter__(self) -> LocalRuntime:
        timings.mark("deploy started")
        self._saved_environ = dict(os.environ)
        environment = function_environment(self.template)
        environment["SCHEMAS_DIR"] = str(self.template.path.parent / "schemas")
        environment["LOG_LEVEL"] = self.log_level
        # Metrics go to stdout as EMF on Lambda; offline they would only clutter the CLI's output.
        environment["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ.update({**environment, **LOCAL_ENVIRONMENT})
        if self.sandboxes is not None:
            self.sandboxes.start_fork_server()  # its imports overlap moto's patching and the deploy
        # Every botocore session made while the runtime runs (moto's new default session for each runtime, the
        # functions' own, such as Powertools' idempotency store's) reads the service models and endpoint
        # rules through one loader, which parses each file once per process, not once per session.
        self._loader_patch = mock.patch("botocore.session.create_loader", _shared_loader)
        self._loader_patch.start()
        self._mock.start()
        self._patches = engine.patched_moto(self.retry_time_scale)
        self._patches.__enter__()
        try:
            return self._deploy()
        except BaseException:
            # Left running, moto's mock would nest the next runtime inside this one, on its resources.
            self.__exit__(None, None, None)
            raise

    def _deploy(self) -> LocalRuntime:
        session = boto3._get_default_session()
        # Before the functions load: a client copies the session's hooks when it is made, and a handler makes its
        # clients as its module loads.
        self.firehose = LocalFirehose(self.template)
        self.firehose.install(session._session)
        functions = load_functions(self.template, self.sandboxes)
        if self.sandboxes is not None:
            # The entry machine's functions start in worker processes while this one deploys.
            entry_id, _ = entry_state_machine(self.template)
            called = [functions[self.template.physical_name(f)].spec for f in functions_called(self.template, entry_id)]
            self.sandboxes.prewarm([spec for spec in called if spec is not None])
        self._router = Router(functions, self.backend)
        self._router.install(session._session)
        self._s3_permissions = S3ListPermissions(self.template)
        self._s3_permissions.install(session._session)
        self.bucket_policies = S3BucketPolicies(self.template, lambda: client("s3"))
        self.bucket_policies.install(session._session)
        self._function_rules = function_rules(self.template)
        self.service_faults = ServiceFaults(session._session)
        self.stack = deploy(self.template, client)
        for source in sqs_event_sources(self.template):
            poller = SqsPoller(
                source,
                self.function(source.function_logical_id),
                self.stack.queue_urls[source.queue_logical_id],
                self.template.get_att(source.queue_logical_id, "Arn"),
                self.redelivery_seconds,
            )
            poller.start()
            self.pollers[source.function_logical_id] = poller
        timings.mark("deployed")
        return self

    def __exit__(self, *exc: object) -> None:
        timings.mark("closing")
        for poller in self.pollers.values():
            poller.stop()
        if self.sandboxes is not None:
            timings.record("cold_starts_ms", self.sandboxes.cold_starts)
            self.sandboxes.close()
        self.backend.close()
        # The service faults are installed last: a deploy that failed before them left its hooks only on the
        # default session, which stopping the mock discards.
        if hasattr(self, "service_faults"):
            session = boto3._get_default_session()._session
            self.service_faults.uninstall()
            self._s3_permissions.uninstall(session)
            self.bucket_policies.uninstall(session)
            self.firehose.uninstall(session)
            self._router.uninstall(session)
        self._patches.__exit__(None, None, None)
        _clients.clear()
        self._mock.stop()
        self._loader_patch.stop()
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
        timings.mark("closed")

    def reset(self, settle_seconds: float = 5.0) -> bool:
        """Empty the deployed stack for its next user without deploying again: every object, item, message
        and finished execution (rekflow.local.stack_reset), the planned service faults, the pollers'
        counts, and a new vision backend (no jobs, plans, faults or call counts). The functions stay
        warm, as Lambda keeps a container. False while an execution still runs, for a backend passed in
        as an object (it cannot be made anew), or when completions still arrive after `settle_seconds`:
        then only a fresh runtime is clean, and this one is fit only to be closed."""
        if self._backend_name is None or stack_reset.running_executions(client):
            return False
        self.backend.close()  # completions still held are dropped; jobs running finish and publish
        if not self._settled(settle_seconds):
            return False
        stack_reset.empty(client)
        self.backend = self._router.backend = FaultInjectingBackend(make_backend(self._backend_name))
        self.service_faults.clear()
        self.service_faults.failed.clear()
        self.firehose.clear()
        for poller in self.pollers.values():
            poller.reset_counts()
        return True

    def _settled(self, timeout: float) -> bool:
        """Wait until no poller is handing a batch over and their queues are empty."""
        deadline = time.monotonic() + timeout
        sqs = client("sqs")
        while any(p.delivering or any(stack_reset.queue_counts(sqs, p.queue_url)) for p in self.pollers.values()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def function(self, logical_id: str) -> LocalFunction:
        """The in-process Lambda function of template.yaml's resource `logical_id`."""
        return self._router.functions[self.template.physical_name(logical_id)]

    # ------------------------------------------------------------------ S3 side
    def upload(self, data: bytes, key: str) -> Upload:
        response = client("s3").put_object(Bucket=self.stack.media_bucket, Key=key, Body=data)
        return Upload(key, len(data), response["ETag"], response.get("VersionId"))

    def restore_version(self, key: str, version_id: str, data: bytes, tags: dict[str, str]) -> None:
        """Put an object version back under its own version id (S3 makes every id itself, so no API call can): a
        decision resumed on a fresh local stack tags the version its review names (rekflow.commands.review.folder)."""
        from moto.s3.models import s3_backends

        client("s3").put_object(Bucket=self.stack.media_bucket, Key=key, Body=data)
        stored = s3_backends[ACCOUNT_ID][PARTITION].get_object(self.stack.media_bucket, key)
        assert stored is not None, "put just now"
        stored._version_id = version_id  # S3 tags a version by its ARN, which holds the id: set it before tagging
        if tags:
            tag_set = [{"Key": name, "Value": value} for name, value in tags.items()]
            client("s3").put_object_tagging(
                Bucket=self.stack.media_bucket, Key=key, VersionId=version_id, Tagging={"TagSet": tag_set}
            )

    def read_denied_to(self, principal_arn: str | None, key: str, version_id: str | None) -> list[str]:
        """The Sids of the media bucket's policy statements that refuse `principal_arn` (None: anonymous) a
        GetObject of the version, as the local S3 enforces them (rekflow.local.s3_bucket_policies); empty: readable."""
        return self.bucket_policies.refused(self.stack.media_bucket, key, version_id, principal_arn)

    def delete_upload(self, upload: Upload) -> None:
        """Delete the uploaded version itself (a plain delete would only add a delete marker)."""
        version = {"VersionId": upload.version_id} if upload.version_id else {}
        client("s3").delete_object(Bucket=self.stack.media_bucket, Key=upload.key, **version)

    def delete_object(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        """Delete `key` as a user would, and return the "Object Deleted" event S3 sends for it: without a version,
        a delete marker on the versioned media bucket; with one, that version deleted for good."""
        if version_id is None:
            answer = client("s3").delete_object(Bucket=self.stack.media_bucket, Key=key)
            return object_deleted_event(self.stack.media_bucket, key, answer.get("VersionId"), "Delete Marker Created")
        client("s3").delete_object(Bucket=self.stack.media_bucket, Key=key, VersionId=version_id)
        return object_deleted_event(self.stack.media_bucket, key, version_id, "Permanently Deleted")

    def deliver(self, event: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
        """Hand an event to every function whose EventBridge rule in template.yaml matches it (rekflow.local.
        rule_targets): (function, payload, function error) of each, in template order."""
        return [
            (rule.function_logical_id, *self.function(rule.function_logical_id).invoke(event))
            for rule in self._function_rules
            if rule.matches(event)
        ]

    def object_created_event(self, upload: Upload, key_encoding: str = "raw") -> dict[str, Any]:
        return object_created_event(
            self.stack.media_bucket, upload.key, upload.size, upload.etag, upload.version_id, key_encoding=key_encoding
        )

    # ------------------------------------------------------------------ executions
    def start(self, event: dict[str, Any], name: str | None = None) -> str:
        """Start an execution as the template's EventBridge rule would, if the rule matches the event.

        An EventBridge target cannot name the execution: Step Functions generates a name for each
        delivery, so a duplicate delivery is a second execution, and so it is here (a UUID, like
        the generated names). Nothing in the workflow may rely on the name to deduplicate.
        """
        pattern = EventPattern.load(json.dumps(self.stack.object_created_pattern))
        if not pattern.matches_event(cast("EventMessageType", event)):  # S3's event, as EventBridge delivers it
            raise ValueError("the ObjectCreated rule in template.yaml does not match this event")
        return str(
            client("stepfunctions").start_execution(
                stateMachineArn=self.stack.state_machine_arn, name=name or str(uuid.uuid4()), input=json.dumps(event)
            )["executionArn"]
        )

    def wait(self, execution_arn: str, timeout: float = 300.0) -> ExecutionResult:
        engine.wait_for_execution(execution_arn, ACCOUNT_ID, REGION, timeout)
        sfn = client("stepfunctions")
        described = sfn.describe_execution(executionArn=execution_arn)
        engine.let_finished_threads_go()

        def read_history() -> list[dict[str, Any]]:
            return histories.execution_history(execution_arn)

        output = json.loads(described["output"]) if described.get("output") else None
        return ExecutionResult(
            described["name"],
            execution_arn,
            described["status"],
            output,
            described.get("error"),
            described.get("cause"),
            read_history,
            (described["stopDate"] - described["startDate"]).total_seconds(),
            described["startDate"],
            described["stopDate"],
        )

    def run(self, event: dict[str, Any], name: str | None = None, timeout: float = 300.0) -> ExecutionResult:
        """Start an execution and wait for its result; where ImageAnalysis (Express) handed a video to
        MediaAnalysis, the result is MediaAnalysis's."""
        result = self.wait(self.start(event, name), timeout)
        if result.output and "handedOverTo" in result.output:
            return self.wait(result.output["handedOverTo"], timeout)
        return result

    def definition_of(self, execution_arn: str) -> dict[str, Any]:
        """The ASL (substitutions applied) of the state machine that ran an execution."""
        sfn = client("stepfunctions")
        machine = sfn.describe_execution(executionArn=execution_arn)["stateMachineArn"]
        return dict(json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"]))

    def forget_execution(self, execution_arn: str) -> None:
        """Let a finished execution go (its history included), once its result has been read."""
        engine.forget_execution(execution_arn, ACCOUNT_ID, REGION)

    def replay(self, execution_arn: str, attempt: int = 1) -> ExecutionResult:
        """Run a finished execution's input again under a new name (moto has no RedriveExecution;
        on AWS, redrive resumes a FAILED execution from the state that failed)."""
        sfn = client("stepfunctions")
        described = sfn.describe_execution(executionArn=execution_arn)
        return self.run(json.loads(described["input"]), name=f"{described['name'][:60]}-replay-{attempt}")

    # ------------------------------------------------------------------ what the workflow left behind
    def results_document(self, results_key: str) -> dict[str, Any]:
        body = client("s3").get_object(Bucket=self.stack.results_bucket, Key=results_key)["Body"]
        return dict(json.loads(body.read()))

    def summary_items(self) -> list[dict[str, Any]]:
        table = boto3.resource("dynamodb").Table(self.stack.results_table)
        return list(table.scan()["Items"])

    def review_messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self._drain(self.stack.review_tap_url)]

    def analyzed_events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self._drain(self.stack.events_tap_url)]

    def _drain(self, queue_url: str) -> Iterator[str]:
        sqs = client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                yield message["Body"]
