"""Validate object: decide from its bytes whether Rekognition can analyse an uploaded object.

The verdict is ACCEPTED (an image or video Rekognition takes as it is, or, with `convert`, one
rekflow makes an analysable copy of first), REJECTED (with a reason code a user can act on) or
SKIPPED (the object is gone). The size limits, the pixel budget and the longest video hold for
every object, converted or not, and are checked from headers before anything is decoded, so a
decompression bomb never reaches a decoder. Only S3 faults raise, with a name:
S3Unavailable (S3 busy or failing; the state machine retries) or ObjectUnreadable (S3 refused
the read; the execution fails and can be redriven once the cause is fixed).

"Gone" is decided with s3:ListBucket granted (without it S3 answers 403 for a missing key, not
404): the uploaded version no longer exists, or the key's current version is a delete marker,
which means somebody deleted the object after uploading it (on the versioned media bucket the
uploaded version stays readable by its id, but the user's intent is that it is gone).
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
from file_metadata import jpeg_exif, metadata_from_exif, png_exif
from image_probe import probe_image
from ranged_file import ranged_file
from video_format import VideoInfo, video_info
from webm_format import webm_info

from asset import asset_id, key_candidates
from media_format import MediaFormatError, Sniffed, check_complete, head_first, image_size, sniff

logger = Logger()
tracer = Tracer()
metrics = Metrics()

MAX_IMAGE_BYTES = int(os.environ["MAX_IMAGE_BYTES"])  # Rekognition's own limit for an image read from S3
MAX_IMAGE_SIDE = int(os.environ["MAX_IMAGE_SIDE"])  # and for its width and height (DetectLabels, moderation)
MAX_SOURCE_IMAGE_BYTES = int(os.environ["MAX_SOURCE_IMAGE_BYTES"])  # largest image rekflow converts
MAX_IMAGE_PIXELS = int(os.environ["MAX_IMAGE_PIXELS"])
MAX_VIDEO_BYTES = int(os.environ["MAX_VIDEO_BYTES"])
MAX_VIDEO_DURATION_SECONDS = int(os.environ["MAX_VIDEO_DURATION_SECONDS"])
# How long the workflow waits for a video job's completion: a floor plus so much per second of video.
VIDEO_JOB_TIMEOUT_BASE_SECONDS = int(os.environ["VIDEO_JOB_TIMEOUT_BASE_SECONDS"])
VIDEO_JOB_TIMEOUT_FACTOR = float(os.environ["VIDEO_JOB_TIMEOUT_FACTOR"])
MAX_VIDEO_JOB_TIMEOUT_SECONDS = 24 * 3600
# Whether a photo's GPS position goes into its results (template parameter StoreGpsLocation).
STORE_GPS_LOCATION = os.environ["STORE_GPS_LOCATION"].lower() == "true"
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 4 * 1024
GONE_CODES = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
# S3 busy or failing: worth another try (503 SlowDown is S3's answer to too many requests).
TRANSIENT_CODES = {"500", "503", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"}
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


class S3Unavailable(Exception):
    """S3 answered with a server-side or throttling error; the state machine retries Validate."""


class ObjectUnreadable(Exception):
    """S3 refused to read the object (for example AccessDenied or a KMS error)."""


def validate_object(detail: dict[str, Any], s3: Any) -> dict[str, Any]:
    """Verdict for the object named in an S3 "Object Created" event detail."""
    bucket = detail["bucket"]["name"]
    version_id = detail["object"].get("version-id")
    etag = detail["object"].get("etag")
    version = {"VersionId": version_id} if version_id else {}
    try:
        key, head = _find_object(s3, bucket, key_candidates(detail["object"]["key"]), version, etag)
        verdict: dict[str, Any] = {
            "bucket": bucket,
            "key": key,
            "versionId": version_id or "null",
            "etag": (head or {}).get("ETag", etag),
            "size": (head or {}).get("ContentLength", detail["object"].get("size", 0)),
            "assetId": asset_id(bucket, key, version_id, etag),
            "mediaType": "other",
            "format": "UNKNOWN",
        }
        if head is None:
            return _skip(verdict, "OBJECT_GONE", "The object was deleted before it could be analysed.")
        if version_id and _deleted_since(s3, bucket, key):
            return _skip(
                verdict,
                "OBJECT_DELETED",
                "The object was deleted after this upload (its current version is a delete marker).",
            )
        if verdict["size"] == 0:
            return _reject(verdict, "EMPTY_OBJECT", "The object has no bytes.")

        def read_at(offset: int, length: int) -> bytes:
            return _get_range(s3, bucket, key, version, f"bytes={offset}-{offset + length - 1}")

        leading = read_at(0, HEAD_BYTES)
        return _judge(verdict, leading, read_at, lambda: _get_range(s3, bucket, key, version, f"bytes=-{TAIL_BYTES}"))
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = f"S3 answered {code} for s3://{bucket}: {error.response['Error'].get('Message', '')}"
        raise (S3Unavailable if code in TRANSIENT_CODES else ObjectUnreadable)(message) from error


def _find_object(
    s3: Any, bucket: str, candidates: list[str], version: dict[str, str], etag: str | None
) -> tuple[str, dict[str, Any] | None]:
    """The key the event names and its HeadObject, or (most likely key, None) when none exists.

    With a version id only the real key can match. Without one (versioning off) the ETag
    breaks a tie between two existing keys that decode alike.
    """
    existing: list[tuple[str, dict[str, Any]]] = []
    for key in candidates:
        try:
            head = s3.head_object(Bucket=bucket, Key=key, **version)
        except ClientError as error:
            if error.response["Error"]["Code"] not in GONE_CODES:
                raise
            continue
        if version or str(head.get("ETag", "")).strip('"') == (etag or "").strip('"'):
            existing = [(key, head)]
            break
        existing.append((key, head))
    if not existing:
        return candidates[0], None
    key, head = existing[0]
    if key != candidates[0]:
        # The evidence on how EventBridge encodes keys is thin: count every time it was not the raw key.
        logger.info("object key decoded", extra={"event_key": candidates[0], "key": key})
        metrics.add_metric(name="ObjectKeyDecoded", unit=MetricUnit.Count, value=1)
    return key, head


def _deleted_since(s3: Any, bucket: str, key: str) -> bool:
    """Whether the key's current version is a delete marker (S3 answers 404 with x-amz-delete-marker)."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if error.response["Error"]["Code"] in GONE_CODES:
            return str(headers.get("x-amz-delete-marker", "")).lower() == "true"
        raise
    return False


def _judge(verdict: dict[str, Any], leading: bytes, read_at: Any, read_tail: Any) -> dict[str, Any]:
    sniffed = sniff(leading)
    verdict.update(mediaType=sniffed.media_type, format=sniffed.format)
    if sniffed.media_type == "other":
        return _reject(verdict, "NOT_MEDIA", "The bytes are not an image or a video.")
    if not (sniffed.supported or sniffed.convertible):
        return _reject(
            verdict,
            "UNSUPPORTED_FORMAT",
            f"{sniffed.format} is neither a format Rekognition takes nor one rekflow converts: "
            "save or export it as JPEG or PNG.",
        )
    try:
        if sniffed.media_type == "video":
            return _judge_video(verdict, sniffed, leading, read_at)
        if sniffed.convertible:
            return _judge_convertible_image(verdict, sniffed, leading, read_at)
        return _judge_image(verdict, sniffed, leading, read_at, read_tail)
    except MediaFormatError as error:
        return _reject(verdict, error.reason, str(error))


def _judge_image(
    verdict: dict[str, Any], sniffed: Sniffed, leading: bytes, read_at: Any, read_tail: Any
) -> dict[str, Any]:
    """A JPEG or PNG: analysed as it is, or converted when it is over Rekognition's byte or side limits."""
    if verdict["size"] > MAX_SOURCE_IMAGE_BYTES:
        return _too_large(verdict)
    width, height = image_size(sniffed.format, read_at, leading)
    verdict.update(width=width, height=height)
    _add_metadata(verdict, jpeg_exif(read_at, leading) if sniffed.format == "JPEG" else png_exif(leading))
    refused = _over_pixel_budget(verdict)
    if refused:
        return refused
    if verdict["size"] > MAX_IMAGE_BYTES:
        # Decoding will tell whether the bytes are whole; the walk to the end marker would read them all.
        return _convert(verdict, "JPEG", f"{verdict['size']} bytes is over Rekognition's {MAX_IMAGE_BYTES}-byte limit")
    verdict.update(check_complete(sniffed.format, read_tail(), read_at, verdict["size"], leading))
    if max(width, height) > MAX_IMAGE_SIDE:
        return _convert(verdict, "JPEG", f"{width}x{height} is over Rekognition's {MAX_IMAGE_SIDE}-pixel side")
    return _accept(verdict)


def _judge_convertible_image(verdict: dict[str, Any], sniffed: Sniffed, leading: bytes, read_at: Any) -> dict[str, Any]:
    """HEIC, HEIF, AVIF, WebP, TIFF, GIF, BMP, PSD, JPEG 2000: sized from the header, then converted to a JPEG."""
    if verdict["size"] > MAX_SOURCE_IMAGE_BYTES:
        return _too_large(verdict)
    header = probe_image(
        sniffed.format, ranged_file(read_at, verdict["size"], leading), head_first(leading, read_at), verdict["size"]
    )
    verdict.update(width=header.width, height=header.height)
    if header.animated:
        verdict["animated"] = True
    _add_metadata(verdict, header.exif)
    return _over_pixel_budget(verdict) or _convert(
        verdict, "JPEG", f"Rekognition reads JPEG and PNG images, not {sniffed.format}"
    )


def _judge_video(verdict: dict[str, Any], sniffed: Sniffed, leading: bytes, read_at: Any) -> dict[str, Any]:
    if verdict["size"] > MAX_VIDEO_BYTES:
        return _reject(
            verdict, "TOO_LARGE", f"{verdict['size']} bytes is over Rekognition's {MAX_VIDEO_BYTES}-byte video limit."
        )
    info: VideoInfo
    if sniffed.format == "MATROSKA":
        info = webm_info(ranged_file(read_at, verdict["size"], leading), verdict["size"])
    else:
        # Box headers near the start are already in `leading`; only the rest costs a ranged GET.
        info = video_info(head_first(leading, read_at), verdict["size"])
    verdict.update(width=info.width, height=info.height)
    if not (info.supported or info.convertible):
        return _reject(
            verdict,
            "UNSUPPORTED_CODEC",
            f"The video is {info.codec}; Rekognition takes H.264 and rekflow converts "
            "H.265, VP8, VP9, AV1, ProRes, MPEG-2, MPEG-4 Part 2 and Motion JPEG.",
        )
    if info.duration_millis <= 0:
        return _reject(
            verdict,
            "NO_DURATION",
            "The video declares no duration (a recording never finalised), so "
            "its length cannot be checked before converting it.",
        )
    if info.duration_millis > MAX_VIDEO_DURATION_SECONDS * 1000:
        return _reject(
            verdict,
            "TOO_LONG",
            f"The video runs {info.duration_millis / 1000:.1f} s, over the "
            f"{MAX_VIDEO_DURATION_SECONDS} s limit (template parameter "
            "MaxVideoDurationSeconds).",
        )
    timeout = VIDEO_JOB_TIMEOUT_BASE_SECONDS + VIDEO_JOB_TIMEOUT_FACTOR * info.duration_millis / 1000
    timeout = min(int(timeout), MAX_VIDEO_JOB_TIMEOUT_SECONDS)
    # The parked task tokens expire (DynamoDB TTL) a day after the workflow stops waiting for them.
    verdict["video"] = {
        "codec": info.codec,
        "durationMillis": info.duration_millis,
        "jobTimeoutSeconds": timeout,
        "tokenExpiresAt": int(time.time()) + timeout + 24 * 3600,
    }
    if sniffed.format not in ("MP4", "MOV") or not info.supported:
        return _convert(
            verdict,
            "H.264 MP4",
            f"Rekognition reads H.264 in MP4 or MOV, not {info.codec} in "
            f"{'WebM/Matroska' if sniffed.format == 'MATROSKA' else sniffed.format}",
        )
    return _accept(verdict)


def _add_metadata(verdict: dict[str, Any], exif: bytes | None) -> None:
    """Capture time, camera and (StoreGpsLocation) position from the Exif block the headers carry, if any."""
    found = metadata_from_exif(exif, STORE_GPS_LOCATION) if exif else {}
    if found:
        verdict["metadata"] = found


def _over_pixel_budget(verdict: dict[str, Any]) -> dict[str, Any] | None:
    width, height = verdict["width"], verdict["height"]
    if width == 0 or height == 0:
        return _reject(verdict, "CORRUPT", "The image header gives a zero width or height.")
    if width * height > MAX_IMAGE_PIXELS:
        return _reject(verdict, "TOO_MANY_PIXELS", f"{width}x{height} is over the {MAX_IMAGE_PIXELS}-pixel budget.")
    return None


def _too_large(verdict: dict[str, Any]) -> dict[str, Any]:
    return _reject(
        verdict,
        "TOO_LARGE",
        f"{verdict['size']} bytes is over the {MAX_SOURCE_IMAGE_BYTES}-byte limit for an image rekflow converts.",
    )


def _convert(verdict: dict[str, Any], target: str, because: str) -> dict[str, Any]:
    """Accepted, on the condition that an analysable copy is made first ("Convert image/video" in the ASL)."""
    verdict["convert"] = {"to": target, "because": because}
    return _accept(verdict)


def _accept(verdict: dict[str, Any]) -> dict[str, Any]:
    verdict.update(status="ACCEPTED", reason=None, message=None)
    return verdict


def _reject(verdict: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    verdict.update(status="REJECTED", reason=reason, message=message)
    return verdict


def _skip(verdict: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    verdict.update(status="SKIPPED", reason=reason, message=message)
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
