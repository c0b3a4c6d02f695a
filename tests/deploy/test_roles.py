"""Each role the SAM transform generates holds what its resource needs, and nothing more.

The unit tests compare the template's own Policies with the calls in the ASL and the handlers. They cannot
see what a service demands for itself (log delivery, tracing) nor what SAM adds on its own (managed
policies, event-source roles): this looks at the roles as CloudFormation will create them.
"""

from __future__ import annotations

from typing import Any

from rekflow import PROJECT_ROOT, TEMPLATE_PATH
from rekflow.local.template import Template
from tests.unit.test_template import LOG_DELIVERY_ACTIONS, XRAY_ACTIONS, asl_actions, handler_actions

# LOG_DELIVERY_ACTIONS: Step Functions developer guide, "Using CloudWatch Logs to log execution history", IAM
# policies for logging (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html). XRAY_ACTIONS: "Trace
# Step Functions request data in AWS X-Ray" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html)
# and "IAM policies for AWS X-Ray" (https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html).

_AWS_POLICY = "arn:aws:iam::aws:policy/"
# What the AWS managed policies SAM attaches allow, from the AWS Managed Policy Reference
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html).
MANAGED_POLICY_ACTIONS = {
    f"{_AWS_POLICY}AWSXrayWriteOnlyAccess": XRAY_ACTIONS | {"xray:GetSamplingStatisticSummaries"},
    f"{_AWS_POLICY}service-role/AWSLambdaBasicExecutionRole": {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    },
    f"{_AWS_POLICY}service-role/AWSLambdaSQSQueueExecutionRole": {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    },
}
# SAM attaches AWSXrayWriteOnlyAccess to a function or state machine with tracing on
# (aws-sam-translator, samtranslator/model/xray_utils.py), and the SQS poller policy for an SQS event.
XRAY_POLICY = f"{_AWS_POLICY}AWSXrayWriteOnlyAccess"
LAMBDA_BASIC_POLICY = f"{_AWS_POLICY}service-role/AWSLambdaBasicExecutionRole"
SQS_POLLER_POLICY = f"{_AWS_POLICY}service-role/AWSLambdaSQSQueueExecutionRole"


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies and of the template's own managed policies it attaches."""
    documents = [policy["PolicyDocument"] for policy in role["Properties"].get("Policies", [])]
    resources = source().body["Resources"]
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        if isinstance(arn, dict):  # {"Ref": <an AWS::IAM::ManagedPolicy of this template>}
            managed = resources[arn["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", arn
            documents.append(managed["Properties"]["PolicyDocument"])
    found = []
    for document in documents:
        listed = document["Statement"]
        found.extend(listed if isinstance(listed, list) else [listed])
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def inline_actions(role: dict[str, Any]) -> set[str]:
    return {action for s in statements(role) if s["Effect"] == "Allow" for action in _listed(s["Action"])}


def managed_policies(role: dict[str, Any]) -> set[str]:
    """The AWS managed policies a role attaches (the template's own are read as statements)."""
    return {arn for arn in role["Properties"].get("ManagedPolicyArns", []) if isinstance(arn, str)}


def granted(role: dict[str, Any]) -> set[str]:
    """Actions a role allows through its inline and its AWS managed policies."""
    actions = inline_actions(role)
    for arn in managed_policies(role):
        assert arn in MANAGED_POLICY_ACTIONS, f"unknown managed policy {arn}: add what it allows, with its source"
        actions |= MANAGED_POLICY_ACTIONS[arn]
    return actions


def role_of(transformed: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """The role a resource runs as: its RoleArn/Role property names the generated role."""
    resource = transformed["Resources"][logical_id]
    role_arn = resource["Properties"].get("RoleArn") or resource["Properties"]["Role"]
    role_id, attribute = role_arn["Fn::GetAtt"]
    assert attribute == "Arn"
    return dict(transformed["Resources"][role_id])


def source() -> Template:
    return Template.load(TEMPLATE_PATH)


def machine_needs(machine: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(actions, managed policies) the state machine's role must hold, derived from its properties."""
    props = machine["Properties"]
    actions = asl_actions()
    managed = set()
    if props.get("Logging", {}).get("Destinations"):
        actions |= LOG_DELIVERY_ACTIONS
    if props.get("Tracing", {}).get("Enabled"):
        managed.add(XRAY_POLICY)
    return actions, managed


def test_state_machine_role_may_deliver_logs_because_the_machine_logs(transformed):
    # GIVEN the state machine as the template declares it, WHEN SAM generates its role
    machine = source().resources["MediaAnalysisStateMachine"]
    assert machine["Properties"]["Logging"]["Destinations"], "the machine logs to CloudWatch Logs"
    role = role_of(transformed, "MediaAnalysisStateMachine")
    # THEN the role allows every log-delivery action, on "*" (they take no resource ARN)
    delivery = [s for s in statements(role) if set(_listed(s["Action"])) & LOG_DELIVERY_ACTIONS]
    assert {a for s in delivery for a in _listed(s["Action"])} >= LOG_DELIVERY_ACTIONS
    assert all(s["Resource"] == "*" for s in delivery)


def test_state_machine_role_may_trace_because_tracing_is_on(transformed):
    machine = source().resources["MediaAnalysisStateMachine"]
    assert machine["Properties"]["Tracing"]["Enabled"] is True
    assert granted(role_of(transformed, "MediaAnalysisStateMachine")) >= XRAY_ACTIONS


# The roles MediaAnalysis hands to a service, each only to that service where the service has a condition key for it.
PASSED_ROLES = {
    "RekognitionPublishRole": None,  # Rekognition's NotificationChannel role
    "MediaConvertRole": "mediaconvert.amazonaws.com",
}  # the role MediaConvert converts videos as


def test_state_machine_role_passes_only_the_rekognition_publish_and_mediaconvert_roles(transformed):
    role = role_of(transformed, "MediaAnalysisStateMachine")
    passing = [s for s in statements(role) if "iam:PassRole" in _listed(s["Action"]) or s["Action"] == "*"]
    assert passing, "the video jobs pass RekognitionPublishRole as their NotificationChannel role"
    passed = {}
    for statement in passing:
        assert _listed(statement["Action"]) == ["iam:PassRole"], "PassRole shares its statement with nothing"
        (resource,) = _listed(statement["Resource"])
        name = resource["Fn::GetAtt"][0]
        passed[name] = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
    assert passed == PASSED_ROLES


def test_state_machine_role_holds_nothing_more(transformed):
    machine = source().resources["MediaAnalysisStateMachine"]
    role = role_of(transformed, "MediaAnalysisStateMachine")
    actions, managed = machine_needs(machine)
    assert inline_actions(role) == actions
    assert managed_policies(role) == managed


def test_validate_role_may_list_the_media_bucket(transformed):
    # Without s3:ListBucket, HeadObject on a deleted key answers 403 instead of 404 (S3 API Reference, HeadObject).
    role = role_of(transformed, "ValidateFunction")
    listing = [s for s in statements(role) if "s3:ListBucket" in _listed(s["Action"])]
    assert listing, "ValidateFunction's role cannot s3:ListBucket"
    assert all(_listed(s["Resource"]) == [{"Fn::GetAtt": ["MediaBucket", "Arn"]}] for s in listing)


def test_every_function_role_holds_what_its_code_calls_and_nothing_more(transformed):
    template = source()
    tracing = template.body.get("Globals", {}).get("Function", {}).get("Tracing")
    for logical_id, function in template.resources_of_type("AWS::Serverless::Function").items():
        props = function["Properties"]
        role = role_of(transformed, logical_id)
        called = handler_actions(PROJECT_ROOT / props["CodeUri"], str(props["Handler"]).split(".")[0])
        expected = {LAMBDA_BASIC_POLICY}
        if props.get("Tracing", tracing) == "Active":
            expected.add(XRAY_POLICY)
        if any(event["Type"] == "SQS" for event in props.get("Events", {}).values()):
            expected.add(SQS_POLLER_POLICY)
        # An on-failure destination of asynchronous invocations: SAM adds the role's right to send to it
        # (SearchIndexFunction's failed events go to an SQS queue).
        on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        destination = {"SQS": {"sqs:SendMessage"}, "SNS": {"sns:Publish"}}.get(on_failure.get("Type", ""), set())
        assert inline_actions(role) == called | destination, logical_id
        assert managed_policies(role) == expected, logical_id


def test_event_rule_role_only_starts_the_state_machine(transformed):
    rule = transformed["Resources"]["MediaAnalysisStateMachineObjectCreated"]
    (target,) = rule["Properties"]["Targets"]
    role = transformed["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]
    assert [(_listed(s["Action"]), s["Resource"]) for s in statements(role)] == [
        (["states:StartExecution"], {"Ref": "MediaAnalysisStateMachine"})
    ]
    assert managed_policies(role) == set()
