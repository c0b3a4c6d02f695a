"""Read template.yaml and resolve the intrinsic functions the local stack needs.

Physical names follow one rule (stack name + logical id) so every ARN, URL and name the
state machine and the functions see is derived from the template, never from a second list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


# libyaml's parser where PyYAML was built with it (the wheels are): the same documents, read 7 times faster
# (template.yaml: 107 -> 15 ms; every local runtime reads it, and the pure-Python parser was an eighth of the suite).
if TYPE_CHECKING:  # the checker sees the pure-Python loader (CSafeLoader has the same interface, no stubs of its own)
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_SafeLoader):
    """YAML with CloudFormation's short-form intrinsic tags (!Ref, !GetAtt, !Sub, ...) read as their
    long form ({"Ref": ...}, {"Fn::GetAtt": [resource, attribute]}, {"Fn::Sub": ...})."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template_yaml(text: str) -> dict[str, Any]:
    return dict(yaml.load(text, Loader=_TemplateLoader))  # noqa: S506 - a SafeLoader with intrinsic tags


_NO_VALUE = object()  # Ref AWS::NoValue


@dataclass
class Template:
    """A parsed SAM template with parameter values and local physical names."""

    path: Path
    body: dict[str, Any]
    stack_name: str = "rekflow-local"
    parameter_overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls, path: Path, stack_name: str = "rekflow-local", parameter_overrides: dict[str, str] | None = None
    ) -> Template:
        body = load_template_yaml(path.read_text(encoding="utf-8"))
        template = cls(path, body, stack_name, dict(parameter_overrides or {}))
        unknown = set(template.parameter_overrides) - set(body.get("Parameters", {}))
        if unknown:
            raise KeyError(f"template.yaml has no parameter(s) {sorted(unknown)}")
        return template

    @property
    def resources(self) -> dict[str, Any]:
        """The resources this stack creates: those whose Condition holds for its parameters."""
        return {
            name: resource
            for name, resource in self.body["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }

    def condition(self, name: str) -> bool:
        return self._holds(self.body["Conditions"][name])

    def _holds(self, expression: Any) -> bool:
        ((function, arg),) = expression.items()
        if function == "Condition":
            return self.condition(str(arg))
        if function == "Fn::Equals":
            left, right = (self.resolve(part) for part in arg)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self._holds(arg[0])
        if function == "Fn::And":
            return all(self._holds(part) for part in arg)
        if function == "Fn::Or":
            return any(self._holds(part) for part in arg)
        raise NotImplementedError(f"condition function {function} is not evaluated locally")

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == resource_type}

    def parameter(self, name: str) -> str:
        if name in self.parameter_overrides:
            return str(self.parameter_overrides[name])
        return str(self.body["Parameters"][name]["Default"])

    def physical_name(self, logical_id: str) -> str:
        """Local name of a resource: lower case so it is also a valid S3 bucket name."""
        return f"{self.stack_name}-{logical_id}".lower()

    def state_machine_name(self, logical_id: str) -> str:
        """A state machine's name: its Name property where the template sets one, else the local rule's."""
        explicit = self.resources[logical_id]["Properties"].get("Name")
        return str(self.resolve(explicit)) if explicit is not None else self.physical_name(logical_id)

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE  # type: ignore[return-value]  # removed by resolve() from what holds it
        if name in self.body.get("Parameters", {}):
            return self.parameter(name)
        resource_type = self.resources[name]["Type"]
        if resource_type == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{self.state_machine_name(name)}"
        physical = self.physical_name(name)
        by_type = {
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{physical}",
            "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{physical}",
            "AWS::Serverless::LayerVersion": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{physical}:1",
        }
        return by_type.get(resource_type, physical)

    def get_att(self, name: str, attribute: str) -> str:
        if name not in self.resources and attribute == "Arn" and self.generated_role_of(name) is not None:
            return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.physical_name(name)}"
        resource_type = self.resources[name]["Type"]
        if (resource_type, attribute) == ("AWS::Serverless::StateMachine", "Name"):
            return self.state_machine_name(name)
        if attribute != "Arn":
            raise NotImplementedError(f"Fn::GetAtt {name}.{attribute} is not resolved locally")
        physical = self.physical_name(name)
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{physical}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{physical}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{physical}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{physical}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{physical}:*",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}",
            "AWS::KinesisFirehose::DeliveryStream": f"arn:aws:firehose:{REGION}:{ACCOUNT_ID}:deliverystream/{physical}",
            "AWS::Serverless::StateMachine": self.ref(name),
        }
        return arns[resource_type]

    def generated_role_of(self, name: str) -> str | None:
        """The function or state machine whose execution role SAM generates as `name`: "<its logical id>Role", made
        where it sets no Role of its own (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-generated-resources-function.html,
        ...-generated-resources-statemachine.html); None where `name` is no such role."""
        owner = name.removesuffix("Role")
        resource = self.resources.get(owner) if name.endswith("Role") else None
        serverless = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
        if resource is None or resource["Type"] not in serverless or "Role" in resource.get("Properties", {}):
            return None
        return owner

    def role_arn_of(self, logical_id: str) -> str:
        """The execution role ARN of a function or state machine: its Role property, or the one SAM generates."""
        explicit = self.resources[logical_id].get("Properties", {}).get("Role")
        return str(self.resolve(explicit)) if explicit is not None else self.get_att(f"{logical_id}Role", "Arn")

    def resolve(self, value: Any) -> Any:
        """Resolve Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::FindInMap and Fn::If inside a template value."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self.ref(str(arg))
                if key == "Fn::GetAtt":
                    name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                    return self.get_att(str(name), str(attribute))
                if key == "Fn::Sub":
                    return self._sub(arg)
                if key == "Fn::Join":
                    delimiter, items = arg
                    return str(delimiter).join(str(self.resolve(item)) for item in items)
                if key == "Fn::If":
                    name, when_true, when_false = arg
                    return self.resolve(when_true if self.condition(str(name)) else when_false)
                if key == "Fn::FindInMap":
                    mapping, top, second = (self.resolve(part) for part in arg)
                    return self.body["Mappings"][mapping][top][second]
            resolved = {str(k): self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not _NO_VALUE]
        return value

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return self.ref(name)

        return _SUB_VARIABLE.sub(replace, str(text))
