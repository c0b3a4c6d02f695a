"""`rekflow executions`, `history`, `redrive` and `replay`, on a local run's results folder and on a
deployed stack (CloudFormation and Step Functions on moto; RedriveExecution, which moto lacks,
through botocore's Stubber, which checks each request against botocore's model)."""

from __future__ import annotations

import gzip
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws
from PIL import Image

from rekflow import cli
from rekflow.commands import EXIT_FAILED, EXIT_USAGE, analysis
from rekflow.commands.executions.aws import AwsError, DeployedStack, state_machine_logical_id
from rekflow.commands.executions.history import EXECUTION_ENDS
from rekflow.commands.executions.records import LocalExecutions
from rekflow.vision.backend import RekognitionError

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
DENIED = "User is not authorized to perform: rekognition:DetectText"


def _valid_history(document: dict[str, Any]) -> None:
    report = ParamValidator().validate(document, MODEL.operation_model("GetExecutionHistory").output_shape)
    assert not report.has_errors(), report.generate_report()


def _jpeg(path: Path, colour: tuple[int, int, int]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


class DeniesText:
    """A backend whose DetectText is refused (AccessDenied, not retried) for keys under denied/,
    as a role missing rekognition:DetectText would be: an operational fault that fails the execution."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name

    @property
    def video(self) -> Any:
        return self.inner.video

    def close(self) -> None:
        self.inner.close()

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "DetectText" and params["Image"]["S3Object"]["Name"].startswith("denied/"):
            raise RekognitionError("AccessDeniedException", DENIED)
        return self.inner.handle(operation, params)


def _rekflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def local_run(tmp_path, capsys, monkeypatch):
    """A `rekflow analyze` run of four files, one of which fails: (results folder, input folder).
    One's key starts with executions/, so its results document shares the folder of the records."""
    # The functions in worker processes, as by default: a sibling branch stopped as "Detect text" failed once
    # recorded a made-up TaskFailed (rekflow/local/moto_patches/stopped_states.py).
    monkeypatch.delenv("REKFLOW_FUNCTIONS_IN_PROCESS", raising=False)
    inputs, out = tmp_path / "in", tmp_path / "out"
    _jpeg(inputs / "ok.jpg", (200, 40, 40))
    _jpeg(inputs / "executions" / "shot.jpg", (40, 40, 200))
    _jpeg(inputs / "denied" / "photo.jpg", (40, 200, 40))
    (inputs / "notes.txt").write_text("not media", encoding="utf-8")
    real_backend = analysis.make_backend
    with monkeypatch.context() as patched:
        patched.setattr(analysis, "make_backend", lambda *a, **k: DeniesText(real_backend(*a, **k)))
        code, _, _ = _rekflow(capsys, "analyze", "--backend", "fixture", "--output", str(out), str(inputs))
    assert code == EXIT_FAILED
    return out, inputs


def test_a_failed_local_execution_can_be_found_read_and_replayed(local_run, capsys, monkeypatch):
    out, inputs = local_run
    # Found: every execution listed, the failed one with its object, failing state and error
    code, printed, _ = _rekflow(capsys, "executions", "--output", str(out), "--json")
    rows = {row["key"]: row for row in map(json.loads, printed.splitlines())}
    assert code == 0 and set(rows) == {"ok.jpg", "denied/photo.jpg", "notes.txt", "executions/shot.jpg"}
    assert (out / "executions" / "shot.jpg.json").is_file()  # a results document, not taken for a record
    failed = rows["denied/photo.jpg"]
    assert (failed["status"], failed["failedState"], failed["error"]) == (
        "FAILED",
        "Detect text",
        "Rekognition.AccessDeniedException",
    )
    assert DENIED in failed["cause"]
    assert (rows["notes.txt"]["status"], rows["notes.txt"]["outcome"], rows["notes.txt"]["reason"]) == (
        "SUCCEEDED",
        "REJECTED",
        "NOT_MEDIA",
    )
    assert rows["ok.jpg"]["failedState"] is None and rows["ok.jpg"]["outcome"] == "SUCCEEDED"
    code, printed, _ = _rekflow(capsys, "executions", "--output", str(out), "--status", "FAILED", "--json")
    assert [json.loads(line)["name"] for line in printed.splitlines()] == [failed["name"]]

    # Read: the history in GetExecutionHistory's shape, starting from the event the upload sent
    record = json.loads((out / "executions" / f"{failed['name']}.json").read_text(encoding="utf-8"))
    assert record["input"]["detail"]["object"]["key"] == "denied/photo.jpg"
    assert record["file"] == str((inputs / "denied" / "photo.jpg").resolve())
    code, printed, _ = _rekflow(capsys, "history", failed["name"][:8], "--output", str(out), "--json")
    history = json.loads(printed)
    _valid_history(history)
    events = history["events"]
    assert events[0]["type"] == "ExecutionStarted"
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == record["input"]
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "Rekognition.AccessDeniedException"
    ]
    assert [e["executionFailedEventDetails"]["error"] for e in events if e["type"] == "ExecutionFailed"] == [
        "Rekognition.AccessDeniedException"
    ]
    monkeypatch.setenv("COLUMNS", "200")  # the table's lines whole
    code, printed, _ = _rekflow(capsys, "history", failed["name"], "--output", str(out))
    assert code == 0
    assert "Detect text" in printed and "task failed" in printed and "Rekognition.AccessDeniedException" in printed

    # Redriven: not locally, said plainly, with the commands that do work
    before = sorted(p.name for p in (out / "executions").iterdir())
    code, printed, said = _rekflow(capsys, "redrive", failed["name"], "--output", str(out))
    assert code == EXIT_USAGE and printed == ""
    assert "redrive needs AWS" in said and "'Detect text'" in said
    assert f"rekflow redrive {failed['name']} --stack STACK" in said
    assert f"rekflow replay {failed['name']} --output {out}" in " ".join(said.split())
    assert sorted(p.name for p in (out / "executions").iterdir()) == before  # nothing ran

    # Replayed: the same file uploaded again (a new version id), as a new execution that now succeeds
    code, printed, said = _rekflow(capsys, "replay", failed["name"], "--output", str(out), "--json")
    line = json.loads(printed)
    assert code == 0 and (line["key"], line["status"]) == ("denied/photo.jpg", "SUCCEEDED")
    assert line["execution"] != failed["name"] and f"as {line['execution']}" in said
    replay = json.loads((out / "executions" / f"{line['execution']}.json").read_text(encoding="utf-8"))
    assert replay["replayOf"] == failed["name"] and replay["status"] == "SUCCEEDED"
    assert replay["input"]["detail"]["object"]["key"] == record["input"]["detail"]["object"]["key"]
    assert replay["input"]["detail"]["object"]["size"] == record["input"]["detail"]["object"]["size"]
    assert replay["input"]["detail"]["object"]["version-id"] != record["input"]["detail"]["object"]["version-id"]
    assert (
        json.loads((out / "denied" / "photo.jpg.json").read_text(encoding="utf-8"))["execution"]["name"]
        == line["execution"]
    )


def _kept_events(out: Path, name: str) -> list[dict[str, Any]]:
    events = LocalExecutions(out).history(name)
    assert events is not None, f"no history kept for {name}"
    return events


def _with_data(events: list[dict[str, Any]]) -> bool:
    return any("input" in e.get("stateEnteredEventDetails", {}) for e in events)


def test_every_execution_keeps_its_history_a_clean_one_without_its_data(local_run, capsys):
    out, _ = local_run
    rows = [json.loads(line) for line in _rekflow(capsys, "executions", "--output", str(out), "--json")[1].splitlines()]
    # One file holds the run's histories, a line each
    (histories,) = (out / "executions").glob("histories-*.jsonl.gz")
    assert len(gzip.decompress(histories.read_bytes()).splitlines()) == len(rows)
    # GIVEN the failed run's history and a clean one's
    for row in rows:
        events = _kept_events(out, row["name"])
        _valid_history({"events": events})
        assert _with_data(events) == (row["status"] == "FAILED"), row  # the states' inputs, where they explain
        ends = [e["type"] for e in events if e["type"] in EXECUTION_ENDS]
        assert ends == ["ExecutionFailed" if row["status"] == "FAILED" else "ExecutionSucceeded"]

    # WHEN the clean one is read, THEN its events are there, and where its results are is said
    clean = next(row["name"] for row in rows if row["key"] == "ok.jpg")
    code, printed, said = _rekflow(capsys, "history", clean[:8], "--output", str(out))
    assert code == 0 and "execution succeeded" in printed and "Detect labels" in printed
    assert "--history-data" in said and f"{out}/ok.jpg.json" in " ".join(said.split())

    # A record from before every history was kept: said so, with the command that runs it again
    record_path = out / "executions" / f"{clean}.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    del record["historyFile"]
    record_path.write_text(json.dumps(record), encoding="utf-8")
    code, printed, said = _rekflow(capsys, "history", clean, "--output", str(out))
    assert code == EXIT_FAILED and printed == "" and f"rekflow replay {clean}" in " ".join(said.split())


def test_history_answers_for_a_plain_analyze(tmp_path, capsys, monkeypatch):
    # GIVEN a plain `rekflow analyze` of one photo, the functions in their own processes as by default
    monkeypatch.delenv("REKFLOW_FUNCTIONS_IN_PROCESS", raising=False)
    _jpeg(tmp_path / "in" / "photo.jpg", (120, 90, 30))
    out = tmp_path / "out"
    assert _rekflow(capsys, "analyze", "--backend", "fixture", "--output", str(out), str(tmp_path / "in"))[0] == 0
    # WHEN its execution, as `rekflow executions` lists it, is read
    code, printed, _ = _rekflow(capsys, "executions", "--output", str(out))
    (row,) = [line for line in printed.splitlines() if "photo.jpg" in line]
    name = next(word for word in row.split() if len(word) == 36)
    code, printed, _ = _rekflow(capsys, "history", name, "--output", str(out), "--json")
    # THEN its history answers, whole from ExecutionStarted to ExecutionSucceeded
    events = json.loads(printed)["events"]
    _valid_history({"events": events})
    assert code == 0 and (events[0]["type"], events[-1]["type"]) == ("ExecutionStarted", "ExecutionSucceeded")
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert {"Validate object", "Detect labels", "Build results"} <= set(entered)
    assert not _with_data(events)

    # --history-data keeps a clean run's inputs and outputs; --keep-history, its former name, still does
    for flag in ("--history-data", "--keep-history"):
        every = tmp_path / flag
        assert (
            _rekflow(capsys, "analyze", "--backend", "fixture", flag, "--output", str(every), str(tmp_path / "in"))[0]
            == 0
        )
        (row,) = map(json.loads, _rekflow(capsys, "executions", "--output", str(every), "--json")[1].splitlines())
        code, printed, said = _rekflow(capsys, "history", row["name"], "--output", str(every))
        assert code == 0 and said == "" and _with_data(_kept_events(every, row["name"]))


def test_an_unknown_or_ambiguous_name_is_a_usage_error(local_run, capsys):
    out, _ = local_run
    code, _, said = _rekflow(capsys, "history", "no-such-execution", "--output", str(out))
    assert code == EXIT_USAGE and "matches no execution" in said
    code, _, said = _rekflow(capsys, "replay", "", "--output", str(out))
    assert code == EXIT_USAGE and "matches several executions" in said


# ---------------------------------------------------------------------------------- a deployed stack
# A small state machine runs on moto's Step Functions; CloudFormation's DescribeStackResource answers
# through a Stubber (moto's CloudFormation needs moto[cloudformation]'s extra packages: pydantic,
# openapi-spec-validator, docker...), which checks the request and the answer against botocore's model.
STACK = "rekflow-test"
DEFINITION = {
    "StartAt": "Validate object",
    "States": {
        "Validate object": {"Type": "Pass", "Next": "Read object"},
        "Read object": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket.$": "$.detail.bucket.name", "Key.$": "$.detail.object.key"},
            "ResultSelector": {"size.$": "$.ContentLength"},
            "End": True,
        },
    },
}


def _object_created(key: str) -> str:
    return json.dumps(
        {
            "detail-type": "Object Created",
            "source": "aws.s3",
            "detail": {"bucket": {"name": "media"}, "object": {"key": key, "size": 5}},
        }
    )


class _StackSession(boto3.session.Session):
    """A session whose CloudFormation knows one stack, STACK, holding `machine_arn` under the
    template's logical id (as SAM deploys it: AWS::StepFunctions::StateMachine, the ARN its physical
    id), and answers a question about `asked_for`, any other stack, with CloudFormation's ValidationError."""

    def __init__(self, machine_arn: str, asked_for: str) -> None:
        super().__init__()
        self.machine_arn, self.asked_for = machine_arn, asked_for

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        made = super().client(service_name, *args, **kwargs)
        if service_name == "cloudformation":
            stubber = Stubber(made)
            asked = {"StackName": self.asked_for, "LogicalResourceId": state_machine_logical_id()}
            if self.asked_for == STACK:
                stubber.add_response(
                    "describe_stack_resource",
                    {
                        "StackResourceDetail": {
                            **asked,
                            "PhysicalResourceId": self.machine_arn,
                            "ResourceType": "AWS::StepFunctions::StateMachine",
                            "LastUpdatedTimestamp": datetime(2025, 3, 1, tzinfo=UTC),
                            "ResourceStatus": "CREATE_COMPLETE",
                        }
                    },
                    asked,
                )
            else:
                stubber.add_client_error(
                    "describe_stack_resource",
                    "ValidationError",
                    f"Stack '{self.asked_for}' does not exist",
                    400,
                    expected_params=asked,
                )
            stubber.activate()
        return made


@pytest.fixture
def stack(monkeypatch):
    """STACK with one succeeded execution ("found") and one failed ("missing"): {name: ARN}."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("s3").create_bucket(Bucket="media")
        boto3.client("s3").put_object(Bucket="media", Key="here.jpg", Body=b"bytes")
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name=f"{state_machine_logical_id()}-AbC123",
            definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/rekflow-test",
        )["stateMachineArn"]
        find = DeployedStack.find
        monkeypatch.setattr(
            DeployedStack,
            "find",
            staticmethod(lambda stack_name, session=None: find(stack_name, _StackSession(machine, stack_name))),
        )
        started = {
            name: sfn.start_execution(stateMachineArn=machine, name=name, input=_object_created(key))["executionArn"]
            for name, key in (("found", "here.jpg"), ("missing", "gone.jpg"))
        }
        deadline = time.monotonic() + 30
        while any(sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" for arn in started.values()):
            assert time.monotonic() < deadline, "moto's executions did not finish"
            time.sleep(0.05)
        yield started


def test_a_stacks_executions_are_listed_and_read_through_cloudformation(stack, capsys):
    code, printed, _ = _rekflow(capsys, "executions", "--stack", "rekflow-test", "--json")
    rows = {row["name"]: row for row in map(json.loads, printed.splitlines())}
    assert code == 0 and set(rows) == {"found", "missing"}
    assert (rows["found"]["status"], rows["found"]["key"], rows["found"]["failedState"]) == (
        "SUCCEEDED",
        "here.jpg",
        None,
    )
    assert (rows["missing"]["status"], rows["missing"]["key"], rows["missing"]["failedState"]) == (
        "FAILED",
        "gone.jpg",
        "Read object",
    )
    assert rows["missing"]["executionArn"] == stack["missing"]
    code, printed, _ = _rekflow(capsys, "executions", "--stack", "rekflow-test", "--status", "FAILED", "--json")
    assert [json.loads(line)["name"] for line in printed.splitlines()] == ["missing"]

    code, printed, _ = _rekflow(capsys, "history", "missing", "--stack", "rekflow-test", "--json")
    history = json.loads(printed)
    _valid_history(history)
    failure = next(e for e in history["events"] if e["type"] == "TaskFailed")
    assert rows["missing"]["error"] == failure["taskFailedEventDetails"]["error"]


def test_a_replay_on_a_stack_starts_a_new_execution_with_the_same_input(stack, capsys):
    code, printed, _ = _rekflow(capsys, "replay", "missing", "--stack", "rekflow-test")
    assert code == 0 and "Already recorded" in printed
    sfn = boto3.client("stepfunctions")
    machine = sfn.describe_execution(executionArn=stack["missing"])["stateMachineArn"]
    (replayed,) = [
        e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"].startswith("missing-replay-")
    ]
    assert len(replayed["name"]) <= 80 and replayed["executionArn"] in printed
    assert sfn.describe_execution(executionArn=replayed["executionArn"])["input"] == _object_created("gone.jpg")


def _stubbed(monkeypatch: pytest.MonkeyPatch) -> list[Stubber]:
    """Step Functions calls of the commands answered by a Stubber (moto has no RedriveExecution)."""
    stubbers: list[Stubber] = []
    find = DeployedStack.find

    def stubbed_find(stack_name: str, session: Any = None) -> DeployedStack:
        found = find(stack_name, session)
        stubbers.append(Stubber(found.sfn))
        stubbers[-1].activate()
        _answer(stubbers[-1], found)
        return found

    monkeypatch.setattr(DeployedStack, "find", staticmethod(stubbed_find))
    return stubbers


def _answer(stubber: Stubber, found: DeployedStack) -> None:
    arn = found.execution_arn("missing")
    assert arn == boto3.client("stepfunctions").describe_execution(executionArn=arn)["executionArn"]
    stubber.add_response(
        "get_execution_history",
        {"events": boto3.client("stepfunctions").get_execution_history(executionArn=arn)["events"]},
        {"executionArn": arn},
    )
    described = {
        key: value
        for key, value in boto3.client("stepfunctions").describe_execution(executionArn=arn).items()
        if key != "ResponseMetadata"
    }
    stubber.add_response("describe_execution", {**described, **_REDRIVE_STATUS}, {"executionArn": arn})
    if _REDRIVE_STATUS["redriveStatus"] == "REDRIVABLE":
        stubber.add_response("redrive_execution", {"redriveDate": described["stopDate"]}, {"executionArn": arn})


_REDRIVE_STATUS: dict[str, str] = {}


def test_redrive_on_a_stack_keeps_the_execution_and_resumes_at_the_failed_state(stack, capsys, monkeypatch):
    monkeypatch.setitem(_REDRIVE_STATUS, "redriveStatus", "REDRIVABLE")
    stubbers = _stubbed(monkeypatch)
    code, printed, _ = _rekflow(capsys, "redrive", "missing", "--stack", "rekflow-test")
    assert code == 0
    assert "Redriven missing" in printed and "('Read object')" in printed and "same ARN" in printed
    stubbers[0].assert_no_pending_responses()


def test_redrive_says_why_step_functions_would_refuse_and_offers_a_replay(stack, capsys, monkeypatch):
    monkeypatch.setitem(_REDRIVE_STATUS, "redriveStatus", "NOT_REDRIVABLE")
    monkeypatch.setitem(_REDRIVE_STATUS, "redriveStatusReason", "Execution redrivable period exceeded")
    stubbers = _stubbed(monkeypatch)
    code, printed, said = _rekflow(capsys, "redrive", "missing", "--stack", "rekflow-test")
    assert code == EXIT_FAILED and printed == ""
    assert "cannot be redriven: Execution redrivable period exceeded" in said
    assert "rekflow replay missing --stack rekflow-test" in said
    stubbers[0].assert_no_pending_responses()  # asked, and no RedriveExecution was sent


def test_a_missing_stack_is_one_line(stack, capsys):
    code, _, said = _rekflow(capsys, "executions", "--stack", "no-such-stack")
    assert code == EXIT_FAILED
    assert said.strip() == "rekflow: stack no-such-stack: ValidationError: Stack 'no-such-stack' does not exist"


def test_a_physical_id_that_is_not_a_state_machine_arn_is_refused(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws(), pytest.raises(AwsError, match="not a state machine ARN"):
        DeployedStack.find(STACK, _StackSession("rekflow-test-MediaAnalysisStateMachine-AbC123", STACK))
