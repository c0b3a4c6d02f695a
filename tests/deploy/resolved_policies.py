"""The IAM policies of the SAM-transformed template with their intrinsics resolved, so they read as deployed.

Both parliament (test_linters.py) and the resource-scope check (test_resource_scope.py) compare policies as strings:
every Ref, Fn::GetAtt and Fn::Sub becomes the value it would have in one plausible deployment (stack "rekflow",
account 123456789012, us-east-1), the same way on the policy's side and on the side of what the code calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rekflow.local.bucket_policy import listed

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "rekflow"
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
    "AWS::KinesisFirehose::DeliveryStream": "arn:aws:firehose:{region}:{account}:deliverystream/{name}",
    "AWS::Athena::WorkGroup": "arn:aws:athena:{region}:{account}:workgroup/{name}",
    "AWS::Glue::Database": "arn:aws:glue:{region}:{account}:database/{name}",
}
# What Ref returns where it is the ARN rather than the name.
REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}
# Resources the template names itself: their physical name (and what Ref returns) is that property's value.
NAME_PROPERTIES = {
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
    "AWS::Glue::Table": ("Name",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Logs::LogStream": ("LogStreamName",),
}


class Resolver:
    """Turns the intrinsics of a transformed template into plausible values, so policies read as deployed."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources = template["Resources"]
        self.parameters = template.get("Parameters", {})
        self.mappings = template.get("Mappings", {})

    def name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        named: Any = resource.get("Properties", {})
        for key in NAME_PROPERTIES.get(resource["Type"], ("-",)):
            named = named.get(key) if isinstance(named, dict) else None
        return str(self.resolve(named)) if named else f"{STACK_NAME}-{logical_id.lower()}"

    def arn(self, logical_id: str) -> str:
        return ARN_FORMATS[self.resources[logical_id]["Type"]].format(
            region=REGION, account=ACCOUNT_ID, name=self.name(logical_id)
        )

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
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
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{self.name(name)}"
        return self.name(name)

    def get_att(self, name: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(name)
        if attribute in ("QueueName", "Name"):  # Name: a state machine's (the backfill's role names MediaAnalysis's)
            return self.name(name)
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
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(part)) for part in parts)
            if key == "Fn::FindInMap":
                mapping, top, second = (self.resolve(part) for part in arg)
                return self.mappings[mapping][top][second]
            if key == "Fn::If":
                # The branch that grants more (a conditional resource's ARN rather than none): every grant the
                # stack can hold is checked, whichever way its parameters go.
                _, when_true, when_false = arg
                chosen = self.resolve(when_true)
                if chosen == "" and when_false == {"Ref": "AWS::NoValue"}:
                    # An optional parameter left empty (ReviewAdminRoleArn): the condition on it is false, so the
                    # stack holds no value there, as with no grant at all.
                    return _NO_VALUE
                return chosen
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        return value

    def _sub_variable(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name and not name.startswith("AWS::"):
            return self.get_att(*name.split(".", 1))
        return self.ref(name)


_NO_VALUE = object()  # AWS::NoValue where an Fn::If drops an item from a list

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


def statement_name(statement: dict[str, Any], index: int) -> str:
    """How a statement is named in findings and ignores: its Sid, or its place in the document."""
    return str(statement.get("Sid") or f"#{index}")


def role_statements(template: dict[str, Any], role_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """("<policy>/<statement>", resolved statement) for each statement a role holds through its inline policies
    and the template's own managed policies it attaches (AWS managed policies are not in the template)."""
    documents = policy_documents(template)
    role = template["Resources"][role_id]["Properties"]
    places = [f"{role_id}/{policy['PolicyName']}" for policy in role.get("Policies", [])]
    places += [arn["Ref"] for arn in role.get("ManagedPolicyArns", []) if isinstance(arn, dict)]
    for place in places:
        for index, statement in enumerate(listed(documents[place]["Statement"])):
            yield f"{place}/{statement_name(statement, index)}", statement
