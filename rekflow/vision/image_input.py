"""Fetch and check the image of a Rekognition request the way Rekognition does, before any model runs."""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from rekflow.vision.backend import RekognitionError

# Rekognition's documented limits: 5 MB as raw bytes, 15 MB from S3, JPEG or PNG only.
MAX_BYTES_INLINE = 5 * 1024 * 1024
MAX_BYTES_S3 = 15 * 1024 * 1024
SUPPORTED_FORMATS = {"JPEG", "PNG"}
# Pillow names a multi-picture JPEG (CIPA DC-007: a camera's stereo pair, a phone's Ultra HDR gain map) "MPO". The
# file is a JPEG whose first image is an ordinary JPEG stream, which is what any JPEG reader decodes, so it is one.
JPEG_FAMILY = {"JPEG", "MPO"}
# Beyond this many pixels an image is refused before it is decoded (a decompression bomb).
MAX_PIXELS = 80_000_000
# EXIF Orientation -> the transpose that turns the stored pixels upright (as PIL's ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION = 0x0112
# What Pillow raises for bytes it cannot read or decode: the exceptions its own fuzzing test accepts from any file
# (python-pillow/Pillow Tests/test_fuzzers.py: OSError, which PIL.UnidentifiedImageError and "image file is
# truncated" are, SyntaxError for broken PNG/APNG chunks, ValueError, NotImplementedError, OverflowError), and
# EOFError and struct.error, which its plugins' chunk readers raise on a short file. Anything else is a bug here,
# not a bad image, and is left to surface as one.
DECODER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    NotImplementedError,
    OverflowError,
    EOFError,
    struct.error,
)
# Rekognition's answer for an image it cannot read: "The provided image format is not supported."
# (InvalidImageFormatException, https://docs.aws.amazon.com/rekognition/latest/APIReference/API_DetectLabels.html)
UNSUPPORTED = "Request has unsupported image format."


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    format: str
    width: int
    height: int

    def decode(self, max_side: int | None = None, min_side: int | None = None) -> Image.Image:
        """The pixels as RGB, upright, downscaled as `downscale` says (never enlarged).

        A JPEG is turned as its EXIF Orientation says: Rekognition corrects a JPEG's orientation and
        gives boxes relative to the corrected image (a PNG's are left as stored). A JPEG that needs
        downscaling decodes straight at the largest 1/2, 1/4 or 1/8 scale that still covers the size
        asked for (libjpeg's DCT scaling), so a 12 MP photo is never held at full size. `inspect`
        has already held the size to the pixel budget. Pixels that do not decode (a truncated file, an APNG whose
        frames are out of sequence) raise InvalidImageFormatException, as Rekognition answers them."""
        try:
            with _pillow_warnings(), Image.open(io.BytesIO(self.data)) as image:
                wanted = scaled_size(image.size, max_side, min_side)
                if wanted != image.size and image.format in JPEG_FAMILY:
                    image.draft("RGB", wanted)
                orientation = image.getexif().get(EXIF_ORIENTATION, 1) if image.format in JPEG_FAMILY else 1
                rgb = image.convert("RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise RekognitionError("ImageTooLargeException", str(error)) from error
        except DECODER_ERRORS as error:
            raise RekognitionError("InvalidImageFormatException", f"{UNSUPPORTED} {error}") from error
        if orientation in UPRIGHT:
            rgb = rgb.transpose(UPRIGHT[orientation])
        return downscale(rgb, max_side, min_side)


@contextlib.contextmanager
def _pillow_warnings() -> Iterator[None]:
    """Pillow's warnings while reading: past 89 MP it warns and past 179 MP it refuses, both "too large" to
    Rekognition, so the warning is raised as DecompressionBombWarning. Its other warnings ("Invalid APNG, will
    use default PNG image if possible") say it reads what it can; whether it could is what the decoder's
    errors say, so they are not raised (a test run's filterwarnings=error would make them exceptions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def scaled_size(size: tuple[int, int], max_side: int | None = None, min_side: int | None = None) -> tuple[int, int]:
    """`size` scaled down so that the longer side is at most `max_side` (what a detector needs to see), or
    only so far that the shorter side stays at least `min_side` (what a fixed-input classifier needs)."""
    width, height = size
    scale = 1.0
    if max_side is not None:
        scale = min(scale, max_side / max(width, height))
    if min_side is not None:
        scale = min(scale, min_side / min(width, height))
    return (max(1, round(width * scale)), max(1, round(height * scale))) if scale < 1 else size


def downscale(image: Image.Image, max_side: int | None = None, min_side: int | None = None) -> Image.Image:
    """`image` at `scaled_size` (itself when it is no larger); Pillow's reducing resize, so no aliasing."""
    wanted = scaled_size(image.size, max_side, min_side)
    return image if wanted == image.size else image.resize(wanted, Image.Resampling.BILINEAR, reducing_gap=3.0)


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
        with _pillow_warnings(), Image.open(io.BytesIO(data)) as opened:
            fmt, (width, height) = str(opened.format), opened.size
            fmt = "JPEG" if fmt in JPEG_FAMILY else fmt
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise RekognitionError("ImageTooLargeException", str(error)) from error
    except DECODER_ERRORS as error:
        raise RekognitionError("InvalidImageFormatException", UNSUPPORTED) from error
    if fmt not in SUPPORTED_FORMATS:
        raise RekognitionError("InvalidImageFormatException", f"Request has unsupported image format {fmt}.")
    if width * height > MAX_PIXELS:
        raise RekognitionError("ImageTooLargeException", f"Image of {width}x{height} pixels is too large.")
    return ImageInput(data, fmt, width, height)


def version_argument(s3_object: dict[str, Any]) -> dict[str, str]:
    """S3's VersionId argument for a Rekognition S3Object ("null" is an unversioned object's id)."""
    return {"VersionId": s3_object["Version"]} if s3_object.get("Version") not in (None, "null") else {}


# The four image features of one execution read the same object version at once; a version's bytes
# never change, so the last few are kept (an unversioned object is always read again).
_RECENT_VERSIONS = 4
_recent: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
_recent_lock = threading.Lock()


def _read_s3_object(s3_object: dict[str, Any], s3: Any) -> bytes:
    if not s3_object.get("Bucket") or not s3_object.get("Name"):
        # An S3Object without both is the request's fault, answered as an unreadable object (as before the
        # S3 errors were narrowed to botocore's; AWS's exact answer for it is not documented).
        raise RekognitionError("InvalidS3ObjectException", "S3Object needs a Bucket and a Name.")
    version = version_argument(s3_object)
    identity = (s3_object["Bucket"], s3_object["Name"], version.get("VersionId", ""))
    with _recent_lock:
        if version and identity in _recent:
            _recent.move_to_end(identity)
            return _recent[identity]
    data = _read_s3_object_once(s3_object, s3, version)
    if version:
        with _recent_lock:
            _recent[identity] = data
            while len(_recent) > _RECENT_VERSIONS:
                _recent.popitem(last=False)
    return data


def _read_s3_object_once(s3_object: dict[str, Any], s3: Any, version: dict[str, str]) -> bytes:
    try:
        head = s3.head_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"], **version)
        if head["ContentLength"] > MAX_BYTES_S3:
            raise RekognitionError("ImageTooLargeException", "Image stored in S3 is larger than 15 MB.")
        body = s3.get_object(Bucket=s3_object["Bucket"], Key=s3_object["Name"], **version)["Body"]
    except (ClientError, BotoCoreError) as error:
        # What S3 answers (a ClientError per error code: NoSuchKey, AccessDenied, 403 for a missing key without
        # s3:ListBucket...) or botocore meets on the way (no connection, a parameter the model refuses). Anything
        # else is a bug here and surfaces as one.
        raise RekognitionError(
            "InvalidS3ObjectException",
            "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
        ) from error
    with body:
        data: bytes = body.read()
    return data
