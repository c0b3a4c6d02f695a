"""The template's bucket policies, enforced by the local S3 on the reads whose caller it knows.

moto stores a bucket policy but never applies it, so a HoldFlaggedMedia quarantine that let a reader through, or one
that shut out the workflow's own roles, would pass offline. This evaluates each AWS::S3::BucketPolicy of the
template (rekflow.local.bucket_policy, the deploy gate's model of IAM) for GetObject, with the object version's tags
as S3 supplies them (s3:ExistingObjectTag/<key>), and answers an explicit Deny with S3's 403 AccessDenied.

Who calls: a function's handler calls as its execution role (template.role_arn_of); code inside `acting_as(arn)` as
that principal (None: an anonymous request). The state machines' own tasks and the runtime's bookkeeping carry no
principal and are not evaluated: every role of a workflow is exempted by the policy (tests/deploy/test_bucket_policy.py
proves that on the transformed template).
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.session import Session

from rekflow.local.bucket_policy import Request, denied_by
from rekflow.local.functions import current_function
from rekflow.local.routing import api_params
from rekflow.local.template import Template

_UNKNOWN = object()  # no principal: the call is not evaluated
_principal: contextvars.ContextVar[Any] = contextvars.ContextVar("s3_principal", default=_UNKNOWN)
_HOOK = "before-call.s3.GetObject"
_TAG_KEY = "s3:ExistingObjectTag/"


@contextlib.contextmanager
def acting_as(principal_arn: str | None) -> Iterator[None]:
    """Calls made inside are evaluated as `principal_arn`'s (None: an anonymous request)."""
    token = _principal.set(principal_arn)
    try:
        yield
    finally:
        _principal.reset(token)


class S3BucketPolicies:
    def __init__(self, template: Template, s3: Callable[[], Any]) -> None:
        self.template = template
        self._s3 = s3  # the local S3's client, to read an object version's tags
        self.policies = {
            str(template.resolve(resource["Properties"]["Bucket"])): template.resolve(
                resource["Properties"]["PolicyDocument"]
            )
            for resource in template.resources_of_type("AWS::S3::BucketPolicy").values()
        }
        # The buckets whose policy reads an object's tags: only there does a read cost a GetObjectTagging first.
        self._reads_tags = {bucket for bucket, policy in self.policies.items() if _TAG_KEY in str(policy)}

    def install(self, session: Session) -> None:
        session.register(_HOOK, self._answer)

    def uninstall(self, session: Session) -> None:
        session.unregister(_HOOK, self._answer)

    def caller(self) -> Any:
        function = current_function.get()
        if function is not None:
            return self.template.role_arn_of(function.logical_id)
        return _principal.get()

    def refused(self, bucket: str, key: str, version_id: str | None, principal: str | None) -> list[str]:
        """The Sids of the bucket policy's statements that deny `principal` reading the object version."""
        policy = self.policies.get(bucket)
        if policy is None:
            return []
        tag_set: list[dict[str, str]] = []
        if bucket in self._reads_tags:
            version = {"VersionId": version_id} if version_id else {}
            try:
                tag_set = self._s3().get_object_tagging(Bucket=bucket, Key=key, **version)["TagSet"]
            except self._s3().exceptions.ClientError:
                return []  # no such key or version: S3 answers that, as moto does
        # Reading a version by its id is s3:GetObjectVersion (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
        action = "s3:GetObjectVersion" if version_id else "s3:GetObject"
        request = Request(action, f"arn:aws:s3:::{bucket}/{key}", principal, {t["Key"]: t["Value"] for t in tag_set})
        return denied_by(policy, request)

    def _answer(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        principal = self.caller()
        if principal is _UNKNOWN:
            return None
        params = api_params(context)
        statements = self.refused(params["Bucket"], params["Key"], params.get("VersionId"), principal)
        if not statements:
            return None
        parsed = {
            "Error": {"Code": "AccessDenied", "Message": f"Access Denied (bucket policy: {', '.join(statements)})"},
            "ResponseMetadata": {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 403, "HTTPHeaders": {}},
        }
        return AWSResponse("https://local.rekflow", 403, {}, None), parsed
