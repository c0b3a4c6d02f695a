"""Search index: keeps the index (template.yaml, SearchIndexStream and its two Iceberg tables) in step with the
library, and takes deleted uploads out of it.

- "Media Analyzed", and "Media Reviewed" (a review decision rewrote the document): read the results document
  (and a video's feature results), send its rows to Firehose: the asset row replaces the object key's row, the
  found rows are inserted under the document's doc_id.
- S3 "Object Deleted" on the media bucket: if the key no longer has a current version (a delete marker, or
  its last version deleted for good), the library forgets it: its summary items are marked Deleted (the record
  that it was analysed stays, with when it left), its results documents and video results are deleted (the
  results bucket is versioned, so they stay recoverable until NoncurrentVersionExpiration removes them), and
  its index row is deleted. A key that still has a current version after the delete keeps everything: the
  deleted version was not the one shown.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from forget import deleted_versions, key_is_gone
from projection import deletion, project

logger = Logger()
tracer = Tracer()

STREAM = os.environ["SEARCH_INDEX_STREAM"]
RESULTS_BUCKET = os.environ["RESULTS_BUCKET"]
RESULTS_TABLE = os.environ["RESULTS_TABLE"]
VIDEO_RESULTS_PREFIX = os.environ["VIDEO_RESULTS_PREFIX"]
# PutRecordBatch takes at most 500 records (https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html).
BATCH = 500

_s3 = boto3.client("s3")
_firehose = boto3.client("firehose")
_dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event["detail-type"] == "Object Deleted":
        return forget(event["detail"])
    return index(event["detail"])


def index(detail: dict[str, Any]) -> dict[str, Any]:
    """Put one analysis into the index."""
    document = _read_json(detail["resultsLocation"])
    video: dict[str, list[dict[str, Any]]] = {}
    for feature, result in (document.get("features") or {}).items():
        if result.get("resultsLocation") and result.get("status") == "SUCCEEDED":
            video[feature] = _read_json(result["resultsLocation"])["items"]
    asset, found = project(document, video, detail["resultsLocation"])
    put_rows([asset, *found])
    logger.info("indexed", extra={"key": asset["object_key"], "found": len(found)})
    return {"indexed": asset["object_key"], "found": len(found)}


def forget(detail: dict[str, Any]) -> dict[str, Any]:
    """Take a deleted upload out of the library, if its key holds nothing current any more."""
    bucket, key = detail["bucket"]["name"], detail["object"]["key"]
    versions = _key_versions(bucket, key)
    if not key_is_gone(versions):
        logger.info("key still current", extra={"key": key})
        return {"forgotten": []}
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    forgotten = []
    for asset_id in deleted_versions(bucket, key, versions, detail["object"].get("version-id")):
        marked = _mark_deleted(asset_id, at)
        if marked is None:
            continue  # never analysed (or not by this stack)
        forgotten.append(asset_id)
        _delete_results(marked, asset_id)
    put_rows([deletion(bucket, key)])
    logger.info("forgotten", extra={"key": key, "assets": forgotten})
    return {"forgotten": forgotten}


def put_rows(rows: list[dict[str, Any]]) -> None:
    """Send rows to Firehose, resending the ones it reports failed (PutRecordBatch answers per record)."""
    for start in range(0, len(rows), BATCH):
        pending = [{"Data": (json.dumps(row) + "\n").encode()} for row in rows[start : start + BATCH]]
        for _ in range(5):
            answer = _firehose.put_record_batch(DeliveryStreamName=STREAM, Records=pending)
            if not answer.get("FailedPutCount"):
                break
            pending = [r for r, a in zip(pending, answer["RequestResponses"], strict=True) if "ErrorCode" in a]
        else:
            raise RuntimeError(f"Firehose refused {len(pending)} rows five times")


def _read_json(location: str) -> dict[str, Any]:
    parsed = urlparse(location)
    body = _s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    return dict(json.loads(body))


def _key_versions(bucket: str, key: str) -> list[dict[str, Any]]:
    """Every version and delete marker of exactly `key` (ListObjectVersions lists a prefix, a page at a time)."""
    found: list[dict[str, Any]] = []
    page = _s3.list_object_versions(Bucket=bucket, Prefix=key)
    while True:
        found += [{**v, "DeleteMarker": False} for v in page.get("Versions", []) if v["Key"] == key]
        found += [{**m, "DeleteMarker": True} for m in page.get("DeleteMarkers", []) if m["Key"] == key]
        if not page.get("IsTruncated"):
            return found
        page = _s3.list_object_versions(
            Bucket=bucket,
            Prefix=key,
            KeyMarker=page["NextKeyMarker"],
            VersionIdMarker=page["NextVersionIdMarker"],
        )


def _mark_deleted(asset_id: str, at: str) -> dict[str, Any] | None:
    """Mark the summary item deleted; its attributes, or None where there is no item."""
    try:
        answer = _dynamodb.update_item(
            TableName=RESULTS_TABLE,
            Key={"AssetId": {"S": asset_id}},
            UpdateExpression="SET Deleted = :yes, DeletedAt = if_not_exists(DeletedAt, :at)",
            ConditionExpression="attribute_exists(AssetId)",
            ExpressionAttributeValues={":yes": {"BOOL": True}, ":at": {"S": at}},
            ReturnValues="ALL_NEW",
        )
    except _dynamodb.exceptions.ConditionalCheckFailedException:
        return None
    return dict(answer["Attributes"])


def _delete_results(item: dict[str, Any], asset_id: str) -> None:
    location = urlparse(item["ResultsLocation"]["S"])
    if location.netloc == RESULTS_BUCKET:
        _s3.delete_object(Bucket=RESULTS_BUCKET, Key=location.path.lstrip("/"))
    prefix = f"{VIDEO_RESULTS_PREFIX}{asset_id}/"
    page = _s3.list_objects_v2(Bucket=RESULTS_BUCKET, Prefix=prefix)
    while True:
        for entry in page.get("Contents", []):
            _s3.delete_object(Bucket=RESULTS_BUCKET, Key=entry["Key"])
        if not page.get("IsTruncated"):
            return
        page = _s3.list_objects_v2(
            Bucket=RESULTS_BUCKET, Prefix=prefix, ContinuationToken=page["NextContinuationToken"]
        )
