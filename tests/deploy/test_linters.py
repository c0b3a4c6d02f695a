"""The deploy-readiness gate's linters, each run offline on the files a deploy uses.

Every tool runs from the deploy environments (`make deploy-tools`); none may reach AWS (tools.OFFLINE_ENV).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.needed_grants import allowed_wildcards
from tests.deploy.resolved_policies import policy_documents
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
KMS_KEY_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html"
# parliament findings that are accepted, each for the one statement of the one policy it is about, with why:
# (issue, the role or policy resource, the statement's Sid or "#<index>"). SAM numbers a role's inline policies
# (RolePolicy0, 1...) by their place in Policies, so a role's statements are named by the role and their Sid.
# RESOURCE_STAR on an identity policy is accepted only for the actions of allowed_wildcards.csv
# (test_resource_scope.py holds each row to the Service Authorization Reference).
PARLIAMENT_IGNORES: dict[tuple[str, str, str], str] = {
    (
        "RESOURCE_MISMATCH",
        "BackfillStateMachineRole",
        "FollowAnalyses",
    ): "parliament's IAM database marks both execution and express as required resource types of "
    "states:DescribeExecution; the Service Authorization Reference lists them as alternatives, and the backfill "
    "follows Standard executions only (MediaAnalysis's: execution ARNs)",
    (
        "RESOURCE_MISMATCH",
        "BackfillStateMachineRole",
        "FollowChildWorkflows",
    ): "as for FollowAnalyses: the Distributed Map's child workflows are Standard executions of the backfill itself "
    "(execution ARNs), never Express ones",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "ModerationReviewKey",
        "AccountAdministers",
    ): "the key policy's first statement is KMS's default one: it lets the account's IAM policies administer the "
    "key, without which the key could not be managed at all (AWS KMS Developer Guide, 'Default key policy', "
    f"{KMS_KEY_POLICY})",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "AlarmTopicKey",
        "AccountAdministersTheKey",
    ): "as for ModerationReviewKey: KMS's default key policy statement, letting the account's IAM policies "
    "administer the key",
    (
        "RESOURCE_STAR",
        "ModerationReviewKey",
        "AccountAdministers",
    ): f"in a key policy, Resource '*' means the key the policy is attached to and no other ({KMS_KEY_POLICY})",
    (
        "RESOURCE_STAR",
        "AlarmTopicKey",
        "AccountAdministersTheKey",
    ): "in a key policy, Resource '*' means the key the policy is attached to and no other",
    (
        "RESOURCE_STAR",
        "AlarmTopicKey",
        "StackAlarmsPublish",
    ): "in a key policy, Resource '*' means this key only: the stack's alarms may use the alarm topic's key",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "MediaAnalysisStateMachineRole",
        "LetRekognitionPublish",
    ): "the video jobs hand Rekognition RekognitionPublishRole as their NotificationChannel role; the statement "
    "names that one role and nothing else (tests/deploy/test_roles.py checks it)",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "MediaAnalysisStateMachineRole",
        "LetMediaConvertReadAndWrite",
    ): "Convert video to H.264 hands MediaConvert MediaConvertRole; the statement names that one role, passed to "
    "mediaconvert.amazonaws.com only (iam:PassedToService; tests/deploy/test_roles.py checks it)",
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "StateMachineLogDeliveryPolicy",
        "LogDelivery",
    ): "Step Functions puts the log group's resource policy for log delivery as the state machine's role, on "
    "Resource '*' (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)",
}


def parliament_findings(transformed: dict[str, Any]) -> list[dict[str, Any]]:
    documents = policy_documents(transformed)
    assert any(where.startswith("MediaAnalysisStateMachineRole/") for where in documents)
    result = run([tool(DEPLOY_BIN / "python"), HERE / "parliament_lint.py"], stdin=json.dumps(documents))
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def unexplained(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings neither ignored for their statement nor, for RESOURCE_STAR, allowed wildcards all."""
    wildcards = {action.lower() for action in allowed_wildcards()}
    return [
        f
        for f in findings
        if f["severity"] != "INFO"
        and not (f["issue"] == "RESOURCE_STAR" and {str(a).lower() for a in f["detail"]} <= wildcards)
        and not all(ignore_key(f, statement) in PARLIAMENT_IGNORES for statement in f["statements"])
    ]


def ignore_key(finding: dict[str, Any], statement: str) -> tuple[str, str, str]:
    return finding["issue"], finding["policy"].split("/")[0], statement


def test_every_iam_policy_passes_parliament(transformed):
    findings = parliament_findings(transformed)
    assert unexplained(findings) == []
    used = {ignore_key(f, statement) for f in findings for statement in f["statements"]}
    assert set(PARLIAMENT_IGNORES) <= used, f"ignores no finding needs any more: {set(PARLIAMENT_IGNORES) - used}"


@pytest.mark.parametrize(
    "role_id,action",
    [("ValidateFunctionRole", "s3:GetObject"), ("VideoCompletionFunctionRole", "s3:PutObject")],
)
def test_parliament_fails_a_wildcard_resource_on_an_action_that_takes_one(transformed, role_id, action):
    # GIVEN one of issue 22's edits: the statement granting `action` on "*" (parliament rates RESOURCE_STAR LOW)
    (policy,) = transformed["Resources"][role_id]["Properties"]["Policies"]
    (statement,) = [s for s in policy["PolicyDocument"]["Statement"] if action in s["Action"]]
    statement["Resource"] = "*"
    # THEN the gate fails on it
    found = [(f["issue"], f["policy"].split("/")[0]) for f in unexplained(parliament_findings(transformed))]
    assert ("RESOURCE_STAR", role_id) in found
