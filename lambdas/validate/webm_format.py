"""Read a WebM/Matroska file's header with ranged reads: codec, duration and frame size.

Matroska is EBML: the Segment holds Info (TimestampScale, Duration) and Tracks (each TrackEntry's
CodecID and Video PixelWidth/PixelHeight) ahead of the media clusters, as muxers write them.
ebmlite parses the elements lazily from a file object, so only those headers are read.
"""

from __future__ import annotations

from typing import Any

import ebmlite
from video_format import VideoInfo

from media_format import MediaFormatError

# Matroska codec ids (https://www.matroska.org/technical/codec_specs.html) by the names VideoInfo uses.
CODEC_NAMES = {
    "V_VP8": "VP8",
    "V_VP9": "VP9",
    "V_AV1": "AV1",
    "V_MPEG4/ISO/AVC": "H.264",
    "V_MPEGH/ISO/HEVC": "H.265",
    "V_MPEG4/ISO/SP": "MPEG-4 Part 2",
    "V_MPEG4/ISO/ASP": "MPEG-4 Part 2",
    "V_MPEG2": "MPEG-2",
    "V_PRORES": "ProRes",
    "V_THEORA": "Theora",
}
VIDEO_TRACK = 1  # TrackType of a video track
DEFAULT_TIMESTAMP_SCALE = 1_000_000  # nanoseconds per Duration unit when Info leaves TimestampScale out
# The elements before the media: more than this many top-level children of the Segment is hostile.
MAX_SEGMENT_CHILDREN = 64

_schema = None


def _matroska() -> Any:
    global _schema
    if _schema is None:
        _schema = ebmlite.loadSchema("matroska.xml")  # the Matroska schema ebmlite ships
    return _schema


def webm_info(fileobj: Any, size: int) -> VideoInfo:
    """Codec, duration and frame size of the first video track; MediaFormatError when the header is broken.

    The duration is 0 when Info has none (a live recording that was never finalised)."""
    try:
        return _read(_matroska().load(fileobj), size)
    except (ValueError, OSError, IndexError, KeyError, TypeError) as error:  # ebmlite's errors for broken EBML
        raise MediaFormatError("CORRUPT", f"The Matroska header cannot be read: {error}") from error


def _read(document: Any, size: int) -> VideoInfo:
    segment = next((element for element in document if element.name == "Segment"), None)
    if segment is None:
        raise MediaFormatError("CORRUPT", "The file has no Matroska Segment.")
    if segment.payloadOffset + segment.size > size:
        raise MediaFormatError(
            "TRUNCATED",
            f"The Segment runs to byte {segment.payloadOffset + segment.size}, past "
            f"the end of the {size}-byte file: the upload was cut short.",
        )
    info = tracks = None
    for count, element in enumerate(segment):
        if count >= MAX_SEGMENT_CHILDREN or element.name == "Cluster":
            break  # the media begins: the headers a muxer writes come first
        if element.name == "Info":
            info = element
        elif element.name == "Tracks":
            tracks = element
    if tracks is None:
        raise MediaFormatError("CORRUPT", "The Matroska Segment has no Tracks before its media.")
    fields = {child.name: child.value for child in info} if info is not None else {}
    scale = fields.get("TimecodeScale", DEFAULT_TIMESTAMP_SCALE)
    duration_millis = int(fields.get("Duration", 0) * scale / 1_000_000)
    for entry in tracks:
        if entry.name != "TrackEntry":
            continue
        track = {child.name: child for child in entry}
        if "TrackType" not in track or track["TrackType"].value != VIDEO_TRACK:
            continue
        codec_id = str(track["CodecID"].value) if "CodecID" in track else "UNKNOWN"
        video = {child.name: child.value for child in track["Video"]} if "Video" in track else {}
        return VideoInfo(
            CODEC_NAMES.get(codec_id, codec_id),
            duration_millis,
            int(video.get("PixelWidth", 0)),
            int(video.get("PixelHeight", 0)),
        )
    raise MediaFormatError("NO_VIDEO_TRACK", "The file has no video track.")
