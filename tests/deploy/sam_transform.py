"""Print template.yaml as the SAM transform turns it into CloudFormation, offline, as JSON.

Run with the deploy tools' interpreter (aws-sam-translator lives in .venv-deploy, not in .venv):
    .venv-deploy/bin/python tests/deploy/sam_transform.py [template.yaml]
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from yaml import SafeLoader, load

REGION = "us-east-1"
# Local artefact paths are replaced as `sam build`/`sam package` would, with S3 locations.
ARTEFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


class _CfnLoader(SafeLoader):
    """YAML loader that keeps CloudFormation's short-form intrinsics (!Ref, !Sub…) as their long form."""


def _intrinsic(loader: SafeLoader, tag_suffix: str, node: Any) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if node.id == "scalar":
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif node.id == "sequence":
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def _no_managed_policies() -> dict[str, str]:
    """rekflow names no AWS managed policy by name: an empty map keeps the transform offline (no iam:ListPolicies)."""
    return {}


def transform(template_path: Path) -> dict[str, Any]:
    template = load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        prop = ARTEFACT_PROPERTIES.get(resource["Type"])
        if prop and isinstance(resource["Properties"].get(prop), str):
            resource["Properties"][prop] = f"s3://rekflow-artifacts/{resource['Properties'][prop].strip('/')}.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in resource["Properties"]:
            path = template_path.parent / resource["Properties"].pop("DefinitionUri")
            resource["Properties"]["Definition"] = json.loads(path.read_text(encoding="utf-8"))
    translator = Translator(
        managed_policy_map=None, sam_parser=Parser(), plugins=[], boto_session=boto3.session.Session(region_name=REGION)
    )
    return translator.translate(sam_template=template, parameter_values={}, get_managed_policy_map=_no_managed_policies)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "template.yaml"
    json.dump(transform(path), sys.stdout, indent=1, sort_keys=True, default=str)
