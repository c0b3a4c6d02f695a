"""Recognise a media file from its leading bytes and read an image's size from its header.

Nothing here decodes pixels: the size comes from the PNG IHDR chunk or the JPEG SOF
segment, so an image whose pixel count would exhaust memory is caught before any
decoder sees it.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Reads `length` bytes at `offset`; returns fewer at the end of the object.
ReadAt = Callable[[int, int], bytes]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_SOI = b"\xff\xd8\xff"
JPEG_EOI = b"\xff\xd9"
# SOF markers that carry the frame size (C4, C8 and CC are DHT, JPG and DAC).
JPEG_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# A JPEG has a handful of segments before its frame header; a file with hundreds is hostile.
MAX_JPEG_SEGMENTS = 256
# A whole JPEG, progressive scans and their tables included, has tens of segments; thousands are hostile.
MAX_JPEG_WALK_SEGMENTS = 4096
# The walk to the end-of-image marker reads forward in pieces this large: a 15 MB photo costs 15 GETs.
JPEG_WALK_CHUNK = 1024 * 1024
# In entropy-coded data FF is followed by 00 (stuffing), D0-D7 (RSTn) or FF (fill); anything else is a marker.
JPEG_ENTROPY_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Samsung writes its clip as a trailer record named so, just before the clip's ftyp box.
SAMSUNG_MOTION_PHOTO_TAG = b"MotionPhoto_Data"

VIDEO_BRANDS = {
    b"qt  ": "MOV",
    b"isom": "MP4",
    b"iso2": "MP4",
    b"iso4": "MP4",
    b"iso5": "MP4",
    b"iso6": "MP4",
    b"mp41": "MP4",
    b"mp42": "MP4",
    b"avc1": "MP4",
    b"M4V ": "MP4",
    b"MSNV": "MP4",
    b"dash": "MP4",
}
HEIF_BRANDS = {
    b"heic": "HEIC",
    b"heix": "HEIC",
    b"hevc": "HEIC",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
    b"avif": "AVIF",
    b"avis": "AVIF",
}


PSD_SIGNATURE = b"8BPS\x00\x01"  # Photoshop document, version 1 (version 2 is PSB, the large-document format)
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # JPEG 2000 signature box (ISO/IEC 15444-1 I.5.1)
J2K_CODESTREAM = b"\xff\x4f\xff\x51"  # a raw JPEG 2000 codestream: SOC then SIZ
# Image formats Pillow reads that rekflow refuses, named so that the user learns what the file is and what to do
# (UNSUPPORTED_FORMAT) instead of "not an image" (NOT_MEDIA). Why each is refused: docs/guides/convert-formats.md.
REFUSED_IMAGE_SIGNATURES = (
    (b"8BPS\x00\x02", "PSB"),  # Photoshop large document: Pillow does not read it
    (b"DDS ", "DDS"),  # DirectDraw Surface (game textures)
    (b"icns", "ICNS"),  # macOS icon
    (b"qoif", "QOI"),
    (b"BLP1", "BLP"),  # Blizzard textures
    (b"BLP2", "BLP"),
    (b"SIMPLE  =", "FITS"),  # astronomy
    (b"%!PS", "EPS"),  # PostScript: Pillow needs Ghostscript, a PostScript interpreter, to draw it
    (b"\xc5\xd0\xd3\xc6", "EPS"),  # DOS EPS binary header
    (b"\x01\xda", "SGI"),
    (b"/* XPM */", "XPM"),
    (b"\x59\xa6\x6a\x95", "SUN_RASTER"),
)
# PBM, PGM, PPM (plain and raw), PAM, PFM: the magic, then whitespace or comments, then a number (or PAM's WIDTH).
NETPBM_HEADER = re.compile(rb"P[1-7Ff](?:\s+|#[^\n]*\n)+(?:\d|WIDTH)")


class MediaFormatError(Exception):
    """The bytes claim a format but break its rules (`reason` TRUNCATED or CORRUPT), or are a kind of it that rekflow
    does not convert (UNSUPPORTED_FORMAT)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Sniffed:
    """What the leading bytes say the object is."""

    media_type: str  # image, video or other
    format: str  # JPEG, PNG, MP4, MOV, GIF, ... or UNKNOWN
    supported: bool  # whether Rekognition accepts this format
    convertible: bool = False  # whether rekflow makes an analysable copy of it (images: Pillow; videos: MediaConvert)


def sniff(head: bytes) -> Sniffed:
    """Recognise the format from the first bytes of a file, never from its name."""
    if head.startswith(JPEG_SOI):
        return Sniffed("image", "JPEG", True)
    if head.startswith(PNG_SIGNATURE):
        return Sniffed("image", "PNG", True)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "GIF", False, True)
    if head[:2] == b"BM" and len(head) >= 14:
        return Sniffed("image", "BMP", False, True)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("image", "TIFF", False, True)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "WEBP", False, True)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", "AVI", False)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return Sniffed("video", "MATROSKA", False, True)
    if head.startswith(PSD_SIGNATURE):
        return Sniffed("image", "PSD", False, True)
    if head.startswith((JP2_SIGNATURE, J2K_CODESTREAM)):
        return Sniffed("image", "JPEG2000", False, True)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return Sniffed("image", HEIF_BRANDS[brand], False, True)
        if brand in VIDEO_BRANDS:
            return Sniffed("video", VIDEO_BRANDS[brand], True)
        return Sniffed("video", "ISO-BMFF", False)
    refused = _refused_image(head)
    if refused:
        return Sniffed("image", refused, False)
    return Sniffed("other", "UNKNOWN", False)


def _refused_image(head: bytes) -> str | None:
    """The name of an image format Pillow reads and rekflow refuses (docs/guides/convert-formats.md, "Formats
    refused"), from its signature; None when the bytes carry none of them (TGA has no signature: NOT_MEDIA)."""
    for signature, name in REFUSED_IMAGE_SIGNATURES:
        if head.startswith(signature):
            return name
    if NETPBM_HEADER.match(head):
        return "NETPBM"
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and len(head) >= 22 and head[4:6] != b"\x00\x00":
        return "ICO"  # ICONDIR: reserved 0, type 1 (icon) or 2 (cursor), a non-zero image count
    if len(head) >= 16 and head[4:6] in (b"\x11\xaf", b"\x12\xaf"):
        return "FLI"  # Autodesk FLI/FLC animation: its magic is the 16-bit word at byte 4
    if head[:1] == b"\x0a" and len(head) >= 128 and head[1] in (0, 2, 3, 4, 5) and head[2] == 1:
        return "PCX"  # ZSoft PCX: manufacturer 10, a known version, RLE encoding
    return None


def image_size(fmt: str, read_at: ReadAt, head: bytes) -> tuple[int, int]:
    """Width and height from the image header, reading more bytes only where the header needs them."""
    if fmt == "PNG":
        return _png_size(head)
    if fmt == "JPEG":
        return _jpeg_size(read_at, head)
    raise ValueError(f"no size reader for {fmt}")


def check_complete(fmt: str, tail: bytes, read_at: ReadAt, size: int, head: bytes = b"") -> dict[str, Any]:
    """Raise TRUNCATED when the file is cut short; return what the verdict should say about bytes after the image.

    `tail` is the file's last bytes and `size` its length; `head`, the bytes already read from its start,
    saves GETs when the JPEG has to be walked. The walk reads at most `size` bytes, so the caller's size
    limit bounds it.
    """
    if fmt == "PNG" and not tail.endswith(PNG_IEND):
        raise MediaFormatError("TRUNCATED", "PNG has no IEND chunk at its end: the upload was cut short.")
    if fmt != "JPEG" or tail.endswith(JPEG_EOI):
        return {}  # the common case: the file ends with the end-of-image marker, nothing to walk
    # Anything else after the marker (camera padding, a motion photo's clip, a multi-picture trailer) or a
    # cut-short file: only the JPEG's own structure says where its image ends, so walk it from the start.
    window = _Forward(read_at, size, head)
    end = _walk_jpeg(window, size)
    trailing = size - end
    if trailing == 0:
        return {}
    extra: dict[str, Any] = {"trailingBytes": trailing}
    if _is_motion_clip(window.at(end, 64) if window.has(end, min(64, trailing)) else b""):
        extra["motionPhoto"] = True
    return extra


def _is_motion_clip(trailer: bytes) -> bool:
    """Whether the bytes after a JPEG start a video clip, the way phones write motion photos.

    Android's Motion Photo format 1.0 (https://developer.android.com/media/platform/motion-photo-format)
    appends the video file (an ISO-BMFF box sequence starting with `ftyp`) after the primary JPEG;
    readers that ignore it see the still image. Samsung's older motion photos put a "MotionPhoto_Data"
    record header just before the same kind of clip.
    """
    if trailer[4:8] == b"ftyp":
        return True
    tag = trailer.find(SAMSUNG_MOTION_PHOTO_TAG)
    clip = trailer[tag + len(SAMSUNG_MOTION_PHOTO_TAG) :] if tag >= 0 else b""
    return clip[4:8] == b"ftyp"


class _Forward:
    """A forward-only window on the object: reads JPEG_WALK_CHUNK at a time and keeps at most about two."""

    def __init__(self, read_at: ReadAt, size: int, head: bytes) -> None:
        self.read_at, self.size = read_at, size
        self.base, self.data = 0, head[:size]
        self.cursor, self.scan_start = 0, -1  # where the walk is, and where its latest entropy-coded data began

    def has(self, offset: int, length: int) -> bool:
        """Whether bytes [offset, offset+length) are in the window, reading on as needed; False past the end."""
        if offset - self.base > JPEG_WALK_CHUNK:  # let go of what the walk has passed
            self.data, self.base = self.data[offset - self.base :], offset
        while self.base + len(self.data) < offset + length:
            start = self.base + len(self.data)
            if start >= self.size:
                return False
            more = self.read_at(start, min(JPEG_WALK_CHUNK, self.size - start))
            if not more:
                return False
            self.data += more
        return True

    def at(self, offset: int, length: int) -> bytes:
        return self.data[offset - self.base : offset - self.base + length]

    def clip_start(self, end: int) -> int:
        """Offset of a motion photo's clip that begins in the latest scan's data before `end`, or -1.

        A walk that runs from image data into a video has found a JPEG cut short, not a corrupt or whole one.
        """
        if self.scan_start < 0:
            return -1
        low, high = max(self.scan_start - self.base, 0), min(end - self.base, len(self.data))
        tag = self.data.find(SAMSUNG_MOTION_PHOTO_TAG, low, high)
        found = self.data.find(b"ftyp", low + 4, high)
        while found >= 0 and (tag < 0 or found < tag):
            if _looks_like_ftyp_box(self.data[found - 4 : found + 8]):
                return self.base + found - 4
            found = self.data.find(b"ftyp", found + 1, high)
        return self.base + tag if tag >= 0 else -1

    def next_marker(self, offset: int) -> int:
        """Offset of the FF of the next marker in entropy-coded data from `offset`, or -1 if the file ends first."""
        while self.has(offset, 2):
            found = JPEG_ENTROPY_MARKER.search(self.data, offset - self.base)
            if found:
                return self.base + found.start()
            # Keep the last byte: it may be an FF whose marker code is in the next piece.
            offset = self.base + len(self.data) - 1
            if not self.has(offset, 2):
                return -1
        return -1


def jpeg_end(read_at: ReadAt, size: int, head: bytes = b"") -> int:
    """Offset just past the JPEG's end-of-image marker, found by walking its markers (ITU T.81 annex B).

    Length-prefixed segments are skipped whole, so an EXIF thumbnail's own EOI inside APP1 is never
    mistaken for the image's. After each SOS the entropy-coded data runs to the next marker that is not
    stuffing (FF00) or a restart (RST0-7); progressive JPEGs then carry more DHT/SOS/... segments.
    Raises TRUNCATED when the file ends before EOI and CORRUPT when the structure is broken.
    """
    return _walk_jpeg(_Forward(read_at, size, head), size)


def _walk_jpeg(window: _Forward, size: int) -> int:
    # A JPEG cut short with a clip after it walks on into the clip's bytes. There it breaks, or (rarely)
    # meets an FF D9 by chance; either way a clip start inside the scan data means the JPEG was cut.
    try:
        end = _walk_markers(window, size)
    except MediaFormatError as error:
        clip = window.clip_start(window.cursor + 64) if error.reason == "CORRUPT" else -1
        if clip < 0:
            raise
    else:
        clip = window.clip_start(end)
        if clip < 0:
            return end
    raise MediaFormatError(
        "TRUNCATED",
        f"JPEG image data stops at byte {clip}, where a video clip starts, "
        "before its end-of-image marker: the photo was cut short.",
    )


def _looks_like_ftyp_box(box: bytes) -> bool:
    """Whether 12 bytes are the start of an ISO-BMFF ftyp box (size, 'ftyp', a printable major brand)."""
    if len(box) < 12:
        return False
    (length,) = struct.unpack(">I", box[:4])
    return 16 <= length <= 4096 and length % 4 == 0 and all(0x20 <= byte <= 0x7E for byte in box[8:12])


def _walk_markers(window: _Forward, size: int) -> int:
    if not window.has(0, 2) or window.at(0, 2) != JPEG_SOI[:2]:
        raise MediaFormatError("CORRUPT", "JPEG does not start with a start-of-image marker.")
    offset, segments, scans = 2, 0, 0
    while True:
        window.cursor = offset
        if not window.has(offset, 2):
            raise MediaFormatError(
                "TRUNCATED", f"JPEG ends at byte {size} before its end-of-image marker: the upload was cut short."
            )
        marker, code = window.at(offset, 2)
        if marker != 0xFF:
            raise MediaFormatError("CORRUPT", f"JPEG segment marker missing at byte {offset}.")
        if code == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if code == 0xD9:
            if not scans:
                raise MediaFormatError("CORRUPT", "JPEG ends without any image data.")
            return offset + 2
        if code == 0x00:
            raise MediaFormatError("CORRUPT", f"JPEG has stuffed data outside a scan at byte {offset}.")
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:  # markers without a length
            offset += 2
            continue
        segments += 1
        if segments > MAX_JPEG_WALK_SEGMENTS:
            raise MediaFormatError("CORRUPT", f"JPEG has more than {MAX_JPEG_WALK_SEGMENTS} segments.")
        if not window.has(offset, 4):
            raise MediaFormatError("TRUNCATED", "JPEG ends inside a segment header: the upload was cut short.")
        (length,) = struct.unpack(">H", window.at(offset + 2, 2))
        if length < 2:
            raise MediaFormatError("CORRUPT", f"JPEG segment at byte {offset} has an impossible length.")
        offset += 2 + length
        if code != 0xDA:
            continue
        scans += 1  # start of scan: its entropy-coded data runs to the next real marker
        if offset > size:
            raise MediaFormatError("TRUNCATED", "JPEG ends inside a scan header: the upload was cut short.")
        window.scan_start = offset
        offset = window.next_marker(offset)
        if offset < 0:
            raise MediaFormatError("TRUNCATED", "JPEG ends inside its image data: the upload was cut short.")


def _png_size(head: bytes) -> tuple[int, int]:
    if len(head) < 33:
        raise MediaFormatError("TRUNCATED", "PNG ends inside its header.")
    length, chunk_type = struct.unpack(">I4s", head[8:16])
    if chunk_type != b"IHDR" or length != 13:
        raise MediaFormatError("CORRUPT", "PNG does not start with an IHDR chunk.")
    (crc,) = struct.unpack(">I", head[29:33])
    if zlib.crc32(head[12:29]) != crc:
        raise MediaFormatError("CORRUPT", "PNG header checksum does not match.")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def head_first(head: bytes, read_at: ReadAt) -> ReadAt:
    """A reader that answers from the bytes already read and only fetches what lies beyond them."""

    def read(offset: int, length: int) -> bytes:
        if offset + length <= len(head):
            return head[offset : offset + length]
        return read_at(offset, length)

    return read


def _jpeg_size(read_at: ReadAt, head: bytes) -> tuple[int, int]:
    read = head_first(head, read_at)
    offset = 2
    for _ in range(MAX_JPEG_SEGMENTS):
        marker = read(offset, 4)
        if len(marker) < 4:
            raise MediaFormatError("TRUNCATED", "JPEG ends before its frame header.")
        if marker[0] != 0xFF:
            raise MediaFormatError("CORRUPT", f"JPEG segment marker missing at byte {offset}.")
        code = marker[1]
        if code == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:  # markers without a length
            offset += 2
            continue
        (length,) = struct.unpack(">H", marker[2:4])
        if length < 2:
            raise MediaFormatError("CORRUPT", f"JPEG segment at byte {offset} has an impossible length.")
        if code in JPEG_SOF_MARKERS:
            frame = read(offset + 4, 5)
            if len(frame) < 5:
                raise MediaFormatError("TRUNCATED", "JPEG ends inside its frame header.")
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        if code in (0xD9, 0xDA):
            raise MediaFormatError("CORRUPT", "JPEG reaches its image data without a frame header.")
        offset += 2 + length
    raise MediaFormatError("CORRUPT", f"JPEG has more than {MAX_JPEG_SEGMENTS} segments before its frame header.")
