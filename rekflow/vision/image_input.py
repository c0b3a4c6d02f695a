"""Fetch and check the image of a Rekognition request the way Rekognition does, before any model runs."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image

from rekflow.vision.backend import RekognitionError

# Rekognition's documented limits: 5 MB as raw bytes, 15 MB from S3, JPEG or PNG only.
MAX_BYTES_INLINE = 5 * 1024 * 1024
MAX_BYTES_S3 = 15 * 1024 * 1024
SUPPORTED_FORMATS = {"JPEG", "PNG"}
# Beyond this many pixels an image is refused before it is decoded (a decompression bomb).
MAX_PIXELS = 80_000_000


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    format: str
    width: int
    height: int

    def decode(self) -> Image.Image:
        """The pixels as RGB; `inspect` has already held the size to the pixel budget."""
        with Image.open(io.BytesIO(self.data)) as image:
            return image.convert("RGB")


def read_image(image: dict[str, Any], s3: Any) -> ImageInput:
    """Bytes of the request's Image (Bytes or S3Object), checked against Rekognition's limits."""
    if "Bytes" in image:
        data = image["Bytes"]
        if len(data) > MAX_BYTES_INLINE:
            raise RekognitionError("ImageTooLargeException", "Image bytes are larger than 5 MB.")
    elif "S3Object" in image:
        data = _read_s3_object(image["S3Object"], s3)
    else:
        raise RekognitionError("InvalidParameterException", "Image must have Bytes or S3Object.")
    return inspect(data)


def inspect(data: bytes) -> ImageInput:
    """Format and size from the header alone; refuses what Rekognition refuses."""
    try:
        with warnings.catch_warnings():
            # PIL warns past 89 MP and refuses past 179 MP; both are "too large" to Rekognition.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                fmt, (width, height) = str(opened.format), opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise RekognitionError("ImageTooLargeException", str(error)) from error
    except Exception as error:  # PIL raises many types for bytes that are not an image
        raise RekognitionError("InvalidImageFormatException", "Request has unsupported image format.") from error
    if fmt not in SUPPORTED_FORMATS:
        raise RekognitionError("InvalidImageFormatException", f"Request has unsupported image format {fmt}.")
    if width * height > MAX_PIXELS:
        raise RekognitionError("ImageTooLargeException", f"Image of {width}x{height} pixels is too large.")
    return ImageInput(data, fmt, width, height)


def version_argument(s3_object: dict[str, Any]) -> dict[str, str]:
    """S3's VersionId argument for a Rekognition S3Object ("null" is an unversioned object's id)."""
    return {"VersionId": s3_object["Version"]} if s3_object.get("Version") not in (None, "null") else {}


def _read_s3_object(s3_object: dict[str, Any], s3: Any) -> bytes:
    version = version_argument(s3_object)
    try:
        head = s3.head_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"], **version)
        if head["ContentLength"] > MAX_BYTES_S3:
            raise RekognitionError("ImageTooLargeException", "Image stored in S3 is larger than 15 MB.")
        body = s3.get_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"], **version)["Body"]
    except RekognitionError:
        raise
    except Exception as error:  # botocore raises a ClientError subclass per S3 error code
        raise RekognitionError("InvalidS3ObjectException", "Unable to get object metadata from S3. "
                               "Check object key, region and/or access permissions.") from error
    with body:
        data: bytes = body.read()
    return data
