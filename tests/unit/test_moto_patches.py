"""rekflow's patches to moto are contained, reverted, and fail loudly when moto changes under them."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import uuid
from types import SimpleNamespace

import pytest

from rekflow.local.moto_patches import engine


def test_patches_are_written_for_the_installed_moto():
    assert importlib.metadata.version("moto") == engine.MOTO_VERSION, (
        "moto was upgraded: re-read every target in rekflow/local/moto_patches/engine.py, then update MOTO_VERSION"
    )


def test_another_moto_version_is_refused(monkeypatch):
    monkeypatch.setattr(engine, "version", lambda name: "0.0.1")
    with pytest.raises(RuntimeError, match="written for moto"), engine.patched_moto():
        pass


def test_every_target_still_has_the_shape_its_patch_relies_on():
    # Every patched attribute exists...
    for patch in engine.patches():
        assert hasattr(patch.owner, patch.name), f"{patch.owner}.{patch.name} is gone"
    # ...and the moto internals the patches call or read still look the way they were written against.
    from moto.core.base_backend import BackendDict
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.utils import TMP_THREADS

    assert "AmazonStateLanguageParser.parse(" in inspect.getsource(ExecutionWorker._get_evaluation_entrypoint)
    assert list(inspect.signature(AmazonStateLanguageParser.parse).parameters) == ["definition"]
    assert list(inspect.signature(BackendDict._create_account_specific_backend).parameters) == ["self", "account_id"]
    assert list(inspect.signature(boto_client_for).parameters) == ["region", "service", "state_credentials"]
    assert isinstance(state_task_service_aws_sdk._SERVICE_ERROR_NAMES, dict)
    assert isinstance(TMP_THREADS, list)
    from moto.stepfunctions.parser.asl.utils import json_path

    assert "parse(path)" in inspect.getsource(json_path.extract_json)


def test_patches_apply_nest_and_revert():
    from moto.dynamodb.responses import DynamoHandler

    before = DynamoHandler.call_action
    with engine.patched_moto():
        patched = DynamoHandler.call_action
        assert patched is not before
        with engine.patched_moto():  # a second local runtime inside the first shares the patches
            assert DynamoHandler.call_action is patched
        assert DynamoHandler.call_action is patched, "the inner exit must not revert the outer's patches"
    assert DynamoHandler.call_action is before


def test_reverting_leaves_every_patched_class_and_module_as_it_was():
    # A staticmethod goes back as a staticmethod, an inherited method is inherited again.
    owners = {id(patch.owner): patch.owner for patch in engine.patches()}
    before = {key: dict(vars(owner)) for key, owner in owners.items()}
    with engine.patched_moto():
        pass
    for key, owner in owners.items():
        assert dict(vars(owner)) == before[key], owner


# ---------------------------------------------------------------- Distributed Map and nested executions
def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_distributed_map_targets_still_have_the_shape_their_patches_rely_on():
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as reader,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as iteration,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        map_run_record,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3 as writer,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    sfn = state_task_service_sfn.StateTaskServiceSfn
    assert _parameters(StepFunctionsParserBackend.start_execution) == [
        "self",
        "state_machine_arn",
        "name",
        "execution_input",
        "trace_header",
    ]
    assert _parameters(sfn._normalise_parameters) == ["self", "parameters", "boto_service_name", "service_action_name"]
    assert _parameters(sfn._normalise_response) == ["self", "response", "boto_service_name", "service_action_name"]
    assert state_task_service_sfn._SUPPORTED_API_PARAM_BINDINGS["startexecution"] == {
        "Input",
        "Name",
        "StateMachineArn",
    }, "the ASL's names the request patch renames"
    build = inspect.getsource(sfn._build_sync2_resolver)
    assert _parameters(sfn._build_sync2_resolver) == [
        "self",
        "env",
        "resource_runtime_part",
        "normalised_parameters",
        "state_credentials",
    ]
    assert "submission_output: dict = env.stack.pop()" in build and 'submission_output["ExecutionArn"]' in build
    # The ItemReader and ResultWriter evaluate their Parameters, then the resource, off the environment's stack.
    assert inspect.getsource(item_reader_decl.ItemReader._eval_body).index("self.parargs.eval") < inspect.getsource(
        item_reader_decl.ItemReader._eval_body
    ).index("self.resource_eval.eval_resource")
    assert inspect.getsource(result_writer_decl.ResultWriter._eval_body).index("self.parargs.eval") < inspect.getsource(
        result_writer_decl.ResultWriter._eval_body
    ).index("self.resource_eval.eval_resource")
    map_body = inspect.getsource(state_map.StateMap._eval_execution)
    assert map_body.index("self.iteration_component.eval(env)") < map_body.index("self.result_writer.eval(env)")
    for resource_eval in (reader.ResourceEvalS3, writer.ResourceEvalS3):
        assert _parameters(resource_eval.eval_resource) == ["self", "env"]
        assert _parameters(resource_eval._get_s3_client) == ["resource_runtime_part", "state_credentials"]
    assert _parameters(worker.DistributedItemProcessorWorker._eval_job) == ["self", "env", "job"]
    assert _parameters(worker.DistributedItemProcessorWorker._eval_input) == ["self", "env_frame"]
    assert "self._map_run_record = map_run_record" in inspect.getsource(worker.DistributedItemProcessorWorker)
    assert _parameters(iteration.DistributedIterationComponent._map_run) == ["self", "env", "eval_input"]
    eval_input = inspect.getsource(iteration.DistributedIterationComponentEvalInput.__init__)
    for attribute in ("tolerated_failure_count", "tolerated_failure_percentage", "map_run_record"):
        assert f"self.{attribute} = {attribute}" in eval_input
    counters = inspect.getsource(map_run_record.ProgressCounter.__init__)
    assert all(f"self.{name} = Counter()" in counters for name in ("failed", "timed_out", "total"))
    assert hasattr(StatesErrorNameType, "StatesExceedToleratedFailureThreshold")
    assert _parameters(Preprocessor.visitAssign_template_value_terminal_string_literal) == ["self", "ctx"]


# Behaviour, on moto with the patches: small state machines around the Distributed Map features the backfill uses.
ROLE = "arn:aws:iam::123456789012:role/local"


@pytest.fixture
def aws(monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), engine.patched_moto(0.001):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="media")
        s3.create_bucket(Bucket="results")
        yield SimpleNamespace(s3=s3, sfn=boto3.client("stepfunctions"))


def _run(aws, definition: dict, given: dict) -> dict:
    arn = aws.sfn.create_state_machine(
        name=f"m{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = aws.sfn.start_execution(stateMachineArn=arn, input=json.dumps(given))["executionArn"]
    engine.wait_for_execution(execution, "123456789012", "us-east-1", 60)
    return dict(aws.sfn.describe_execution(executionArn=execution))


def _distributed_map(processor_states: dict, page_size: int | None = None, **fields) -> dict:
    listing = {"Bucket": "media", "Prefix.$": "$.prefix"} | ({"MaxKeys": page_size} if page_size else {})
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "End": True,
                "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": listing},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": next(iter(processor_states)),
                    "States": processor_states,
                },
                **fields,
            }
        },
    }


ECHO = {"Echo": {"Type": "Pass", "End": True}}


def test_a_listing_reads_every_page_and_gives_aws_items(aws):
    # Pages of 10 keys stand in for ListObjectsV2's pages of 1,000 (moto read the first page only).
    for index in range(25):
        aws.s3.put_object(Bucket="media", Key=f"in/{index:04d}.jpg", Body=b"x")
    aws.s3.put_object(Bucket="media", Key="elsewhere.jpg", Body=b"x")
    described = _run(aws, _distributed_map(ECHO, page_size=10), {"prefix": "in/"})
    items = json.loads(described["output"])
    assert described["status"] == "SUCCEEDED"
    assert sorted(item["Key"] for item in items) == [f"in/{index:04d}.jpg" for index in range(25)]
    assert set(items[0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert isinstance(items[0]["LastModified"], int) and items[0]["Size"] == 1


def test_a_prefix_without_objects_is_a_map_run_of_no_items(aws):
    described = _run(aws, _distributed_map(ECHO), {"prefix": "nothing-here/"})
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", [])


FAIL_ONE = {
    "Fail this one?": {
        "Type": "Choice",
        "Default": "Done",
        "Choices": [{"Variable": "$.Key", "StringEquals": "in/bad.jpg", "Next": "Fail"}],
    },
    "Fail": {"Type": "Fail", "Error": "Broken", "Cause": "a bad object"},
    "Done": {"Type": "Pass", "Parameters": {"key.$": "$.Key"}, "End": True},
}


# (moto's grammar takes a percentage written with a decimal point only, hence 20.0.)
@pytest.mark.parametrize(
    "tolerance,status",
    [
        ({}, "FAILED"),
        ({"ToleratedFailurePercentage": 20.0}, "FAILED"),
        ({"ToleratedFailurePercentage": 25.0}, "SUCCEEDED"),
        ({"ToleratedFailureCount": 1}, "SUCCEEDED"),
    ],
)
def test_failed_items_over_the_tolerated_threshold_fail_the_map_run(aws, tolerance, status):
    for key in ("in/a.jpg", "in/b.jpg", "in/c.jpg", "in/bad.jpg"):  # one of four fails: 25 %
        aws.s3.put_object(Bucket="media", Key=key, Body=b"x")
    described = _run(aws, _distributed_map(FAIL_ONE, **tolerance), {"prefix": "in/"})
    assert described["status"] == status
    if status == "FAILED":
        assert described["error"] == "States.ExceedToleratedFailureThreshold"
        assert "1 of 4 items failed" in described["cause"]


def test_result_writer_writes_each_child_result_by_status_and_a_manifest(aws):
    for key in ("in/a.jpg", "in/bad.jpg"):
        aws.s3.put_object(Bucket="media", Key=key, Body=b"x")
    definition = _distributed_map(
        FAIL_ONE,
        ToleratedFailurePercentage=50.0,
        ItemSelector={"Key.$": "$$.Map.Item.Value.Key", "lineBreak": "\n"},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "results", "Prefix": "runs/"},
        },
    )
    described = _run(aws, definition, {"prefix": "in/"})
    details = json.loads(described["output"])["ResultWriterDetails"]
    manifest = json.loads(aws.s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    assert details["Key"].startswith("runs/") and details["Key"].endswith("/manifest.json")
    assert manifest["DestinationBucket"] == "results"
    files = {
        status: [json.loads(aws.s3.get_object(Bucket="results", Key=f["Key"])["Body"].read()) for f in listed]
        for status, listed in manifest["ResultFiles"].items()
    }
    (succeeded,), (failed,), pending = files["SUCCEEDED"], files["FAILED"], files["PENDING"]
    assert pending == []
    # Input is what ItemSelector made of the item (a JSON string, as Output): its "\n" a line break.
    assert [json.loads(child["Input"]) for child in succeeded] == [{"Key": "in/a.jpg", "lineBreak": "\n"}]
    assert [json.loads(child["Output"]) for child in succeeded] == [{"key": "in/a.jpg"}]
    assert [(child["Status"], child["Error"], child["Cause"]) for child in failed] == [
        ("FAILED", "Broken", "a bad object")
    ]


def test_start_execution_sync2_names_each_child_and_answers_in_pascal_case(aws):
    child = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Default": "Fine",
                "Choices": [{"Variable": "$.n", "NumericEquals": 2, "Next": "Broken"}],
            },
            "Broken": {"Type": "Fail", "Error": "Broken", "Cause": "two"},
            "Fine": {"Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.n, $.n)"}, "End": True},
        },
    }
    child_arn = aws.sfn.create_state_machine(name="child", definition=json.dumps(child), roleArn=ROLE)[
        "stateMachineArn"
    ]
    parent = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.numbers",
                "End": True,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Child",
                    "States": {
                        "Child": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::states:startExecution.sync:2",
                            "End": True,
                            "Parameters": {"StateMachineArn": child_arn, "Input": {"n.$": "$"}},
                            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"}],
                        },
                        "Failed": {"Type": "Pass", "End": True},
                    },
                },
            }
        },
    }
    described = _run(aws, parent, {"numbers": [1, 2, 3]})
    first, failed, third = json.loads(described["output"])
    # Two unnamed starts are two executions (moto named both "None": ExecutionAlreadyExists).
    assert (first["Status"], first["Output"], first["Input"]) == ("SUCCEEDED", {"twice": 2}, {"n": 1})
    assert third["Output"] == {"twice": 6} and third["Name"] != first["Name"]
    assert (failed["Error"], json.loads(failed["Cause"])["Status"]) == ("States.TaskFailed", "FAILED")
    assert len(aws.sfn.list_executions(stateMachineArn=child_arn)["executions"]) == 3


def test_map_run_lookups_still_walk_the_executions_as_their_patches_do():
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    describe = inspect.getsource(StepFunctionsParserBackend.describe_map_run)
    assert "self._get_executions()" in describe and "execution.exec_worker.env.map_run_record_pool_manager" in describe
    assert _parameters(StepFunctionsParserBackend.list_map_runs) == ["self", "execution_arn"]


def test_the_worker_loop_takes_the_steps_of_moto_s_recursive_worker():
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker,
    )

    moto_steps = inspect.getsource(worker.DistributedItemProcessorWorker._eval_pool)
    ours = inspect.getsource(engine._jobs_in_a_loop)
    assert _parameters(worker.DistributedItemProcessorWorker._eval_pool) == ["self", "job", "worker_frame"]
    assert moto_steps.rstrip().endswith("self._eval_pool(job=next_job, worker_frame=worker_frame)")
    for step in (
        "self._env.delete_frame(worker_frame)",
        "job_frame = worker_frame.open_inner_frame()",
        "self._eval_job(env=job_frame, job=job)",
        "worker_frame.delete_frame(job_frame)",
        "isinstance(job.job_output, Exception) or self.stopped()",
        "self._job_pool.next_job()",
        "self._job_pool.close_job(job)",
    ):
        assert moto_steps.count(step) == ours.count(step), step


def test_a_worker_takes_more_items_than_python_s_recursion_limit(aws):
    # One worker (MaxConcurrency 1) for 1,200 items: moto's worker recursed once per item and died at ~1,000.
    definition = {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 1,
                "End": True,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Echo",
                    "States": ECHO,
                },
            }
        },
    }
    described = _run(aws, definition, {"items": list(range(1200))})
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", list(range(1200)))


@pytest.mark.parametrize("read", ["scan", "get_item"])
def test_a_read_never_sees_an_item_halfway_through_an_update(aws, read):
    # A read on one thread, UpdateItems adding attributes to the same item on another: moto copied (Scan) or
    # serialised (GetItem's answer) the item while the update changed it ("dictionary changed size during
    # iteration", CI and a loaded run, 2026-12-02).
    import sys
    import threading

    import boto3

    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="summary",
        KeySchema=[{"AttributeName": "AssetId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "AssetId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="summary", Item={"AssetId": {"S": "a"}, **{f"A{n}": {"N": "0"} for n in range(400)}})
    done = threading.Event()

    def update() -> None:
        try:
            for n in range(80):
                dynamodb.update_item(
                    TableName="summary",
                    Key={"AssetId": {"S": "a"}},
                    UpdateExpression=f"SET B{n} = :n REMOVE A{n}",
                    ExpressionAttributeValues={":n": {"N": str(n)}},
                )
        finally:
            done.set()

    writer = threading.Thread(target=update)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so the race shows within a few hundred calls
    sizes = set()
    try:
        writer.start()
        while not done.is_set():
            if read == "scan":
                (item,) = dynamodb.scan(TableName="summary")["Items"]
            else:
                item = dynamodb.get_item(TableName="summary", Key={"AssetId": {"S": "a"}})["Item"]
            sizes.add(len(item))
    finally:
        writer.join()
        sys.setswitchinterval(switch_interval)
    assert sizes == {401}, "every read saw the whole item, as one update left it"
