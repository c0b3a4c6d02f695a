"""Make an analysable copy of an upload Rekognition cannot read as it is (the "Convert …" states).

Two calls, one function:

- {"asset": verdict} for an image: reads the uploaded version, converts it to a JPEG (image_proxy) and
  writes the copy under the proxies prefix, named by the upload's identity (its asset id: bucket, key and
  version), so a rerun overwrites the same copy.
- {"asset": verdict, "job": {...}} after "Convert video to H.264": MediaConvert has written the copy at the
  same name with .mp4; its version and size are read here.

Either way the answer is the asset the analysis reads: bucket, key and version of the copy, its format and
size, `original` (the upload's own verdict, which the results document reports) and `conversion` (how the
copy was made). An image whose data cannot be decoded comes back REJECTED with TRUNCATED or CORRUPT, as
Validate refuses one; only S3 faults raise (S3Unavailable, retried; ObjectUnreadable, the execution fails).
The copies are never analysed as uploads: template.yaml's Object Created rules leave the prefix out.
"""

from __future__ import annotations

import functools
import os
import time
from importlib.metadata import version
from typing import Any
from urllib.parse import quote

import boto3
import pillow_heif
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from image_proxy import Undecodable, to_jpeg

logger = Logger()
tracer = Tracer()
metrics = Metrics()

PROXY_PREFIX = os.environ["PROXY_PREFIX"]
MAX_IMAGE_BYTES = int(os.environ["MAX_IMAGE_BYTES"])
MAX_IMAGE_SIDE = int(os.environ["MAX_IMAGE_SIDE"])
MAX_IMAGE_PIXELS = int(os.environ["MAX_IMAGE_PIXELS"])
TRANSIENT_CODES = {"500", "503", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"}
IMAGE_CONVERTER = (
    f"AWS Lambda: Pillow {version('pillow')}, pillow-heif {version('pillow-heif')} "
    f"(libheif {pillow_heif.libheif_version()})"
)
VIDEO_CONVERTER = "AWS Elemental MediaConvert"


@functools.cache
def s3_client() -> Any:
    """One client per container, made on first use (after the local runtime has pointed boto3 at its S3)."""
    return boto3.client("s3")


class S3Unavailable(Exception):
    """S3 answered with a server-side or throttling error; the state machine retries the conversion."""


class ObjectUnreadable(Exception):
    """S3 refused to read or write an object (for example AccessDenied)."""


def proxy_key(asset: dict[str, Any], extension: str) -> str:
    """Where the copy of this upload lives: its asset id is the hash of bucket, key and version."""
    return f"{PROXY_PREFIX}{asset['assetId']}/proxy.{extension}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    asset = event["asset"]
    try:
        made = adopt_video(asset, event["job"], s3_client()) if "job" in event else convert_image(asset, s3_client())
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = f"S3 answered {code}: {error.response['Error'].get('Message', '')}"
        raise (S3Unavailable if code in TRANSIENT_CODES else ObjectUnreadable)(message) from error
    logger.info(
        "analysable copy", extra={"status": made["status"], "key": made["key"], "conversion": made.get("conversion")}
    )
    metrics.add_metric(
        name="CopiesMade" if made["status"] == "ACCEPTED" else "CopiesRefused", unit=MetricUnit.Count, value=1
    )
    return made


def convert_image(asset: dict[str, Any], s3: Any) -> dict[str, Any]:
    started = time.perf_counter()
    version_id = asset["versionId"]
    read = {"VersionId": version_id} if version_id != "null" else {}
    body = s3.get_object(Bucket=asset["bucket"], Key=asset["key"], **read)["Body"]
    with body:
        data = body.read()
    try:
        converted = to_jpeg(data, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS, fmt=asset["format"])
    except Undecodable as error:
        refused = {k: v for k, v in asset.items() if k != "convert"}
        return {**refused, "status": "REJECTED", "reason": error.reason, "message": str(error)}
    key = proxy_key(asset, "jpg")
    written = s3.put_object(
        Bucket=asset["bucket"], Key=key, Body=converted.jpeg, ContentType="image/jpeg", Metadata=_provenance(asset)
    )
    return _copy(
        asset,
        key,
        written.get("VersionId"),
        written.get("ETag"),
        len(converted.jpeg),
        "JPEG",
        converted.width,
        converted.height,
        {"by": IMAGE_CONVERTER, "steps": converted.steps, "seconds": round(time.perf_counter() - started, 3)},
    )


def adopt_video(asset: dict[str, Any], job: dict[str, Any], s3: Any) -> dict[str, Any]:
    """`job`: the finished job's Id, Timing and OutputGroupDetails (one group, one output: the copy)."""
    key = proxy_key(asset, "mp4")
    head = s3.head_object(Bucket=asset["bucket"], Key=key)
    (output,) = job["outputGroups"][0]["OutputDetails"]
    timing = job.get("timing", {})
    seconds = timing["FinishTime"] - timing["StartTime"] if {"StartTime", "FinishTime"} <= set(timing) else 0
    video = {**asset["video"], "codec": "H.264", "durationMillis": int(output["DurationInMs"])}
    return {
        **_copy(
            asset,
            key,
            head.get("VersionId"),
            head.get("ETag"),
            head["ContentLength"],
            "MP4",
            int(output["VideoDetails"]["WidthInPx"]),
            int(output["VideoDetails"]["HeightInPx"]),
            {
                "by": VIDEO_CONVERTER,
                "jobId": job["id"],
                "steps": ["H.264 (QVBR) in MP4, video only"],
                "seconds": max(0, seconds),
            },
        ),
        "video": video,
    }


def _copy(
    asset: dict[str, Any],
    key: str,
    version_id: str | None,
    etag: str | None,
    size: int,
    fmt: str,
    width: int,
    height: int,
    made: dict[str, Any],
) -> dict[str, Any]:
    original = {k: v for k, v in asset.items() if k != "convert"}
    return {
        "bucket": asset["bucket"],
        "key": key,
        "versionId": version_id or "null",
        "etag": etag,
        "size": size,
        "assetId": asset["assetId"],
        "mediaType": asset["mediaType"],
        "format": fmt,
        "width": width,
        "height": height,
        "status": "ACCEPTED",
        "reason": None,
        "message": None,
        "original": original,
        "conversion": {"to": asset["convert"]["to"], "because": asset["convert"]["because"], **made},
    }


def _provenance(asset: dict[str, Any]) -> dict[str, str]:
    """Which upload a copy was made from, on the copy itself (S3 metadata is ASCII: the key is percent-encoded)."""
    return {
        "original-bucket": asset["bucket"],
        "original-key": quote(asset["key"], safe="/"),
        "original-version": asset["versionId"],
    }
