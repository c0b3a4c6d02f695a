"""MediaBucketPolicy's quarantine (HoldFlaggedMedia), evaluated offline on the SAM-transformed template.

The policy as the deployed stack holds it (intrinsics resolved by resolved_policies.Resolver, HoldFlaggedMedia's
statement present, an admin role given) is asked, request by request, what it refuses (bucket_policy.py): a reviewer,
an anonymous caller and another account's role cannot read a PENDING or REJECTED object version; the workflow's roles
and the admin role can; an APPROVED or untagged version is left to the callers' own policies; and every role whose
callers read the uploads (needed_grants.py) is among those exempted, so the quarantine never breaks the analysis.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rekflow import TEMPLATE_PATH
from rekflow.local.bucket_policy import Request, denied_by
from rekflow.local.template import Template
from tests.deploy.needed_grants import NeededGrants, s3_objects
from tests.deploy.resolved_policies import ACCOUNT_ID, Resolver

ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/media-admin"
REVIEWER = f"arn:aws:iam::{ACCOUNT_ID}:role/reviewer"
ELSEWHERE = "arn:aws:iam::210987654321:role/partner"
WORKFLOW_ROLES = (
    "MediaAnalysisStateMachineRole",
    "ImageAnalysisStateMachineRole",
    "BackfillStateMachineRole",
    "ReviewStateMachineRole",
    "ValidateFunctionRole",
    "MakeProxyFunctionRole",
    "MediaConvertRole",
)


@pytest.fixture
def held(transformed: dict[str, Any]) -> tuple[dict[str, Any], Resolver]:
    """MediaBucketPolicy as deployed with HoldFlaggedMedia=true and ReviewAdminRoleArn=ADMIN."""
    template = copy.deepcopy(transformed)
    template["Parameters"]["ReviewAdminRoleArn"]["Default"] = ADMIN
    resolver = Resolver(template)
    return resolver.resolve(template["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]), resolver


def read(resolver: Resolver, principal: str | None, tag: str | None, action: str = "s3:GetObject") -> Request:
    bucket = resolver.ref("MediaBucket")
    return Request(action, f"arn:aws:s3:::{bucket}/photos/cat.jpg", principal, {"rekflow-review": tag} if tag else {})


@pytest.mark.parametrize("tag", ["PENDING", "REJECTED"])
@pytest.mark.parametrize("action", ["s3:GetObject", "s3:GetObjectVersion"])
@pytest.mark.parametrize("who", ["reviewer", "anonymous", "another account"])
def test_a_held_or_rejected_version_is_unreadable_to_everyone_else(held, tag, action, who):
    policy, resolver = held
    principal = {"reviewer": REVIEWER, "anonymous": None, "another account": ELSEWHERE}[who]
    assert denied_by(policy, read(resolver, principal, tag, action)) == ["HoldFlaggedMedia"]


@pytest.mark.parametrize("tag", ["PENDING", "REJECTED"])
@pytest.mark.parametrize("role", [*WORKFLOW_ROLES, "admin"])
def test_the_workflow_roles_and_the_admin_role_still_read_it(held, tag, role):
    policy, resolver = held
    principal = ADMIN if role == "admin" else resolver.arn(role)
    assert denied_by(policy, read(resolver, principal, tag)) == []


@pytest.mark.parametrize("tag", ["APPROVED", None])
def test_an_approved_or_unreviewed_version_is_left_to_the_callers_policies(held, tag):
    policy, resolver = held
    assert denied_by(policy, read(resolver, REVIEWER, tag)) == []
    assert denied_by(policy, read(resolver, None, tag)) == []


def test_writes_are_not_governed_by_the_tag(held):
    # S3 does not evaluate s3:ExistingObjectTag for PutObject: the statement does not try to.
    policy, resolver = held
    assert denied_by(policy, read(resolver, REVIEWER, "REJECTED", "s3:PutObject")) == []


def test_insecure_transport_is_still_refused(held):
    policy, resolver = held
    request = Request("s3:GetObject", read(resolver, ADMIN, None).resource, ADMIN, secure_transport=False)
    assert denied_by(policy, request) == ["DenyInsecureTransport"]


def test_every_role_that_reads_the_uploads_is_exempted(transformed, held):
    # GIVEN the roles whose callers read the uploads (the ASL's and the handlers' needs)
    policy, resolver = held
    derived = NeededGrants(transformed, Template.load(TEMPLATE_PATH))
    uploads = s3_objects(resolver.ref("MediaBucket"))
    readers = {role for role, grants in derived.by_role.items() if any(r == uploads for _, r in grants)}
    readers |= {
        role
        for role, choices in derived.any_of.items()
        # a function's call that can only mean the uploads (one whose bucket comes with an event may name others)
        if any(resources == {uploads} for action, resources in choices.items() if action.startswith("s3:GetObject"))
    }
    assert readers, "no role reads the uploads?"
    # THEN each of them may still read a held object
    for role in sorted(readers):
        assert denied_by(policy, read(resolver, resolver.arn(role), "PENDING")) == [], role


def copy_read(resolver: Resolver, principal: str | None) -> Request:
    bucket, prefix = resolver.ref("MediaBucket"), resolver.mappings["Proxies"]["Names"]["Prefix"]
    return Request("s3:GetObjectVersion", f"arn:aws:s3:::{bucket}/{prefix}photos/cat.jpg/v1.jpg", principal)


@pytest.mark.parametrize("who", ["reviewer", "anonymous", "another account"])
def test_an_analysable_copy_is_unreadable_to_everyone_else_untagged(held, who):
    # The JPEG of a held HEIC shows what the HEIC shows, and the review tags only the upload
    policy, resolver = held
    principal = {"reviewer": REVIEWER, "anonymous": None, "another account": ELSEWHERE}[who]
    assert denied_by(policy, copy_read(resolver, principal)) == ["HoldAnalysableCopies"]


@pytest.mark.parametrize("role", [*WORKFLOW_ROLES, "admin"])
def test_the_workflow_roles_and_the_admin_role_still_read_the_copies(held, role):
    policy, resolver = held
    principal = ADMIN if role == "admin" else resolver.arn(role)
    assert denied_by(policy, copy_read(resolver, principal)) == []


def test_the_statements_exist_only_with_hold_flagged_media_and_name_the_review_tag(transformed):
    source = Template.load(TEMPLATE_PATH)
    statements = source.body["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    held, copies = [s["Fn::If"] for s in statements if "Fn::If" in s]
    for condition, _, otherwise in (held, copies):
        assert (condition, otherwise) == ("HoldsFlaggedMedia", {"Ref": "AWS::NoValue"})
    assert source.body["Conditions"]["HoldsFlaggedMedia"] == {"Fn::Equals": [{"Ref": "HoldFlaggedMedia"}, "true"]}
    statement = held[1]
    # one list of exempted principals, written twice (an IAM condition block cannot say "tagged, or a copy")
    assert copies[1]["Condition"]["ArnNotLike"] == statement["Condition"]["ArnNotLike"]
    tag_key = source.body["Mappings"]["Review"]["Names"]["TagKey"]
    assert list(statement["Condition"]["StringEquals"]) == [f"s3:ExistingObjectTag/{tag_key}"]
    # the review tags with the same key (its DefinitionSubstitution)
    review = source.resolve(source.resources["ReviewStateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert review["ReviewTagKey"] == tag_key
