"""Who an uploaded object is: its decoded key and its idempotency key."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote


def decode_event_key(raw_key: str) -> str:
    """The object key as S3 stores it, from the key in an EventBridge "Object Created" event.

    This is the one place keys are decoded. The event carries the key percent-encoded
    (RFC 3986: a space is %20 and a literal '+' is %2B). It is *not* form-encoded like the
    S3 notifications sent straight to SQS, SNS or Lambda, so decoding it with unquote_plus
    would turn every literal '+' into a space and lose the object.
    """
    return unquote(raw_key, encoding="utf-8", errors="strict")


def asset_id(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Idempotency key of one object version: the same upload always maps to the same id.

    The version id identifies the bytes where versioning is on; the ETag stands in for it
    where versioning is off. The id is also the execution name, so it must stay within
    Step Functions' 80 characters.
    """
    revision = version_id if version_id and version_id != "null" else f"etag:{(etag or '').strip(chr(34))}"
    digest = hashlib.sha256("\n".join((bucket, key, revision)).encode("utf-8")).hexdigest()
    return digest[:64]
