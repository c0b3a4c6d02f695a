"""Each role holds each action on the narrowest resource its callers need, and "*" only where IAM names none.

test_roles.py and tests/unit/test_template.py compare action sets; this compares (action, resource) pairs. For every
role of the SAM-transformed template, what its Allow statements grant (inline policies and the template's own
managed policies, intrinsics resolved) must equal what needed_grants.py derives from the ASL, the handlers, the rules
and the services the role is passed to. A wildcard is needed only for the actions of allowed_wildcards.csv, each of
which the Service Authorization Reference lists without a resource type the call names; parliament's IAM definition
(the reference as data, shipped in its package) holds each row.

The AWS managed policies SAM attaches (AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole,
AWSXrayWriteOnlyAccess) are not in the template and are not checked here (docs/development/deploy-gate.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rekflow import PROJECT_ROOT, TEMPLATE_PATH
from rekflow.local.state_cases import states_by_name
from rekflow.local.template import Template
from tests.deploy.needed_grants import NeededGrants, allowed_wildcards, role_grants
from tests.deploy.resolved_policies import Resolver, listed, role_statements
from tests.deploy.tools import DEPLOY_BIN, tool

AUTHORIZATION_REFERENCE = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_"
DEPLOY_GATE_DOC = PROJECT_ROOT / "docs" / "development" / "deploy-gate.md"


def scope_findings(transformed: dict[str, Any]) -> list[str]:
    """Every grant wider than (or missing from) what its role's callers need, as a sentence naming the statement."""
    derived = NeededGrants(transformed, Template.load(TEMPLATE_PATH))
    findings = list(derived.problems)
    for role_id, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        exact = {(action.lower(), arn) for action, arn in derived.by_role.get(role_id, set())}
        choices = {action.lower(): arns for action, arns in derived.any_of.get(role_id, {}).items()}
        granted = role_grants(list(role_statements(transformed, role_id)))
        if granted and not exact and not choices:
            trusted = [
                s.get("Principal") for s in listed(resource["Properties"]["AssumeRolePolicyDocument"]["Statement"])
            ]
            findings.append(f"{role_id} (assumed by {trusted}): nothing it is used by is known to needed_grants.py")
            continue
        for (action, arn), where in sorted(granted.items()):
            if (action.lower(), arn) not in exact and arn not in choices.get(action.lower(), set()):
                narrower = sorted({r for a, r in exact if a == action.lower()} | choices.get(action.lower(), set()))
                findings.append(f"{', '.join(where)}: {action} on {arn}; {role_id} needs it on {narrower or 'nothing'}")
        held = {(action.lower(), arn) for action, arn in granted}
        findings += [f"{role_id} lacks {a} on {arn}" for a, arn in sorted(exact) if (a, arn) not in held]
        findings += [
            f"{role_id} lacks {a} on any of {sorted(arns)}"
            for a, arns in sorted(choices.items())
            if not any((a, arn) in held for arn in arns)
        ]
    return findings


def test_every_role_holds_each_action_on_the_narrowest_resource_its_callers_need(transformed):
    assert scope_findings(transformed) == []


def _statement(transformed: dict[str, Any], role_id: str, action: str) -> dict[str, Any]:
    (policy,) = transformed["Resources"][role_id]["Properties"]["Policies"]
    (statement,) = [s for s in policy["PolicyDocument"]["Statement"] if action in listed(s["Action"])]
    assert isinstance(statement, dict)
    return statement


# The two edits issue 22 found every other check of the gate blind to.
ISSUE_EDITS = [("ValidateFunctionRole", "s3:GetObject"), ("VideoCompletionFunctionRole", "s3:PutObject")]


@pytest.mark.parametrize("role_id,action", ISSUE_EDITS)
def test_a_wildcard_where_the_call_names_a_resource_is_found(transformed, role_id, action):
    # GIVEN the statement granting `action` widened to every resource
    _statement(transformed, role_id, action)["Resource"] = "*"
    # THEN the check names the statement and the resource the role needs instead
    found = [f for f in scope_findings(transformed) if f.startswith(f"{role_id}/") and f": {action} on *;" in f]
    assert found, scope_findings(transformed)


def test_a_grant_on_another_table_is_found(transformed):
    _statement(transformed, "VideoCompletionFunctionRole", "dynamodb:DeleteItem")["Resource"] = {
        "Fn::GetAtt": ["ResultsTable", "Arn"]
    }
    assert any(
        "dynamodb:DeleteItem on arn:aws:dynamodb:" in f and "resultstable" in f for f in scope_findings(transformed)
    )


def test_the_uploads_are_read_from_the_media_bucket(transformed):
    # The bucket behind $.asset.bucket is derived from the Object Created rules and the backfill's reader.
    assert NeededGrants(transformed, Template.load(TEMPLATE_PATH)).asset_bucket == Resolver(transformed).ref(
        "MediaBucket"
    )


# ---------------------------------------------------------------- the allowed wildcards
def iam_definition() -> dict[str, dict[str, Any]]:
    """parliament's copy of the IAM definitions (the Service Authorization Reference as data), by service prefix."""
    found = sorted(DEPLOY_BIN.parent.glob("lib/python*/site-packages/parliament/iam_definition.json"))
    path = tool(found[0] if found else DEPLOY_BIN.parent / "lib/parliament/iam_definition.json")
    return {service["prefix"]: service for service in json.loads(Path(path).read_text(encoding="utf-8"))}


def asl_parameters_of(action: str) -> list[dict[str, Any]]:
    """The Parameters of every ASL state that calls `action` through an aws-sdk integration."""
    service, name = action.split(":")
    wanted = f"arn:aws:states:::aws-sdk:{service}:{name[0].lower()}{name[1:]}"
    found = []
    for path in sorted((PROJECT_ROOT / "statemachines").glob("*.asl.json")):
        for state in states_by_name(json.loads(path.read_text(encoding="utf-8"))).values():
            if state.get("Resource", "").split(".")[0] == wanted:
                found.append(state.get("Parameters", {}))
    return found


@pytest.mark.parametrize("row", allowed_wildcards().values(), ids=lambda row: row.action)
def test_each_allowed_wildcard_names_no_resource_the_call_could_be_scoped_to(row):
    service, name = row.action.split(":")
    assert row.url.startswith(AUTHORIZATION_REFERENCE), row.url
    (privilege,) = [p for p in iam_definition()[service]["privileges"] if p["privilege"] == name]
    resource_types = {r["resource_type"] for r in privilege["resource_types"]} - {""}
    # No required resource type (marked "*"), and none but the one the row says the call never names.
    assert not [t for t in resource_types if t.endswith("*")], (row.action, resource_types)
    assert resource_types == ({row.unused_resource_type} if row.unused_resource_type else set()), row.action
    if row.unused_resource_type:
        calls = asl_parameters_of(row.action)
        assert calls, f"no ASL state calls {row.action}: is its row still needed?"
        for parameters in calls:
            assert not {row.naming_parameter, f"{row.naming_parameter}.$"} & set(parameters), row.action


def test_every_allowed_wildcard_is_needed_by_some_role(transformed):
    derived = NeededGrants(transformed, Template.load(TEMPLATE_PATH))
    on_anything = {action for grants in derived.by_role.values() for action, resource in grants if resource == "*"}
    on_anything |= {a for choices in derived.any_of.values() for a, resources in choices.items() if "*" in resources}
    assert set(allowed_wildcards()) == on_anything


def test_the_deploy_gate_page_lists_the_allowed_wildcards():
    rows = re.findall(
        r"^\| `([a-z0-9-]+:[A-Za-z]+)` \| (.+?) \| \[[^]]+\]\((https://[^)]+)\) \|$", DEPLOY_GATE_DOC.read_text(), re.M
    )
    assert sorted(rows) == sorted((w.action, w.why, w.url) for w in allowed_wildcards().values())
