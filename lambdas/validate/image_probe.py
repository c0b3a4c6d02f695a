"""What a convertible image is, from its header: size and whether it is animated. No pixel is decoded.

Pillow reads a TIFF's IFD, a GIF's screen descriptor, a WebP's or AVIF's container; pi-heif
(libheif) reads a HEIF/HEIC container's item properties. Only the make_proxy function decodes,
so a header that declares a pixel bomb is refused here, before any decoder sees its data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pi_heif
from PIL import Image, UnidentifiedImageError

from media_format import MediaFormatError

# The names Pillow registers its readers under, by the format sniff() reports.
PILLOW_FORMATS = {"GIF": "GIF", "TIFF": "TIFF", "WEBP": "WEBP", "BMP": "BMP", "AVIF": "AVIF"}
HEIF_FORMATS = {"HEIC", "HEIF"}


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int
    animated: bool


def probe_image(fmt: str, fileobj: Any) -> ImageHeader:
    """Size of the image (the primary image of a HEIF) and whether it has more frames; MediaFormatError if the
    container is broken. Reads what the format's header parser asks for, never the pixel data."""
    if fmt in HEIF_FORMATS:
        try:
            heif = pi_heif.open_heif(fileobj, convert_hdr_to_8bit=True)  # parses the container only
        except (ValueError, RuntimeError) as error:  # libheif's "Invalid input: ..."
            raise MediaFormatError(_heif_reason(str(error)), f"The {fmt} container cannot be read: {error}") from error
        width, height = heif.size
        return ImageHeader(width, height, len(heif) > 1)
    try:
        with warnings.catch_warnings():
            # The pixel budget is checked by the caller with its own limit and message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fileobj, formats=[PILLOW_FORMATS[fmt]]) as image:
                return ImageHeader(image.width, image.height, bool(getattr(image, "is_animated", False)))
    except Image.DecompressionBombError as error:
        raise MediaFormatError("TOO_MANY_PIXELS", str(error)) from error
    except (UnidentifiedImageError, SyntaxError, OSError, ValueError, EOFError) as error:
        raise MediaFormatError("CORRUPT", f"The {fmt} header cannot be read: {error}") from error


def _heif_reason(message: str) -> str:
    # libheif says "Unexpected end of file" when the bytes stop before what the container declares.
    return "TRUNCATED" if "end of file" in message.lower() else "CORRUPT"
