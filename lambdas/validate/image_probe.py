"""What a convertible image is, from its header: size and whether it is animated. No pixel is decoded.

Pillow reads a TIFF's IFD, a GIF's screen descriptor and a BMP's header in Python; heif_boxes reads a
HEIF/HEIC/AVIF container's item properties, webp_header a WebP's RIFF chunks and design_headers a PSD's or
JPEG 2000's header (all pure Python), so no native decoder (libheif, libavif, libwebp, OpenJPEG) sees an upload
here just to learn its size. Only the make_proxy function decodes, so a header that declares a pixel bomb is
refused here, before any decoder sees its data.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from design_headers import jpeg2000_size, psd_size
from file_metadata import MAX_EXIF_BYTES, heif_exif
from heif_boxes import HeifBoxError, read_heif
from PIL import Image, UnidentifiedImageError
from webp_header import read_webp

from media_format import MediaFormatError, ReadAt

# The names Pillow registers its readers under, by the format sniff() reports.
PILLOW_FORMATS = {"GIF": "GIF", "TIFF": "TIFF", "BMP": "BMP"}
HEIF_FORMATS = {"HEIC", "HEIF", "AVIF"}


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int
    animated: bool
    exif: bytes | None = None  # the Exif block (a TIFF structure) the container carries, for file_metadata


def probe_image(fmt: str, fileobj: Any, read_at: ReadAt | None = None, size: int = 0) -> ImageHeader:
    """Size of the image (the primary image of a HEIF) and whether it has more frames; MediaFormatError if the
    container is broken. Reads what the format's header parser asks for, never the pixel data. A HEIF/AVIF is
    read through `read_at` (the object's `size` bytes): its box headers and its `meta` box."""
    if read_at is None and fmt in HEIF_FORMATS | {"WEBP", "PSD", "JPEG2000"}:
        read_at, size = _reader(fileobj), fileobj.seek(0, io.SEEK_END)
    if fmt == "PSD" and read_at is not None:
        return ImageHeader(*psd_size(read_at(0, 26)), animated=False)  # the composite is converted, not layers
    if fmt == "JPEG2000" and read_at is not None:
        return ImageHeader(*jpeg2000_size(read_at, read_at(0, 64)), animated=False)
    if fmt == "WEBP" and read_at is not None:
        webp = read_webp(read_at, size)
        block = read_at(*webp.exif) if webp.exif and webp.exif[1] <= MAX_EXIF_BYTES else None
        return ImageHeader(webp.width, webp.height, webp.animated, block)
    if fmt in HEIF_FORMATS and read_at is not None:
        try:
            heif = read_heif(read_at, size)
        except HeifBoxError as error:
            # As libheif answered: a broken container (meta cut short included) is CORRUPT; a whole container
            # whose image data stops before the end iloc gives it is TRUNCATED.
            reason = "TRUNCATED" if error.truncated else "CORRUPT"
            raise MediaFormatError(reason, f"The {fmt} container cannot be read: {error}") from error
        animated = heif.top_level_images > 1 or heif.sequence
        return ImageHeader(heif.width, heif.height, animated, heif_exif(read_at, heif.exif))
    try:
        with warnings.catch_warnings():
            # The pixel budget is checked by the caller with its own limit and message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fileobj, formats=[PILLOW_FORMATS[fmt]]) as image:
                header = ImageHeader(image.width, image.height, bool(getattr(image, "is_animated", False)))
    except Image.DecompressionBombError as error:
        raise MediaFormatError("TOO_MANY_PIXELS", str(error)) from error
    except (UnidentifiedImageError, SyntaxError, OSError, ValueError, EOFError) as error:
        raise MediaFormatError("CORRUPT", f"The {fmt} header cannot be read: {error}") from error
    if fmt == "TIFF":
        # A TIFF is itself the structure an Exif block is: its first IFD, and the Exif and GPS IFDs it points to.
        fileobj.seek(0)
        return ImageHeader(header.width, header.height, header.animated, fileobj.read(MAX_EXIF_BYTES))
    return header


def _reader(fileobj: Any) -> ReadAt:
    def read_at(offset: int, length: int) -> bytes:
        fileobj.seek(offset)
        data: bytes = fileobj.read(length)
        return data

    return read_at
