"""A WebP's size, animation flag and Exif, read from its RIFF container in pure Python: no decoder sees the bytes.

The container (RFC 9649, "WebP Image Format"): "RIFF", a little-endian 32-bit size of what follows, "WEBP",
then chunks (FourCC, 32-bit size, payload, padded to an even length). The first chunk says which kind:

- "VP8 " (lossy, simple): a 3-byte frame tag (bit 0 clear for a key frame), the start code 9D 01 2A, then
  14-bit width and height (RFC 6386 9.1; the top 2 bits of each are a scale hint, not the size);
- "VP8L" (lossless, simple): the signature byte 0x2F, then 14 bits width-1, 14 bits height-1, 1 alpha bit and a
  3-bit version that must be 0;
- "VP8X" (extended): flags (ICC 0x20, alpha 0x10, Exif 0x08, XMP 0x04, animation 0x02), 3 reserved bytes, then
  24-bit canvas width-1 and height-1. The image is then a "VP8 "/"VP8L" chunk (a still) or "ANIM" and "ANMF"
  frames; an "EXIF" chunk holds the Exif block.

The size reported is the canvas, as libwebp's demuxer (and so Pillow) reports it. Every length is checked: a file
shorter than its RIFF size says was cut short (TRUNCATED); anything else malformed is CORRUPT. At most
MAX_CHUNK_READS chunk headers beyond the bytes already read are fetched, so an animation of thousands of frames
costs no more GETs than that (its Exif, after the frames, is then not looked for).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from media_format import MediaFormatError, ReadAt

VP8X_ICC, VP8X_ALPHA, VP8X_EXIF, VP8X_XMP, VP8X_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02
VP8_START_CODE = b"\x9d\x01\x2a"
VP8L_SIGNATURE = 0x2F
MAX_CHUNK_READS = 64
IMAGE_CHUNKS = {b"VP8 ", b"VP8L"}


@dataclass(frozen=True)
class WebpInfo:
    kind: str  # VP8, VP8L or VP8X
    width: int
    height: int
    animated: bool
    exif: tuple[int, int] | None  # (offset, length) of the EXIF chunk's payload


def read_webp(read_at: ReadAt, size: int) -> WebpInfo:
    """The WebP of `size` bytes that `read_at` reads: its canvas, whether the animation flag is set, its Exif."""
    header = read_at(0, 12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WEBP":
        raise MediaFormatError("CORRUPT", "The WebP does not start with a RIFF/WEBP header.")
    (riff_size,) = struct.unpack("<I", header[4:8])
    end = 8 + riff_size
    if riff_size < 4 + 8 or riff_size % 2:
        raise MediaFormatError("CORRUPT", f"The WebP's RIFF size {riff_size} cannot hold a chunk.")
    if end > size:
        raise MediaFormatError(
            "TRUNCATED", f"The WebP's RIFF header gives {end} bytes; the file ends at byte {size}: it was cut short."
        )
    chunks = _Chunks(read_at, end)
    first, start, length = chunks.next(12)
    payload = read_at(start, min(length, 30))
    if first == b"VP8 ":
        width, height = _vp8_size(payload)
        return WebpInfo("VP8", width, height, False, None)
    if first == b"VP8L":
        width, height = _vp8l_size(payload)
        return WebpInfo("VP8L", width, height, False, None)
    if first != b"VP8X":
        raise MediaFormatError("CORRUPT", f"The WebP's first chunk is {first!r}, not VP8, VP8L or VP8X.")
    if length < 10 or len(payload) < 10:
        raise MediaFormatError("CORRUPT", "The WebP's VP8X chunk is shorter than its 10 bytes.")
    flags = payload[0]
    width = int.from_bytes(payload[4:7], "little") + 1
    height = int.from_bytes(payload[7:10], "little") + 1
    animated = bool(flags & VP8X_ANIMATION)
    found: set[bytes] = set()
    exif = None
    at = start + length + (length & 1)
    for _ in range(MAX_CHUNK_READS):
        if at >= end or (exif and found) or (found and not flags & VP8X_EXIF):
            break
        kind, chunk_start, chunk_length = chunks.next(at)
        if kind in IMAGE_CHUNKS or kind == b"ANIM":
            found.add(kind)
        elif kind == b"EXIF" and exif is None:
            exif = (chunk_start, chunk_length)
        at = chunk_start + chunk_length + (chunk_length & 1)
    else:
        return WebpInfo("VP8X", width, height, animated, exif)  # more chunks than the reads allowed: no verdict
    if animated and b"ANIM" not in found:
        raise MediaFormatError("CORRUPT", "The WebP is flagged animated but has no ANIM chunk.")
    if not animated and not found & IMAGE_CHUNKS:
        raise MediaFormatError("CORRUPT", "The WebP has no image data (no VP8 or VP8L chunk).")
    return WebpInfo("VP8X", width, height, animated, exif)


class _Chunks:
    """Chunk headers within the RIFF payload, each length checked against the RIFF's end."""

    def __init__(self, read_at: ReadAt, end: int) -> None:
        self.read_at, self.end = read_at, end

    def next(self, at: int) -> tuple[bytes, int, int]:
        """(FourCC, payload offset, payload length) of the chunk at `at`."""
        raw = self.read_at(at, 8)
        if len(raw) < 8 or at + 8 > self.end:
            raise MediaFormatError("CORRUPT", f"The WebP ends inside a chunk header at byte {at}.")
        kind, length = raw[:4], struct.unpack("<I", raw[4:8])[0]
        if at + 8 + length > self.end:
            raise MediaFormatError(
                "CORRUPT", f"The WebP's {kind!r} chunk at byte {at} runs past the RIFF's end at byte {self.end}."
            )
        return kind, at + 8, length


def _vp8_size(payload: bytes) -> tuple[int, int]:
    if len(payload) < 10:
        raise MediaFormatError("CORRUPT", "The WebP's VP8 chunk is shorter than its frame header.")
    if payload[0] & 1:
        raise MediaFormatError("CORRUPT", "The WebP's VP8 data does not start with a key frame.")
    if payload[3:6] != VP8_START_CODE:
        raise MediaFormatError("CORRUPT", "The WebP's VP8 frame has no start code.")
    width, height = struct.unpack("<HH", payload[6:10])
    return width & 0x3FFF, height & 0x3FFF


def _vp8l_size(payload: bytes) -> tuple[int, int]:
    if len(payload) < 5 or payload[0] != VP8L_SIGNATURE:
        raise MediaFormatError("CORRUPT", "The WebP's VP8L chunk has no lossless signature.")
    (bits,) = struct.unpack("<I", payload[1:5])
    if bits >> 29:
        raise MediaFormatError("CORRUPT", f"The WebP's VP8L version is {bits >> 29}, not 0.")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
