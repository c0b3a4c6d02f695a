"""The EventBridge events S3 sends for an upload ("Object Created") and a deletion ("Object Deleted"), built the
way S3 builds them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

from rekflow.local.template import ACCOUNT_ID, REGION

# How the key may appear in the event. AWS documents none of these for EventBridge (README, "Object
# keys"): raw is what AWS's own samples read; form is how S3's direct notifications encode keys.
KEY_ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda key: key,
    "percent": lambda key: quote(key, safe="/-_.~!*'()"),  # RFC 3986: a space is %20, '+' is %2B
    "form": lambda key: quote_plus(key, safe="/"),  # application/x-www-form-urlencoded: a space is '+'
}


def encode_key(key: str, encoding: str = "raw") -> str:
    return KEY_ENCODINGS[encoding](key)


def object_created_event(
    bucket: str,
    key: str,
    size: int,
    etag: str,
    version_id: str | None,
    sequencer: str | None = None,
    reason: str = "PutObject",
    key_encoding: str = "raw",
) -> dict[str, Any]:
    """An "Object Created" event for one object version, as delivered to EventBridge targets."""
    obj: dict[str, Any] = {
        "key": encode_key(key, key_encoding),
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": sequencer or uuid.uuid4().hex[:18].upper(),
    }
    if version_id:
        obj["version-id"] = version_id
    return _event("Object Created", bucket, {"object": obj, "reason": reason})


def object_deleted_event(
    bucket: str, key: str, version_id: str | None, deletion_type: str, reason: str = "DeleteObject"
) -> dict[str, Any]:
    """An "Object Deleted" event: `deletion_type` "Delete Marker Created" (a plain delete on a versioned bucket;
    `version_id` is the marker's) or "Permanently Deleted" (a version deleted for good, or an unversioned object);
    `reason` DeleteObject or "Lifecycle Expiration" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    obj: dict[str, Any] = {"key": key, "sequencer": uuid.uuid4().hex[:18].upper()}
    if version_id:
        obj["version-id"] = version_id
    return _event("Object Deleted", bucket, {"object": obj, "reason": reason, "deletion-type": deletion_type})


def _event(detail_type: str, bucket: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": fields["object"],
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            **{name: value for name, value in fields.items() if name != "object"},
        },
    }
