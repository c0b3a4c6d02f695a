"""Small JPEG previews of analysed media, as data: URIs that a page embeds (it then loads nothing)."""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import ImageInput, downscale
from rekflow.vision.one_frame import frame_at

# The formats Validate names that pillow-heif decodes (AVIF is Pillow's own).
HEIF_FORMATS = ("HEIC", "HEIF")
# Longest side of a preview, in pixels, and its JPEG quality: about 10-20 KB a photo.
PREVIEW_SIDE = 320
PREVIEW_QUALITY = 80


@dataclass(frozen=True)
class Preview:
    uri: str  # data:image/jpeg;base64,...
    width: int
    height: int


class NoPreview(ValueError):
    """The photo's pixels do not decode: the page or report shows no thumbnail and says why."""


def image_preview(data: bytes, image_format: str) -> Preview:
    """A photo's preview, upright as the boxes in its document are. Rekognition turns a JPEG by its
    EXIF Orientation and gives boxes relative to the turned image; a PNG's are as stored (DetectFaces,
    OrientationCorrection: https://docs.aws.amazon.com/rekognition/latest/APIReference/API_DetectFaces.html).
    ImageInput.decode turns it exactly as the analysis saw it."""
    if image_format in HEIF_FORMATS:
        _open_heif_with_pillow()
    try:
        # The size fields are not read by decode(); the image's own header gives the size.
        picture = ImageInput(data, image_format, 0, 0).decode(max_side=PREVIEW_SIDE)
    except RekognitionError as error:
        raise NoPreview(error.message) from error
    return _encode(picture)


@functools.cache
def _open_heif_with_pillow() -> None:
    """pillow-heif's opener, registered once a HEIC is shown: Pillow reads no HEIF of its own. MakeProxy registers
    it where it converts (lambdas/make_proxy/image_proxy.py), which is not this process when functions run in
    their own workers, so a report or page must register it itself."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def video_poster(path: Path, at_seconds: float) -> Preview:
    """One frame of a video, `at_seconds` in; NoFrame (a ValueError) where there is none."""
    return _encode(downscale(frame_at(path, at_seconds), max_side=PREVIEW_SIDE))


def _encode(image: Image.Image) -> Preview:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=PREVIEW_QUALITY)
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Preview(uri, image.width, image.height)
