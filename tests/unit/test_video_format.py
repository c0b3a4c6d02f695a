"""Validate reads codec, duration and size from the MP4/MOV movie header, wherever it sits in the file."""

from __future__ import annotations

import pytest
from video_format import video_info

from media_format import MediaFormatError, sniff
from rekflow.media.samples import sample_video


def reader(data: bytes):
    return lambda offset, length: data[offset : offset + length]


@pytest.mark.parametrize(
    ("container", "faststart", "brand"), [("mp4", True, "MP4"), ("mp4", False, "MP4"), ("mov", True, "MOV")]
)
def test_h264_video_is_read_from_its_movie_header(container, faststart, brand):
    data = sample_video(container=container, faststart=faststart)
    assert sniff(data[:64]).format == brand
    info = video_info(reader(data), len(data))
    assert (info.codec, info.duration_millis, info.width, info.height) == ("H.264", 7000, 640, 352)
    assert info.supported


def test_other_codecs_are_named():
    data = sample_video(codec="mpeg4")
    info = video_info(reader(data), len(data))
    assert info.codec == "MPEG-4 Part 2" and not info.supported


def test_cut_short_upload_is_truncated():
    data = sample_video(faststart=False)  # the movie header is last, so a cut loses it
    with pytest.raises(MediaFormatError) as raised:
        video_info(reader(data[: len(data) // 2]), len(data) // 2)
    assert raised.value.reason == "TRUNCATED"


def test_file_without_a_movie_header_is_corrupt():
    data = sample_video()
    ftyp_size = int.from_bytes(data[:4], "big")
    only_ftyp = data[:ftyp_size]
    with pytest.raises(MediaFormatError) as raised:
        video_info(reader(only_ftyp), len(only_ftyp))
    assert raised.value.reason == "CORRUPT"
