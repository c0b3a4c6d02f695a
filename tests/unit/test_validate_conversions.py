"""Validate's third answer: accepted on condition of an analysable copy, or refused before anything is decoded."""

from __future__ import annotations

import io
import struct
from functools import cache

import pytest
from PIL import Image

from rekflow.media import samples
from tests.unit.test_validate import validate_module, verdict_for


def encoded(fmt: str, size: tuple[int, int] = (64, 48), **options: object) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, fmt, **options)
    return buffer.getvalue()


def psd(size: tuple[int, int], mode: int = 3, depth: int = 8, channels: int = 3) -> bytes:
    """A Photoshop document as Photoshop lays one out: header, empty colour-mode, resources and layer sections,
    then the composite image, uncompressed, one plane per channel (Pillow cannot write PSD)."""
    width, height = size
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, depth, mode)
    planes = b"".join(bytes([60 * (c + 1)]) * (width * height * depth // 8) for c in range(channels))
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + planes


@cache
def clip(kind: str, container: str) -> bytes:
    return samples.phone_video(kind, container, seconds=1.0, size=(64, 48))


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (lambda: encoded("HEIF", enc_params={"preset": "ultrafast"}), "HEIC"),
        (lambda: encoded("AVIF"), "AVIF"),
        (lambda: encoded("WEBP"), "WEBP"),
        (lambda: encoded("TIFF"), "TIFF"),
        (lambda: encoded("BMP"), "BMP"),
        (lambda: encoded("GIF"), "GIF"),
        (lambda: psd((64, 48)), "PSD"),
        (lambda: encoded("JPEG2000", no_jp2=False), "JPEG2000"),
        (lambda: encoded("JPEG2000", no_jp2=True), "JPEG2000"),
    ],
    ids=["heic", "avif", "webp", "tiff", "bmp", "gif", "psd", "jp2", "j2k-codestream"],
)
def test_each_image_format_rekognition_cannot_read_is_sized_from_its_header_and_converted(runtime, data, fmt):
    verdict = verdict_for(runtime, data(), f"photo.{fmt.lower()}")
    assert (verdict["status"], verdict["format"], verdict["width"], verdict["height"]) == ("ACCEPTED", fmt, 64, 48)
    assert verdict["convert"] == {"to": "JPEG", "because": f"Rekognition reads JPEG and PNG images, not {fmt}"}


def test_an_animated_gif_says_so(runtime):
    verdict = verdict_for(runtime, samples._gif(), "spinner.gif")
    assert verdict["animated"] is True and verdict["convert"]["to"] == "JPEG"


def test_a_heic_with_a_broken_container_is_corrupt(runtime):
    heic = encoded("HEIF", (64, 48), enc_params={"preset": "ultrafast"})
    garbled = heic.replace(b"meta", b"junk", 1)  # the box that lists its images, renamed out of existence
    verdict = verdict_for(runtime, garbled, "IMG_0001.HEIC")
    assert (verdict["status"], verdict["reason"]) == ("REJECTED", "CORRUPT"), verdict["message"]
    assert "HEIC" in verdict["message"]
    # Cut short inside its container, the same; cut short inside the image data, only decoding can tell
    # (tests/functional/test_conversion.py: the copy is refused TRUNCATED).
    assert verdict_for(runtime, heic[:300], "IMG_0002.HEIC")["reason"] == "CORRUPT"


def test_a_tiff_declaring_a_pixel_bomb_is_refused_from_its_header(runtime):
    # A TIFF whose IFD declares 20000x20000 pixels (400 MP) and carries almost no data: refused before decoding.
    entries = [
        (256, 4, 1, 20_000),
        (257, 4, 1, 20_000),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, 20_000),
        (279, 4, 1, 1),
    ]

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        return struct.pack("<HHII" if kind == 4 else "<HHIHH", tag, kind, count, value, *([] if kind == 4 else [0]))

    ifd = struct.pack("<H", len(entries)) + b"".join(entry(*e) for e in entries) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 9) + b"\x00" + ifd
    verdict = verdict_for(runtime, tiff, "scan.tif")
    assert (verdict["status"], verdict["reason"]) == ("REJECTED", "TOO_MANY_PIXELS")


def test_a_large_tiff_is_sized_with_a_few_ranged_reads_not_a_download(runtime):
    # A 6 MB uncompressed scan: Pillow reads the header, the IFD at the end is found with ranged GETs.
    tiff = encoded("TIFF", (2000, 1000))
    module = validate_module(runtime)
    gets = []
    original = module._get_range
    module._get_range = lambda *args: gets.append(args[-1]) or original(*args)
    try:
        verdict = verdict_for(runtime, tiff, "scan.tif")
    finally:
        module._get_range = original
    assert (verdict["width"], verdict["height"]) == (2000, 1000)
    assert len(gets) <= 4 and not any(g == f"bytes=0-{len(tiff) - 1}" for g in gets), gets


@pytest.mark.parametrize(
    ("kind", "container", "fmt", "codec"),
    [
        ("hevc", "mp4", "MP4", "H.265"),
        ("hevc", "mov", "MOV", "H.265"),
        ("vp9", "webm", "MATROSKA", "VP9"),
        ("prores", "mov", "MOV", "ProRes"),
    ],
)
def test_each_video_codec_rekognition_cannot_read_is_read_from_its_header_and_converted(
    runtime, kind, container, fmt, codec
):
    verdict = verdict_for(runtime, clip(kind, container), f"clip.{container}")
    assert (verdict["status"], verdict["format"], verdict["video"]["codec"]) == ("ACCEPTED", fmt, codec)
    assert (verdict["width"], verdict["height"]) == (64, 48)
    assert verdict["video"]["durationMillis"] == pytest.approx(1000, abs=100)
    assert verdict["convert"]["to"] == "H.264 MP4"


def test_h264_in_webm_or_matroska_is_converted_too(runtime):
    data = samples.sample_video("mkv", "libx264", shots=[("cat", 1.0)], size=(64, 48))
    verdict = verdict_for(runtime, data, "clip.mkv")
    assert (verdict["video"]["codec"], verdict["convert"]["to"]) == ("H.264", "H.264 MP4")


def test_a_webm_cut_short_is_truncated(runtime):
    data = clip("vp9", "webm")
    assert verdict_for(runtime, data[: len(data) // 2], "cut.webm")["reason"] == "TRUNCATED"


def test_a_video_over_the_longest_allowed_is_refused_before_any_conversion(runtime, monkeypatch):
    monkeypatch.setattr(validate_module(runtime), "MAX_VIDEO_DURATION_SECONDS", 0)
    verdict = verdict_for(runtime, clip("hevc", "mov"), "long.mov")
    assert (verdict["status"], verdict["reason"]) == ("REJECTED", "TOO_LONG")
    assert "MaxVideoDurationSeconds" in verdict["message"] and "convert" not in verdict


def test_a_codec_neither_rekognition_nor_mediaconvert_reads_is_refused(runtime):
    data = samples.sample_video("mov", "cinepak", shots=[("cat", 1.0)], size=(64, 48))
    verdict = verdict_for(runtime, data, "old.mov")
    assert (verdict["status"], verdict["reason"]) == ("REJECTED", "UNSUPPORTED_CODEC")
