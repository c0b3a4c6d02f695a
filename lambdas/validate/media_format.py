"""Recognise a media file from its leading bytes and read an image's size from its header.

Nothing here decodes pixels: the size comes from the PNG IHDR chunk or the JPEG SOF
segment, so an image whose pixel count would exhaust memory is caught before any
decoder sees it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

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

VIDEO_BRANDS = {
    b"qt  ": "MOV",
    b"isom": "MP4", b"iso2": "MP4", b"iso4": "MP4", b"iso5": "MP4", b"iso6": "MP4",
    b"mp41": "MP4", b"mp42": "MP4", b"avc1": "MP4", b"M4V ": "MP4", b"MSNV": "MP4", b"dash": "MP4",
}
HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF"}


class MediaFormatError(Exception):
    """The bytes claim a format but break its rules; `reason` is TRUNCATED or CORRUPT."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Sniffed:
    """What the leading bytes say the object is."""

    media_type: str  # image, video or other
    format: str  # JPEG, PNG, MP4, MOV, GIF, ... or UNKNOWN
    supported: bool  # whether Rekognition accepts this format


def sniff(head: bytes) -> Sniffed:
    """Recognise the format from the first bytes of a file, never from its name."""
    if head.startswith(JPEG_SOI):
        return Sniffed("image", "JPEG", True)
    if head.startswith(PNG_SIGNATURE):
        return Sniffed("image", "PNG", True)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "GIF", False)
    if head[:2] == b"BM" and len(head) >= 14:
        return Sniffed("image", "BMP", False)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("image", "TIFF", False)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "WEBP", False)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", "AVI", False)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return Sniffed("video", "MATROSKA", False)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return Sniffed("image", HEIF_BRANDS[brand], False)
        if brand in VIDEO_BRANDS:
            return Sniffed("video", VIDEO_BRANDS[brand], True)
        return Sniffed("video", "ISO-BMFF", False)
    return Sniffed("other", "UNKNOWN", False)


def image_size(fmt: str, read_at: ReadAt, head: bytes) -> tuple[int, int]:
    """Width and height from the image header, reading more bytes only where the header needs them."""
    if fmt == "PNG":
        return _png_size(head)
    if fmt == "JPEG":
        return _jpeg_size(read_at, head)
    raise ValueError(f"no size reader for {fmt}")


def check_complete(fmt: str, tail: bytes) -> None:
    """Raise TRUNCATED when the file does not end the way a whole file of its format ends."""
    if fmt == "PNG" and not tail.endswith(PNG_IEND):
        raise MediaFormatError("TRUNCATED", "PNG has no IEND chunk at its end: the upload was cut short.")
    # Cameras and editors may pad after the end-of-image marker, so look in the whole tail.
    if fmt == "JPEG" and JPEG_EOI not in tail:
        raise MediaFormatError("TRUNCATED", "JPEG has no end-of-image marker: the upload was cut short.")


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
