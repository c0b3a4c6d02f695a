"""Format sniffing and header parsing of the Validate function, on bytes made here."""

from __future__ import annotations

import struct

import pytest

from media_format import MediaFormatError, check_complete, image_size, sniff
from tests.conftest import jpeg_bytes, png_bytes


def no_more_bytes(offset: int, length: int) -> bytes:
    return b""


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0" + b"\x00" * 16, ("image", "JPEG", True)),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, ("image", "PNG", True)),
        (b"GIF89a" + b"\x00" * 16, ("image", "GIF", False)),
        (b"BM" + b"\x00" * 16, ("image", "BMP", False)),
        (b"II*\x00" + b"\x00" * 16, ("image", "TIFF", False)),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "WEBP", False)),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", ("image", "HEIC", False)),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", ("video", "MP4", True)),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", ("video", "MOV", True)),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 16, ("video", "MATROSKA", False)),
        (b"%PDF-1.7\n", ("other", "UNKNOWN", False)),
        (b"hello world", ("other", "UNKNOWN", False)),
    ],
)
def test_sniff_reads_the_bytes_not_the_name(head, expected):
    sniffed = sniff(head)
    assert (sniffed.media_type, sniffed.format, sniffed.supported) == expected


def test_png_and_jpeg_sizes_come_from_the_header():
    assert image_size("PNG", no_more_bytes, png_bytes(123, 45)) == (123, 45)
    assert image_size("JPEG", no_more_bytes, jpeg_bytes(321, 54)) == (321, 54)


def test_jpeg_frame_header_beyond_the_first_read_is_fetched():
    whole = jpeg_bytes(640, 480)
    # A big APP1 segment (like EXIF with a thumbnail) pushes the frame header past the first read.
    padding = b"\xff\xe1" + struct.pack(">H", 60_002) + b"\x00" * 60_000
    data = whole[:2] + padding + whole[2:]
    reads = []

    def read_at(offset: int, length: int) -> bytes:
        reads.append(offset)
        return data[offset : offset + length]

    assert image_size("JPEG", read_at, data[:1024]) == (640, 480)
    assert reads, "the parser should have asked for bytes beyond the head"


def test_png_with_bad_header_checksum_is_corrupt():
    data = bytearray(png_bytes())
    data[20] ^= 0xFF  # inside IHDR's width/height
    with pytest.raises(MediaFormatError) as raised:
        image_size("PNG", no_more_bytes, bytes(data))
    assert raised.value.reason == "CORRUPT"


def test_jpeg_without_frame_header_is_corrupt():
    with pytest.raises(MediaFormatError) as raised:
        image_size("JPEG", no_more_bytes, b"\xff\xd8\xff\xda\x00\x04\x00\x00")
    assert raised.value.reason == "CORRUPT"


@pytest.mark.parametrize(("fmt", "data"), [("PNG", png_bytes()), ("JPEG", jpeg_bytes())])
def test_cut_files_are_truncated(fmt, data):
    check_complete(fmt, data[-4096:])  # the whole file passes
    with pytest.raises(MediaFormatError) as raised:
        check_complete(fmt, data[: len(data) // 2][-4096:])
    assert raised.value.reason == "TRUNCATED"
