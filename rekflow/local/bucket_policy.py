"""A bucket policy's answer for one request, as IAM evaluates a resource-based policy, for the few condition
operators rekflow's bucket policies use; any other operator is refused, so a policy this model cannot read fails
its test instead of passing it. The deploy-readiness gate asks it about the SAM-transformed template
(tests/deploy/test_bucket_policy.py); the local S3 enforces it (rekflow.local.s3_bucket_policies).

IAM: an explicit Deny in any statement that applies wins; a statement applies when its Principal, Action, Resource
and every condition match (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
Conditions: the operators of a block are ANDed, the keys of an operator ANDed, the values of a key ORed; a key the
request does not carry fails a positive operator and satisfies a negated one (ArnNotLike, StringNotEquals...)
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html, and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn:
an anonymous request carries no aws:PrincipalArn). S3 supplies s3:ExistingObjectTag/<key> for GetObject and
GetObjectVersion, not for PutObject or DeleteObject (https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TAG_KEY_ACTIONS = {"s3:GetObject", "s3:GetObjectVersion"}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    principal_arn: str | None  # None: an anonymous request
    object_tags: dict[str, str] = field(default_factory=dict)
    secure_transport: bool = True

    def context(self) -> dict[str, str]:
        keys = {"aws:SecureTransport": str(self.secure_transport).lower()}
        if self.principal_arn is not None:
            keys["aws:PrincipalArn"] = self.principal_arn
        if self.action in TAG_KEY_ACTIONS:
            keys |= {f"s3:ExistingObjectTag/{k}": v for k, v in self.object_tags.items()}
        return keys


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own, * and ? as wildcards."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    return len(pattern_parts) == len(value_parts) == 6 and all(
        fnmatch.fnmatchcase(v, p) for p, v in zip(pattern_parts, value_parts, strict=True)
    )


# operator -> (does one policy value match the request's value, is the operator negated)
OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda expected, actual: expected == actual, False),
    "ArnNotLike": (_arn_like, True),
    "Bool": (lambda expected, actual: str(expected).lower() == actual, False),
}


def condition_matches(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in OPERATORS:
            raise NotImplementedError(f"condition operator {operator}: teach bucket_policy.py, with its source")
        match, negated = OPERATORS[operator]
        for key, values in keys.items():
            if key not in context:
                if not negated:
                    return False
                continue
            any_match = any(match(str(value), context[key]) for value in listed(values))
            if any_match == negated:  # a negated operator matches when no value matches
                return False
    return True


def _principal_matches(principal: Any, arn: str | None) -> bool:
    if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
        return True
    return arn is not None and isinstance(principal, dict) and arn in listed(principal.get("AWS", []))


def applies(statement: dict[str, Any], request: Request) -> bool:
    return (
        _principal_matches(statement.get("Principal"), request.principal_arn)
        and any(fnmatch.fnmatchcase(request.action.lower(), str(a).lower()) for a in listed(statement["Action"]))
        and any(fnmatch.fnmatchcase(request.resource, str(r)) for r in listed(statement["Resource"]))
        and condition_matches(statement.get("Condition", {}), request.context())
    )


def denied_by(policy: dict[str, Any], request: Request) -> list[str]:
    """The Sids of the Deny statements that refuse the request (empty: the bucket policy denies nothing, and the
    caller's own IAM policies decide)."""
    return [
        str(statement.get("Sid", "?"))
        for statement in listed(policy["Statement"])
        if statement["Effect"] == "Deny" and applies(statement, request)
    ]
