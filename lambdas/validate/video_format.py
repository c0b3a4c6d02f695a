"""Read an MP4/MOV file's movie header with ranged reads: codec, duration and frame size.

Rekognition Video takes H.264 in an MP4 or MOV container. The answer is in the `moov` box,
which may sit after the media data, so the top-level boxes are walked by their headers
(a few bytes each) and only `moov` itself is read whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from media_format import MediaFormatError, ReadAt

CODEC_NAMES = {
    b"avc1": "H.264",
    b"avc3": "H.264",
    b"hvc1": "H.265",
    b"hev1": "H.265",
    b"mp4v": "MPEG-4 Part 2",
    b"av01": "AV1",
    b"vp09": "VP9",
    b"vp08": "VP8",
    b"jpeg": "Motion JPEG",
    b"mjpa": "Motion JPEG",
    b"apco": "ProRes",
    b"apcs": "ProRes",
    b"apcn": "ProRes",
    b"apch": "ProRes",
    b"ap4h": "ProRes",
    b"ap4x": "ProRes",
}
# Codecs MediaConvert decodes ("Supported input codecs and containers" in the MediaConvert user guide:
# https://docs.aws.amazon.com/mediaconvert/latest/ug/reference-codecs-containers-input.html), so rekflow converts them.
CONVERTIBLE_CODECS = {"H.264", "H.265", "MPEG-4 Part 2", "AV1", "VP8", "VP9", "ProRes", "Motion JPEG", "MPEG-2"}
# A movie header is kilobytes for short clips and a few megabytes for hours of video.
MAX_MOOV_BYTES = 64 * 1024 * 1024
MAX_TOP_LEVEL_BOXES = 1024


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    duration_millis: int
    width: int
    height: int

    @property
    def supported(self) -> bool:
        return self.codec == "H.264"

    @property
    def convertible(self) -> bool:
        return self.codec in CONVERTIBLE_CODECS


def video_info(read_at: ReadAt, size: int) -> VideoInfo:
    """Codec, duration and frame size of the first video track; MediaFormatError when the file is broken."""
    moov = _read_moov(read_at, size)
    timescale, duration = _movie_duration(moov)
    for trak in _children(moov, b"trak"):
        mdia = _child(trak, b"mdia")
        if mdia is None or _handler_type(mdia) != b"vide":
            continue
        entry = _first_sample_entry(mdia)
        width, height = _track_size(_child(trak, b"tkhd"))
        codec = CODEC_NAMES.get(entry, entry.decode("latin-1").strip() or "UNKNOWN")
        return VideoInfo(codec, duration * 1000 // timescale if timescale else 0, width, height)
    raise MediaFormatError("NO_VIDEO_TRACK", "The file has no video track.")


def _read_moov(read_at: ReadAt, size: int) -> bytes:
    offset = 0
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if offset >= size:
            break
        header = _box_header(read_at(offset, 16), size - offset)
        if header is None:
            raise MediaFormatError("TRUNCATED", f"The file ends inside a box header at byte {offset}.")
        box_type, header_size, box_size = header
        if box_size < header_size:
            raise MediaFormatError("CORRUPT", f"Box {box_type!r} at byte {offset} has an impossible size.")
        if offset + box_size > size:
            raise MediaFormatError(
                "TRUNCATED", f"Box {box_type!r} runs past the end of the file: the upload was cut short."
            )
        if box_type == b"moov":
            if box_size > MAX_MOOV_BYTES:
                raise MediaFormatError("CORRUPT", f"The movie header is {box_size} bytes, over {MAX_MOOV_BYTES}.")
            return read_at(offset + header_size, box_size - header_size)
        offset += box_size
    raise MediaFormatError("CORRUPT", "The file has no movie header (moov box): it is not a playable MP4/MOV.")


def _box_header(header: bytes, remaining: int) -> tuple[bytes, int, int] | None:
    """(type, header size, box size) of the box whose first bytes are `header`; None if they are too few.

    A size of 1 means a 64-bit size follows the type; 0 means the box runs to the end (`remaining`).
    """
    if len(header) < 8:
        return None
    box_size, box_type = struct.unpack(">I4s", header[:8])
    if box_size == 1:
        if len(header) < 16:
            return None
        return box_type, 16, struct.unpack(">Q", header[8:16])[0]
    return box_type, 8, remaining if box_size == 0 else box_size


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    offset = 0
    while offset + 8 <= len(data):
        header = _box_header(data[offset : offset + 16], len(data) - offset)
        if header is None:
            raise MediaFormatError("CORRUPT", "A box inside the movie header is cut short.")
        box_type, header_size, box_size = header
        if box_size < header_size or offset + box_size > len(data):
            raise MediaFormatError("CORRUPT", f"Box {box_type!r} inside the movie header has a broken size.")
        yield box_type, data[offset + header_size : offset + box_size]
        offset += box_size


def _children(data: bytes, box_type: bytes) -> Iterator[bytes]:
    return (payload for kind, payload in _boxes(data) if kind == box_type)


def _child(data: bytes, box_type: bytes) -> bytes | None:
    return next(_children(data, box_type), None)


def _require(data: bytes | None, path: str, length: int) -> bytes:
    if data is None or len(data) < length:
        raise MediaFormatError("CORRUPT", f"The movie header lacks a complete {path} box.")
    return data


def _movie_duration(moov: bytes) -> tuple[int, int]:
    mvhd = _require(_child(moov, b"mvhd"), "mvhd", 20)
    if mvhd[0] == 1:
        timescale, duration = struct.unpack(">IQ", _require(mvhd, "mvhd", 32)[20:32])
    else:
        timescale, duration = struct.unpack(">II", mvhd[12:20])
    return timescale, duration


def _handler_type(mdia: bytes) -> bytes:
    return _require(_child(mdia, b"hdlr"), "hdlr", 12)[8:12]


def _first_sample_entry(mdia: bytes) -> bytes:
    minf = _require(_child(mdia, b"minf"), "minf", 0)
    stbl = _require(_child(minf, b"stbl"), "stbl", 0)
    stsd = _require(_child(stbl, b"stsd"), "stsd", 16)
    # stsd: version+flags (4), entry count (4), then sample entries, each a box.
    return stsd[12:16]


def _track_size(tkhd: bytes | None) -> tuple[int, int]:
    tkhd = _require(tkhd, "tkhd", 84)
    # Width and height are the last 8 bytes, as 16.16 fixed-point numbers, in both versions.
    width, height = struct.unpack(">II", tkhd[-8:])
    return width >> 16, height >> 16
