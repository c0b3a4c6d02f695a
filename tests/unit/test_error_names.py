"""Every name in a Retry or Catch is one that Step Functions can raise for that state on AWS.

The rule (README, "Error names in Retry and Catch"): optimised integrations run on the AWS SDK for
Java v1 and raise "<Service>.<modelled error shape>" with "Exception" appended where the shape name
lacks it, or the SDK's base class for an unmodelled error; aws-sdk integrations run on the Java SDK
v2 and raise "<Service>.<Shape>Exception" with the v2 service spelling (DynamoDb, not DynamoDB), or
"<Service>.<Service>Exception". A Lambda task raises Lambda's own names or the errorType of what the
function raises. This test would have caught "DynamoDB.RequestLimitExceeded", which never matches.

The prefixes and base classes the allowed names are built from come from executions recorded on AWS
(recorded_error_names.json, each row citing its recording), not from the table the local runtime names
errors by; the runtime's table is tested against the same recordings.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from rekflow import PROJECT_ROOT, TEMPLATE_PATH
from rekflow.asl.generated import DEFINITIONS
from rekflow.local.moto_patches.engine import AWS_SDK_ERROR_PREFIXES
from rekflow.local.moto_patches.error_names import JAVA_V1_NAMING, java_v1_error_name, modelled_exception_names
from rekflow.local.state_cases import states_by_name
from rekflow.local.template import Template

STATES_ERRORS = {
    "States.ALL",
    "States.Timeout",
    "States.HeartbeatTimeout",
    "States.TaskFailed",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.IntrinsicFailure",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.QueryEvaluationError",
}
# https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html and the Lambda integration page.
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
}
# What a function's execution environment reports when its process dies, as the invocation's errorType, which
# lambda:invoke makes the error name: a crash (awslabs/amazon-s3-find-and-forget PR #283, "Runtime exited with
# error: signal: segmentation fault"), memory (awslabs/aws-deployment-framework #758) and its own timeout
# (aws/aws-durable-execution-docs #281, 2026). rekflow/local/sandbox.py raises them locally.
LAMBDA_ENVIRONMENT_ERRORS = {"Runtime.ExitError", "Runtime.OutOfMemory", "Sandbox.Timedout"}
# The independent source for the integrations' names: what Step Functions named errors in executions recorded on
# AWS (tests/unit/recorded_error_names.json, each row citing its recording), not the table the runtime names by.
RECORDED = json.loads((Path(__file__).parent / "recorded_error_names.json").read_text(encoding="utf-8"))
# Optimised integrations (Java SDK v1): service -> (prefix, the SDK's base exception class).
OPTIMISED = {service: (entry["prefix"], entry["base"]) for service, entry in RECORDED["optimised"].items()}
# aws-sdk integrations (Java SDK v2): service -> prefix.
JAVA_V2 = {service: entry["prefix"] for service, entry in RECORDED["aws_sdk"].items()}
# https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html
EXTRA = {
    "events": {"EventBridge.FailedEntry"},
    # The name the Step Functions guide retries for states:startExecution (a nested workflow):
    # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-nested-workflows.html
    "states": {"StepFunctions.ExecutionLimitExceeded"},
}


def errors_raised_by_code(code_dir: Path) -> set[str]:
    """Exception classes a function defines, and the error names it sends with SendTaskFailure."""
    names = set()
    for source in code_dir.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "Exception" for b in node.bases):
                names.add(node.name)
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "error" and isinstance(value, ast.Constant):
                        names.add(value.value)
    return names


def task_states() -> list[tuple[str, dict]]:
    """Every Task of the generated definitions (MediaAnalysis and the Express ImageAnalysis)."""
    found = {}
    for path in DEFINITIONS:
        found |= {
            name: state
            for name, state in states_by_name(json.loads(path.read_text())).items()
            if state["Type"] == "Task"
        }
    return list(found.items())


def possible_errors(state: dict, template: Template) -> set[str]:
    integration, _, pattern = state["Resource"].removeprefix("arn:aws:states:::").partition(".")
    possible = set(STATES_ERRORS)
    if pattern == "waitForTaskToken":
        # What the callback sends with SendTaskFailure.
        possible |= errors_raised_by_code(PROJECT_ROOT / "lambdas/video_results")
    if integration == "lambda:invoke":
        function = state["Parameters"]["FunctionName"].strip("${}").removesuffix("Arn")
        code_uri = template.resources[function]["Properties"]["CodeUri"]
        return possible | LAMBDA_ERRORS | LAMBDA_ENVIRONMENT_ERRORS | errors_raised_by_code(PROJECT_ROOT / code_uri)
    if integration.startswith("aws-sdk:"):
        service = integration.split(":")[1]
        prefix = JAVA_V2[service]
        return (
            possible
            | modelled_exception_names(service, prefix)
            | {f"{prefix}.{prefix}Exception", f"{prefix}.SdkClientException"}
        )
    service = integration.split(":")[0]
    if service not in OPTIMISED:
        return possible | EXTRA[service]
    prefix, base = OPTIMISED[service]
    return possible | modelled_exception_names(service, prefix) | {f"{prefix}.{base}"} | EXTRA.get(service, set())


@pytest.mark.parametrize("name,state", task_states(), ids=[name for name, _ in task_states()])
def test_every_retry_and_catch_name_can_be_raised_by_its_state(name, state):
    possible = possible_errors(state, Template.load(TEMPLATE_PATH))
    named = {error for rule in state.get("Retry", []) + state.get("Catch", []) for error in rule["ErrorEquals"]}
    assert named - possible == set(), f"{name}: no such error for {state['Resource']}"


def test_the_rule_rejects_the_names_that_never_match():
    dynamodb = possible_errors({"Resource": "arn:aws:states:::dynamodb:putItem"}, Template.load(TEMPLATE_PATH))
    assert "DynamoDB.RequestLimitExceededException" in dynamodb and "DynamoDB.RequestLimitExceeded" not in dynamodb
    assert "DynamoDb.ConditionalCheckFailedException" not in dynamodb  # the aws-sdk spelling
    rekognition = possible_errors(
        {"Resource": "arn:aws:states:::aws-sdk:rekognition:detectText"}, Template.load(TEMPLATE_PATH)
    )
    assert "Rekognition.InternalServerErrorException" in rekognition
    assert "Rekognition.InternalServerError" not in rekognition


def test_the_runtime_names_each_recorded_error_as_aws_did():
    # GIVEN each error recorded from an optimised integration that the runtime names (DynamoDB, SNS, EventBridge...)
    recorded = [row for row in RECORDED["recorded"] if row["code"] and row["service"] in JAVA_V1_NAMING]
    assert {row["service"] for row in recorded} >= {"dynamodb", "sns"}
    # THEN the runtime gives its error code the name AWS gave it
    for row in recorded:
        assert java_v1_error_name(row["service"], row["code"]) == row["error"], row


def test_the_runtimes_naming_table_is_the_recorded_one():
    # The optimised integrations' prefixes and base classes the runtime names errors by...
    assert JAVA_V1_NAMING == OPTIMISED
    # ...every recorded name of an optimised integration carries its service's prefix...
    for row in RECORDED["recorded"]:
        if row["service"] in OPTIMISED and not row["integration"].startswith("aws-sdk:"):
            assert row["error"].startswith(OPTIMISED[row["service"]][0] + "."), row
        if row["integration"].startswith("aws-sdk:"):
            assert row["error"].startswith(JAVA_V2[row["service"]] + "."), row
    # ...and the aws-sdk prefixes the engine gives moto are the recorded ones where moto lacks them
    for service, prefix in AWS_SDK_ERROR_PREFIXES.items():
        if service in JAVA_V2:
            assert prefix == JAVA_V2[service], service
