"""Which analyses a deletion takes out of the library, from what S3 says the key still holds.

On a versioned bucket a plain delete only adds a delete marker, and a delete naming a version removes that
version for good (https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html); S3's
"Object Deleted" event says which (deletion-type "Delete Marker Created" or "Permanently Deleted",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html). Either way the question is the same:
does the key still show an object? If not, every analysed version of it leaves the library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any


def key_is_gone(versions: Iterable[dict[str, Any]]) -> bool:
    """True when the key has no current object: nothing left, or its latest entry is a delete marker."""
    return not any(v["IsLatest"] and not v["DeleteMarker"] for v in versions)


def version_asset_id(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """The asset id Validate gave this object version (lambdas/validate/asset.py, asset_id): the version id
    names the bytes; an object stored before versioning was enabled has version "null" and is named by ETag."""
    revision = version_id if version_id and version_id != "null" else "etag:" + (etag or "").strip('"')
    return hashlib.sha256(f"{bucket}\n{key}\n{revision}".encode()).hexdigest()


def deleted_versions(bucket: str, key: str, versions: Iterable[dict[str, Any]], event_version: str | None) -> list[str]:
    """Asset ids of every object version the key held: those S3 still lists, and the one just deleted for good."""
    ids = [version_asset_id(bucket, key, v.get("VersionId"), v.get("ETag")) for v in versions if not v["DeleteMarker"]]
    if event_version:
        ids.append(version_asset_id(bucket, key, event_version, None))
    return list(dict.fromkeys(ids))
