"""Turn an image Rekognition cannot read into a JPEG it can: decoded with Pillow (and pillow-heif for HEIC/HEIF,
OpenJPEG inside Pillow for JPEG 2000).

What is done, in order, is recorded step by step for the results document: the first frame of an
animation, the EXIF orientation applied to the pixels (the JPEG carries no Orientation tag, so nothing
turns it twice), alpha flattened onto white, a 16-bit or CMYK image brought to 8-bit RGB, the longer side
brought within Rekognition's limit, and the quality or size lowered until the file is within its bytes.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import pillow_heif
from PIL import Image, ImageOps

# Decoding only: the HEIF saver registered with it is never called here.
pillow_heif.register_heif_opener()

# Pillow's reader for each format Validate reports (HEIC and HEIF are pillow-heif's "HEIF"; AVIF is Pillow's own).
PILLOW_READERS = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "GIF": "GIF",
    "BMP": "BMP",
    "TIFF": "TIFF",
    "WEBP": "WEBP",
    "HEIC": "HEIF",
    "HEIF": "HEIF",
    "AVIF": "AVIF",
    "PSD": "PSD",
    "JPEG2000": "JPEG2000",
}
JPEG_QUALITY = 90
# Each retry for a file over the byte limit scales by the square root of (limit / size), times this margin.
SHRINK_MARGIN = 0.95
EXIF_ORIENTATION = 0x0112
BACKGROUND = (255, 255, 255)


class Undecodable(Exception):
    """The image's data cannot be decoded; `reason` is TRUNCATED or CORRUPT, as Validate would say."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Converted:
    jpeg: bytes
    width: int
    height: int
    steps: list[str] = field(default_factory=list)


def to_jpeg(data: bytes, max_bytes: int, max_side: int, max_pixels: int, fmt: str | None = None) -> Converted:
    """The image in `data` as a JPEG of at most `max_bytes` bytes and `max_side` pixels a side.

    `fmt`, the format Validate found (its `format`), is the only reader Pillow may use: bytes Validate judged a
    PSD are never handed to another of Pillow's decoders. None (the benches) lets Pillow choose.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels  # Validate checked the header already; Pillow holds the same line
    steps: list[str] = []
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_READERS[fmt]] if fmt else None) as image:
            if fmt == "PSD":
                # Pillow shows the composite Photoshop stores after the layers; its frames are the layers.
                steps.append("Photoshop composite image (layers not read)")
            else:
                frames = getattr(image, "n_frames", 1)
                if frames > 1:
                    image.seek(0)
                    steps.append(f"first of {frames} frames")
            image.load()
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            upright = ImageOps.exif_transpose(image)
            if orientation != 1:
                steps.append(f"EXIF orientation {orientation} applied to the pixels")
            # pillow-heif hands over a HEIF already turned by its own transform (irot/imir) and says what it was.
            if image.info.get("original_orientation", 1) != 1:
                steps.append(f"HEIF transform (orientation {image.info['original_orientation']}) applied by libheif")
            rgb = _eight_bit_rgb(upright, steps)
    except Image.DecompressionBombError as error:
        raise Undecodable("TOO_MANY_PIXELS", str(error)) from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:  # Pillow's and libheif's decode errors
        reason = "TRUNCATED" if _cut_short(str(error)) else "CORRUPT"
        raise Undecodable(reason, f"The image cannot be decoded: {error}") from error
    if max(rgb.size) > max_side:
        rgb = _scaled(rgb, max_side / max(rgb.size), steps, f"longer side brought to {max_side} px")
    jpeg = _encode(rgb)
    while len(jpeg) > max_bytes:
        rgb = _scaled(
            rgb, math.sqrt(max_bytes / len(jpeg)) * SHRINK_MARGIN, steps, f"scaled down to fit {max_bytes} bytes"
        )
        jpeg = _encode(rgb)
    steps.append(f"JPEG quality {JPEG_QUALITY}")
    return Converted(jpeg, rgb.width, rgb.height, steps)


def _cut_short(message: str) -> bool:
    # Pillow: "image file is truncated"; libheif: "Unexpected end of file".
    lowered = message.lower()
    return "truncated" in lowered or "end of file" in lowered


def _eight_bit_rgb(image: Image.Image, steps: list[str]) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        steps.append(f"{image.mode} samples scaled to 8 bits")
        image = image.point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        steps.append("transparency flattened onto white")
        return flat
    if image.mode != "RGB":
        steps.append(f"{image.mode} converted to RGB")
        return image.convert("RGB")
    return image


def _scaled(image: Image.Image, factor: float, steps: list[str], why: str) -> Image.Image:
    size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
    steps.append(f"{why} ({image.width}x{image.height} to {size[0]}x{size[1]})")
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # The colour profile rides along (a Display P3 iPhone photo stays P3); the EXIF does not: its orientation
    # is applied already, and its location and camera fields are the original's to keep, not the copy's.
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, icc_profile=image.info.get("icc_profile"))
    return buffer.getvalue()
