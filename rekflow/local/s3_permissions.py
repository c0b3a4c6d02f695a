"""Answer a function's read of a missing S3 key as S3 answers that function's role.

S3 says 404 (NoSuchKey) for a missing key only to a caller allowed s3:ListBucket on the bucket;
any other caller gets 403 AccessDenied, so it cannot learn which keys exist. moto always says
404, which hid a Validate role that could not tell "deleted" from "denied". This reads each
function's policy statements from template.yaml and rewrites moto's 404 into the 403 AWS sends.

Source: Amazon S3 API Reference, GetObject and HeadObject, "Permissions": "If you have the
s3:ListBucket permission on the bucket, Amazon S3 returns an HTTP status code 404 Not Found error.
If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Access Denied error."
"""

from __future__ import annotations

from typing import Any

from botocore.session import Session

from rekflow.local.functions import current_function
from rekflow.local.routing import api_params
from rekflow.local.template import Template

_OPERATIONS = ("HeadObject", "GetObject")


def listable_buckets(template: Template) -> dict[str, set[str]]:
    """Per function logical id, the buckets its inline policy statements allow s3:ListBucket on."""
    found: dict[str, set[str]] = {}
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        buckets: set[str] = set()
        for policy in resource["Properties"].get("Policies", []):
            for statement in template.resolve(policy.get("Statement", [])) if isinstance(policy, dict) else []:
                allowed = _listed(statement["Action"]) if statement.get("Effect") == "Allow" else set()
                if not {"s3:ListBucket", "s3:*", "*"} & allowed:
                    continue
                buckets |= {r.removeprefix("arn:aws:s3:::") for r in _listed(statement["Resource"]) if "/" not in r}
        found[logical_id] = buckets
    return found


def _listed(value: Any) -> set[str]:
    return {str(v) for v in value} if isinstance(value, list) else {str(value)}


class S3ListPermissions:
    """Installs after-call hooks that turn moto's 404 into 403 for functions without s3:ListBucket."""

    def __init__(self, template: Template) -> None:
        self.listable = listable_buckets(template)

    def install(self, session: Session) -> None:
        for operation in _OPERATIONS:
            session.register(f"after-call.s3.{operation}", self._answer_as_s3)

    def uninstall(self, session: Session) -> None:
        for operation in _OPERATIONS:
            session.unregister(f"after-call.s3.{operation}", self._answer_as_s3)

    def _answer_as_s3(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        function = current_function.get()
        if function is None or http_response.status_code != 404:
            return
        if api_params(context).get("Bucket") in self.listable.get(function.logical_id, set()):
            return
        # botocore raises from `parsed` after this hook: the caller sees S3's 403.
        head = parsed.get("Error", {}).get("Code") == "404"  # a HEAD error has no body, only its status
        parsed["Error"] = (
            {"Code": "403", "Message": "Forbidden"} if head else {"Code": "AccessDenied", "Message": "Access Denied"}
        )
        parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 403
