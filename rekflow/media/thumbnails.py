"""Small JPEG previews of analysed media, as data: URIs that a page embeds (it then loads nothing)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from rekflow.vision.image_input import ImageInput, downscale
from rekflow.vision.one_frame import frame_at

# Longest side of a preview, in pixels, and its JPEG quality: about 10-20 KB a photo.
PREVIEW_SIDE = 320
PREVIEW_QUALITY = 80


@dataclass(frozen=True)
class Preview:
    uri: str  # data:image/jpeg;base64,...
    width: int
    height: int


def image_preview(data: bytes, image_format: str) -> Preview:
    """A photo's preview, upright as the boxes in its document are. Rekognition turns a JPEG by its
    EXIF Orientation and gives boxes relative to the turned image; a PNG's are as stored (DetectFaces,
    OrientationCorrection: https://docs.aws.amazon.com/rekognition/latest/APIReference/API_DetectFaces.html).
    ImageInput.decode turns it exactly as the analysis saw it."""
    # The size fields are not read by decode(); the image's own header gives the size.
    return _encode(ImageInput(data, image_format, 0, 0).decode(max_side=PREVIEW_SIDE))


def video_poster(path: Path, at_seconds: float) -> Preview:
    """One frame of a video, `at_seconds` in; NoFrame (a ValueError) where there is none."""
    return _encode(downscale(frame_at(path, at_seconds), max_side=PREVIEW_SIDE))


def _encode(image: Image.Image) -> Preview:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=PREVIEW_QUALITY)
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Preview(uri, image.width, image.height)
