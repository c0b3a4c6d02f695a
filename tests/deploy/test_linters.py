"""The deploy-readiness gate's linters, each run offline on the files a deploy uses.

Every tool runs from the deploy environments (`make deploy-tools`); none may reach AWS (tools.OFFLINE_ENV).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deploy.tools import ASL_MACHINES, CFN_LINT, CHECKOV, DEPLOY_BIN, HERE, SAM_VALIDATE, asl_validator, run, tool


def test_sam_validate_lint_passes():
    # `sam validate --lint` runs cfn-lint on the template as SAM would deploy it; the region and credentials
    # are placeholders, and the AWS endpoint is a closed local port, so a call to AWS would fail the test.
    result = run([tool(SAM_VALIDATE[0]), *SAM_VALIDATE[1:]])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_with_the_serverless_rules_is_clean():
    result = run([tool(CFN_LINT[0]), *CFN_LINT[1:]])
    assert result.returncode == 0, result.stdout + result.stderr


def checkov_report() -> dict[str, Any]:
    result = run([tool(CHECKOV[0]), *CHECKOV[1:]])
    report = json.loads(result.stdout)
    return dict(report[0] if isinstance(report, list) else report)


def test_checkov_finds_nothing_that_is_not_fixed_or_suppressed_with_a_reason():
    report = checkov_report()
    failed = [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    for skipped in report["results"]["skipped_checks"]:
        reason = str(skipped.get("check_result", {}).get("suppress_comment") or "")
        assert len(reason.split()) >= 5, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


@pytest.mark.parametrize("machine,parameters", ASL_MACHINES)
def test_asl_passes_asl_validator(machine: str, parameters: dict[str, str]):
    # The definition as CloudFormation renders it (DefinitionSubstitutions applied), checked by a validator
    # other than the local runtime: AWS's States Language schema plus path and ARN checks.
    command = asl_validator(machine, parameters)
    result = run([tool(command[0]), *command[1:]])
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- IAM policies (parliament)
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
# parliament findings above LOW that are accepted, each with why. Keys: (issue, the action parliament names, or the
# policy's place when the finding is about the whole document).
PARLIAMENT_IGNORES: dict[tuple[str, str], str] = {
    (
        "RESOURCE_MISMATCH",
        "BackfillStateMachineRole/BackfillStateMachineRolePolicy0",
    ): "parliament's IAM database marks both execution and express as required resource types of "
    "states:DescribeExecution; the Service Authorization Reference lists them as alternatives, and the backfill "
    "follows Standard executions only (MediaAnalysis's and its own child workflows': execution ARNs)",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "ModerationReviewKey",
    ): "as for AlarmTopicKey: the key policy's first statement is KMS's default one, letting the account's IAM "
    "policies administer the key (AWS KMS Developer Guide, 'Default key policy')",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "AlarmTopicKey",
    ): "the key policy's first statement is KMS's default one: it lets the account's IAM policies administer the "
    "key, without which the key could not be managed at all (AWS KMS Developer Guide, 'Default key policy')",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "iam:passrole",
    ): "the video jobs hand Rekognition RekognitionPublishRole as their NotificationChannel role; the statement "
    "names that one role and nothing else (tests/deploy/test_roles.py checks it)",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "logs:putresourcepolicy",
    ): "Step Functions puts the log group's resource policy for log delivery as the state machine's role, on "
    "Resource '*' (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)",
}
ARN_FORMATS = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
}
# What Ref returns where it is the ARN rather than the name.
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}


class Resolver:
    """Turns the intrinsics of a transformed template into plausible values, so policies read as deployed."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources = template["Resources"]
        self.parameters = template.get("Parameters", {})
        self.mappings = template.get("Mappings", {})

    def arn(self, logical_id: str) -> str:
        return ARN_FORMATS[self.resources[logical_id]["Type"]].format(
            region=REGION, account=ACCOUNT_ID, name=f"rekflow-{logical_id.lower()}"
        )

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": "rekflow",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return str(self.parameters[name].get("Default", name))
        resource_type = self.resources[name]["Type"]
        if resource_type in REF_IS_ARN:
            return self.arn(name)
        if resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/rekflow-{name.lower()}"
        return f"rekflow-{name.lower()}"

    def get_att(self, name: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(name)
        if attribute in ("QueueName", "Name"):  # Name: a state machine's (the backfill's role names MediaAnalysis's)
            return f"rekflow-{name.lower()}"
        raise NotImplementedError(f"{name}.{attribute}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*(arg.split(".", 1) if isinstance(arg, str) else arg))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub_variable(m.group(1), variables), text)
            if key == "Fn::FindInMap":
                mapping, top, second = (self.resolve(part) for part in arg)
                return self.mappings[mapping][top][second]
            if key == "Fn::If":
                # The branch that grants more (a conditional resource's ARN rather than none): every grant the
                # stack can hold is linted, whichever way its parameters go.
                _, when_true, _ = arg
                return self.resolve(when_true)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _sub_variable(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name and not name.startswith("AWS::"):
            return self.get_att(*name.split(".", 1))
        return self.ref(name)


POLICY_PROPERTIES = {
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}


def policy_documents(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every IAM policy document of the deployed stack: roles' inline policies and resource policies."""
    resolver = Resolver(template)
    documents = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                documents[f"{logical_id}/{policy['PolicyName']}"] = policy["PolicyDocument"]
        elif resource["Type"] in POLICY_PROPERTIES:
            documents[logical_id] = props[POLICY_PROPERTIES[resource["Type"]]]
    return {where: {"Version": "2012-10-17"} | resolver.resolve(doc) for where, doc in documents.items()}


def test_every_iam_policy_passes_parliament(transformed):
    documents = policy_documents(transformed)
    assert any(where.startswith("MediaAnalysisStateMachineRole/") for where in documents)
    result = run([tool(DEPLOY_BIN / "python"), HERE / "parliament_lint.py"], stdin=json.dumps(documents))
    assert result.returncode == 0, result.stderr
    above_low = [f for f in json.loads(result.stdout) if f["severity"] not in ("LOW", "INFO")]
    unexplained = [
        f
        for f in above_low
        if (f["issue"], f["policy"]) not in PARLIAMENT_IGNORES
        and (not f["actions"] or any((f["issue"], a) not in PARLIAMENT_IGNORES for a in f["actions"]))
    ]
    assert unexplained == []
