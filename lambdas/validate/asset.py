"""Who an uploaded object is: the keys its event may name, and its idempotency key."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote, unquote_plus


def key_candidates(event_key: str) -> list[str]:
    """The keys an EventBridge "Object Created" event's `object.key` may stand for, most likely first.

    This is the one place keys are decoded. AWS documents no encoding for this field: S3's
    notifications sent straight to SQS, SNS or Lambda form-encode the key (a space is '+'),
    while AWS's own samples read the EventBridge key as it is (see README, "Object keys").
    Validate tries each candidate with the event's version id, so only the real key matches
    whichever form arrives: the raw key, then RFC 3986 percent-decoding, then form decoding.
    """
    candidates = [event_key]
    for decode in (unquote, unquote_plus):
        try:
            decoded = decode(event_key, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            continue  # percent escapes that are not UTF-8: this form cannot be the one
        if decoded not in candidates:
            candidates.append(decoded)
    return candidates


def asset_id(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Idempotency key of one object version: the same upload always maps to the same id.

    The version id identifies the bytes where versioning is on; the ETag stands in for it
    where versioning is off. The id is also the execution name, so it must stay within
    Step Functions' 80 characters.
    """
    revision = version_id if version_id and version_id != "null" else f"etag:{(etag or '').strip(chr(34))}"
    digest = hashlib.sha256("\n".join((bucket, key, revision)).encode("utf-8")).hexdigest()
    return digest[:64]
