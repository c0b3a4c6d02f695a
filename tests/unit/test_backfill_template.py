"""BackfillStateMachine in template.yaml: complete for its ASL, allowed exactly what the ASL calls, and the asset id
its ASL computes is the one Validate gives (tests/deploy/test_backfill_gate.py checks the role SAM generates)."""

from __future__ import annotations

import json
import re

import pytest

from asset import asset_id
from rekflow import PROJECT_ROOT, TEMPLATE_PATH
from rekflow.commands.backfill import BACKFILL_STATE_MACHINE
from rekflow.local.moto_patches import engine
from rekflow.local.stack import render_definition
from rekflow.local.state_cases import states_by_name
from rekflow.local.template import Template
from tests.unit.test_error_names import possible_errors
from tests.unit.test_template import (
    LOG_DELIVERY_ACTIONS,
    OPTIMISED,
    allowed_actions,
    policy_statements,
    state_machine_service_actions,
)

# What each thing the backfill does needs of its role, with the page that says so.
# aws-sdk:s3:headObject: S3 authorises HeadObject as s3:GetObject (S3 API Reference, HeadObject, "Permissions").
# The Map's ItemReader lists with ListObjectsV2 (s3:ListBucket); its ResultWriter writes with PutObject and
# multipart uploads; a Distributed Map runs each item as a child execution of the machine itself
# (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html,
# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
# startExecution.sync:2 follows the child and watches it through a managed EventBridge rule
# (https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html).
AWS_SDK = {"s3:HeadObject": {"s3:GetObject"}}
ITEM_READER = {"s3:listObjectsV2": {"s3:ListBucket"}}
RESULT_WRITER = {
    "s3:putObject": {"s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"}
}
DISTRIBUTED_MAP = {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}
SYNC = {
    "states:DescribeExecution",
    "states:StopExecution",
    "events:PutTargets",
    "events:PutRule",
    "events:DescribeRule",
}
SYNC_RULE = (
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
    "StepFunctionsGetEventsForStepFunctionsExecutionRule"
)


def template() -> Template:
    return Template.load(TEMPLATE_PATH)


def props() -> dict:
    return dict(template().resources[BACKFILL_STATE_MACHINE]["Properties"])


def definition() -> dict:
    return dict(json.loads((PROJECT_ROOT / props()["DefinitionUri"]).read_text()))


def needed_actions(asl: dict) -> set[str]:
    needed: set[str] = set()
    for state in states_by_name(asl).values():
        resource = state.get("Resource", "")
        if resource:
            integration, _, pattern = resource.removeprefix("arn:aws:states:::").partition(".")
            if integration.startswith("aws-sdk:"):
                _, service, api = integration.split(":")
                action = f"{service}:{api[0].upper()}{api[1:]}"
                needed |= AWS_SDK.get(action, {action})
            else:
                needed.add({**OPTIMISED, "dynamodb:getItem": "dynamodb:GetItem"}[integration])
                if pattern == "sync:2":
                    needed |= SYNC
        if state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
            needed |= DISTRIBUTED_MAP
        if "ItemReader" in state:
            needed |= ITEM_READER[state["ItemReader"]["Resource"].removeprefix("arn:aws:states:::")]
        if "ResultWriter" in state:
            needed |= RESULT_WRITER[state["ResultWriter"]["Resource"].removeprefix("arn:aws:states:::")]
    return needed


def grants() -> list[tuple[str, object]]:
    """(action, resource) for every action the machine's Policies allow."""
    found = []
    for statement in policy_statements(props()["Policies"]):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        found.extend((action, statement["Resource"]) for action in actions)
    return found


def test_every_definition_substitution_is_defined_and_used():
    raw = (PROJECT_ROOT / props()["DefinitionUri"]).read_text()
    assert set(re.findall(r"\$\{([A-Za-z0-9]+)\}", raw)) == set(props()["DefinitionSubstitutions"])
    rendered = render_definition(template(), BACKFILL_STATE_MACHINE)
    assert "${" not in rendered
    json.loads(rendered)


def test_policy_allows_exactly_what_the_backfill_does():
    needed, added_by_sam = state_machine_service_actions(props())
    assert needed == LOG_DELIVERY_ACTIONS and added_by_sam, "the backfill logs and traces as MediaAnalysis does"
    assert allowed_actions(props()["Policies"]) == needed_actions(definition()) | needed


def test_each_grant_names_its_own_resource():
    machine_name = props()["Name"]["Fn::Sub"]
    own = f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{machine_name}"
    own_children = f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{machine_name}/*"
    analyses = (
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${MediaAnalysisStateMachine.Name}:*"
    )
    results = f"${{ResultsBucket.Arn}}/{props()['DefinitionSubstitutions']['ResultsPrefix']}*"
    expected = {
        "s3:ListBucket": [{"Fn::GetAtt": ["MediaBucket", "Arn"]}],
        "s3:GetObject": [{"Fn::Sub": "${MediaBucket.Arn}/*"}, {"Fn::Sub": results}],
        "dynamodb:GetItem": [{"Fn::GetAtt": ["ResultsTable", "Arn"]}],
        "states:StartExecution": [{"Ref": "MediaAnalysisStateMachine"}, {"Fn::Sub": own}],
        "states:DescribeExecution": [{"Fn::Sub": analyses}, {"Fn::Sub": own_children}],
        "states:StopExecution": [{"Fn::Sub": analyses}, {"Fn::Sub": own_children}],
        "events:PutRule": [{"Fn::Sub": SYNC_RULE}],
        "s3:PutObject": [{"Fn::Sub": results}],
    }
    found = grants()
    for action, resources in expected.items():
        assert sorted(map(json.dumps, (r for a, r in found if a == action))) == sorted(map(json.dumps, resources))
    assert all(resource == "*" for action, resource in found if action in LOG_DELIVERY_ACTIONS)


def test_the_backfill_starts_media_analysis_on_uploads_only_and_runs_at_the_rekognition_quota():
    substitutions = props()["DefinitionSubstitutions"]
    assert substitutions["MediaAnalysisStateMachineArn"] == {"Ref": "MediaAnalysisStateMachine"}
    # The copies it passes over are those the Object Created rules leave out.
    assert substitutions["ProxyPrefix"] == {"Fn::FindInMap": ["Proxies", "Names", "Prefix"]}
    rule = template().resources["MediaAnalysisStateMachine"]["Properties"]["Events"]["ObjectCreated"]
    assert {"prefix": substitutions["ProxyPrefix"]} in [
        condition["anything-but"] for condition in rule["Properties"]["Pattern"]["detail"]["object"]["key"]
    ]
    assert substitutions["MaxConcurrency"] == {"Ref": "RekognitionTps"}
    assert substitutions["ToleratedFailurePercentage"] == {"Ref": "BackfillToleratedFailurePercentage"}
    (backfill_map,) = [s for s in definition()["States"].values() if s["Type"] == "Map"]
    settings = definition()["States"]["Apply settings"]["Parameters"]
    assert settings["maxConcurrency.$"] == "States.StringToJson('${MaxConcurrency}')"
    assert backfill_map["MaxConcurrencyPath"] == "$.maxConcurrency"
    assert backfill_map["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert props()["Type"] == "STANDARD"


@pytest.mark.parametrize("name", [n for n, s in states_by_name(definition()).items() if s["Type"] == "Task"])
def test_every_retry_name_can_be_raised_by_its_state(name):
    state = states_by_name(definition())[name]
    named = {error for rule in state.get("Retry", []) + state.get("Catch", []) for error in rule["ErrorEquals"]}
    assert named - possible_errors(state, template()) == set()


# Keys that test the intrinsic functions' handling: spaces, '+', '%', non-ASCII, braces, quotes, a backslash.
KEYS = [
    "plain.jpg",
    "with space.jpg",
    "a+b=c 100%.jpg",
    "café/Ünïcödé 写真.jpg",
    "{brace} 'quote' \"dq\".jpg",
    "back\\slash.jpg",
]


def test_the_asset_id_the_backfill_looks_up_is_the_one_validate_records(monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    rendered = json.loads(render_definition(template(), BACKFILL_STATE_MACHINE))
    processor = rendered["States"]["Analyse every object"]
    asset_state = {**processor["ItemProcessor"]["States"]["Asset id"], "End": True}
    asset_state.pop("Next")
    alone = {"StartAt": "Asset id", "States": {"Asset id": asset_state}}
    bucket = template().ref("MediaBucket")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), engine.patched_moto():
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="asset-id", definition=json.dumps(alone), roleArn="arn:aws:iam::123456789012:role/local"
        )["stateMachineArn"]
        for key in KEYS:
            # The input as the Map's ItemSelector and "Read object version" leave it.
            item = {**processor["ItemSelector"], "key": key, "head": {"VersionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}}
            del item["key.$"]
            execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(item))["executionArn"]
            engine.wait_for_execution(execution, "123456789012", "us-east-1", 30)
            output = json.loads(sfn.describe_execution(executionArn=execution)["output"])
            assert output["version"]["assetId"] == asset_id(bucket, key, item["head"]["VersionId"], None), key
