"""BackfillStateMachine before a deploy: its ASL as CloudFormation renders it passes asl-validator, and the role SAM
generates holds what the ASL needs, on its own resources, and nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rekflow import TEMPLATE_PATH
from rekflow.commands.backfill import BACKFILL_STATE_MACHINE
from rekflow.local.stack import render_definition
from rekflow.local.template import Template
from tests.deploy.test_roles import XRAY_POLICY, inline_actions, managed_policies, role_of, statements
from tests.deploy.tools import NODE_BIN, run, tool
from tests.unit.test_backfill_template import definition, needed_actions
from tests.unit.test_template import LOG_DELIVERY_ACTIONS


def test_backfill_asl_passes_asl_validator(tmp_path: Path):
    rendered = tmp_path / f"{BACKFILL_STATE_MACHINE}.json"
    rendered.write_text(render_definition(Template.load(TEMPLATE_PATH), BACKFILL_STATE_MACHINE))
    result = run([tool(NODE_BIN / "asl-validator"), "--json-path", rendered])
    assert result.returncode == 0, result.stdout + result.stderr


def _resources(role: dict[str, Any], action: str) -> list[Any]:
    found = []
    for statement in statements(role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions:
            found.extend(statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    return found


def test_backfill_role_holds_what_its_asl_needs_and_nothing_more(transformed):
    role = role_of(transformed, BACKFILL_STATE_MACHINE)
    # Log delivery comes with the template's own managed policy (read as statements), X-Ray with SAM's for Tracing.
    assert inline_actions(role) == needed_actions(definition()) | LOG_DELIVERY_ACTIONS
    assert managed_policies(role) == {XRAY_POLICY}
    assert {"Ref": "StateMachineLogDeliveryPolicy"} in role["Properties"]["ManagedPolicyArns"]


def test_backfill_role_lists_only_the_media_bucket_and_starts_only_media_analysis_and_itself(transformed):
    role = role_of(transformed, BACKFILL_STATE_MACHINE)
    machine = transformed["Resources"][BACKFILL_STATE_MACHINE]["Properties"]
    assert _resources(role, "s3:ListBucket") == [{"Fn::GetAtt": ["MediaBucket", "Arn"]}]
    started = _resources(role, "states:StartExecution")
    assert {"Ref": "MediaAnalysisStateMachine"} in started and len(started) == 2
    (own,) = [resource["Fn::Sub"] for resource in started if "Fn::Sub" in resource]
    # Its own ARN, built from the name it is given (a Ref to itself in its own role would be circular).
    assert own.endswith(f":stateMachine:{machine['StateMachineName']['Fn::Sub']}")
