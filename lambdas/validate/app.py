"""Validate object: decide from its bytes whether Rekognition can analyse an uploaded object.

The verdict is ACCEPTED (an image or video Rekognition takes), REJECTED (with a reason
code a user can act on) or SKIPPED (the object is gone). Only S3 faults raise: they are
operational, so the execution fails with a named error and can be redriven.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.utilities.validation import validate
from botocore.exceptions import ClientError
from video_format import video_info

from asset import asset_id, decode_event_key
from media_format import MediaFormatError, check_complete, head_first, image_size, sniff

logger = Logger()
tracer = Tracer()
metrics = Metrics()

MAX_IMAGE_BYTES = int(os.environ["MAX_IMAGE_BYTES"])
MAX_IMAGE_PIXELS = int(os.environ["MAX_IMAGE_PIXELS"])
MAX_VIDEO_BYTES = int(os.environ["MAX_VIDEO_BYTES"])
# How long the workflow waits for a video job's completion: a floor plus so much per second of video.
VIDEO_JOB_TIMEOUT_BASE_SECONDS = int(os.environ["VIDEO_JOB_TIMEOUT_BASE_SECONDS"])
VIDEO_JOB_TIMEOUT_FACTOR = float(os.environ["VIDEO_JOB_TIMEOUT_FACTOR"])
MAX_VIDEO_JOB_TIMEOUT_SECONDS = 24 * 3600
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 4 * 1024
GONE_CODES = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
EVENT_SCHEMA = json.loads((Path(os.environ["SCHEMAS_DIR"]) / "s3-object-created.schema.json").read_text())

_s3 = None


def s3_client() -> Any:
    """One client per container, created on first use so tests can swap the endpoint first."""
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    validate(event=event, schema=EVENT_SCHEMA)
    verdict = validate_object(event["detail"], s3_client())
    logger.info("verdict", extra={"verdict": verdict})
    metrics.add_metric(name=f"Objects{verdict['status'].title()}", unit=MetricUnit.Count, value=1)
    return verdict


def validate_object(detail: dict[str, Any], s3: Any) -> dict[str, Any]:
    """Verdict for the object named in an S3 "Object Created" event detail."""
    bucket = detail["bucket"]["name"]
    key = decode_event_key(detail["object"]["key"])
    version_id = detail["object"].get("version-id")
    verdict: dict[str, Any] = {
        "bucket": bucket,
        "key": key,
        "versionId": version_id or "null",
        "etag": detail["object"].get("etag"),
        "size": detail["object"].get("size", 0),
        "assetId": asset_id(bucket, key, version_id, detail["object"].get("etag")),
        "mediaType": "other",
        "format": "UNKNOWN",
    }
    version = {"VersionId": version_id} if version_id else {}

    def read_at(offset: int, length: int) -> bytes:
        return _get_range(s3, bucket, key, version, f"bytes={offset}-{offset + length - 1}")

    try:
        head = s3.head_object(Bucket=bucket, Key=key, **version)
        verdict["size"] = head["ContentLength"]
        verdict["etag"] = head.get("ETag", verdict["etag"])
        if verdict["size"] == 0:
            return _reject(verdict, "EMPTY_OBJECT", "The object has no bytes.")
        leading = read_at(0, HEAD_BYTES)
        return _judge(verdict, leading, read_at, lambda: _get_range(s3, bucket, key, version, f"bytes=-{TAIL_BYTES}"))
    except ClientError as error:
        if error.response["Error"]["Code"] in GONE_CODES:
            verdict.update(status="SKIPPED", reason="OBJECT_GONE",
                           message="The object was deleted before it could be analysed.")
            return verdict
        raise


def _judge(verdict: dict[str, Any], leading: bytes, read_at: Any, read_tail: Any) -> dict[str, Any]:
    sniffed = sniff(leading)
    verdict.update(mediaType=sniffed.media_type, format=sniffed.format)
    if sniffed.media_type == "other":
        return _reject(verdict, "NOT_MEDIA", "The bytes are not an image or a video.")
    if not sniffed.supported:
        accepted = "JPEG or PNG" if sniffed.media_type == "image" else "MP4 or MOV"
        return _reject(verdict, "UNSUPPORTED_FORMAT",
                       f"{sniffed.format} is not supported; Rekognition takes {accepted}.")
    if sniffed.media_type == "video":
        return _judge_video(verdict, leading, read_at)
    if verdict["size"] > MAX_IMAGE_BYTES:
        return _reject(verdict, "TOO_LARGE",
                       f"{verdict['size']} bytes is over Rekognition's {MAX_IMAGE_BYTES}-byte image limit.")
    try:
        width, height = image_size(sniffed.format, read_at, leading)
        verdict.update(width=width, height=height)
        if width == 0 or height == 0:
            return _reject(verdict, "CORRUPT", "The image header gives a zero width or height.")
        if width * height > MAX_IMAGE_PIXELS:
            return _reject(verdict, "TOO_MANY_PIXELS", f"{width}x{height} is over the {MAX_IMAGE_PIXELS}-pixel budget.")
        check_complete(sniffed.format, read_tail())
    except MediaFormatError as error:
        return _reject(verdict, error.reason, str(error))
    verdict.update(status="ACCEPTED", reason=None, message=None)
    return verdict


def _judge_video(verdict: dict[str, Any], leading: bytes, read_at: Any) -> dict[str, Any]:
    if verdict["size"] > MAX_VIDEO_BYTES:
        return _reject(verdict, "TOO_LARGE",
                       f"{verdict['size']} bytes is over Rekognition's {MAX_VIDEO_BYTES}-byte video limit.")
    try:
        # Box headers near the start are already in `leading`; only the rest costs a ranged GET.
        info = video_info(head_first(leading, read_at), verdict["size"])
    except MediaFormatError as error:
        return _reject(verdict, error.reason, str(error))
    verdict.update(width=info.width, height=info.height)
    if not info.supported:
        return _reject(verdict, "UNSUPPORTED_CODEC", f"The video is {info.codec}; Rekognition takes H.264.")
    timeout = VIDEO_JOB_TIMEOUT_BASE_SECONDS + VIDEO_JOB_TIMEOUT_FACTOR * info.duration_millis / 1000
    timeout = min(int(timeout), MAX_VIDEO_JOB_TIMEOUT_SECONDS)
    # The parked task tokens expire (DynamoDB TTL) a day after the workflow stops waiting for them.
    verdict["video"] = {"codec": info.codec, "durationMillis": info.duration_millis, "jobTimeoutSeconds": timeout,
                        "tokenExpiresAt": int(time.time()) + timeout + 24 * 3600}
    verdict.update(status="ACCEPTED", reason=None, message=None)
    return verdict


def _reject(verdict: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    verdict.update(status="REJECTED", reason=reason, message=message)
    return verdict


def _get_range(s3: Any, bucket: str, key: str, version: dict[str, str], byte_range: str) -> bytes:
    try:
        body = s3.get_object(Bucket=bucket, Key=key, Range=byte_range, **version)["Body"]
    except ClientError as error:
        # A range past the end of a short object is not a fault: there are no more bytes.
        if error.response["Error"]["Code"] == "InvalidRange":
            return b""
        raise
    with body:
        data: bytes = body.read()
    return data
