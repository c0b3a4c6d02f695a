"""Format sniffing and header parsing of the Validate function, on bytes made here."""

from __future__ import annotations

import io
import math
import random
import struct

import pytest
from PIL import Image

from media_format import JPEG_WALK_CHUNK, MediaFormatError, check_complete, image_size, sniff
from tests.conftest import jpeg_bytes, png_bytes, video_bytes


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
    assert complete(data, fmt) == {}  # the whole file passes
    with pytest.raises(MediaFormatError) as raised:
        complete(data[: len(data) // 2], fmt)
    assert raised.value.reason == "TRUNCATED"


# Motion photos and other bytes after a JPEG's end-of-image marker.


def complete(data: bytes, fmt: str = "JPEG", reads: list | None = None, head: int = 1024) -> dict:
    """check_complete as Validate calls it: the last 4 KiB, a ranged reader, the size and the first bytes."""

    def read_at(offset: int, length: int) -> bytes:
        if reads is not None:
            reads.append((offset, length))
        return data[offset : offset + length]

    return check_complete(fmt, data[-4096:], read_at, len(data), data[:head])


def truncated(data: bytes) -> str:
    with pytest.raises(MediaFormatError) as raised:
        complete(data)
    assert raised.value.reason == "TRUNCATED", str(raised.value)
    return str(raised.value)


def noisy_jpeg(width: int, height: int, **options) -> bytes:
    """Random pixels: dense entropy-coded data, full of FF00 stuffing."""
    pixels = random.Random(width * height).randbytes(width * height * 3)  # noqa: S311 - test pixels, not secrets
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def with_segment(jpeg: bytes, code: int, payload: bytes) -> bytes:
    """The JPEG with one more length-prefixed segment right after its SOI."""
    return jpeg[:2] + bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def exif_with_thumbnail(jpeg: bytes) -> bytes:
    """An APP1 EXIF segment carrying a whole JPEG thumbnail, SOI to EOI, as cameras write it."""
    thumbnail = jpeg_bytes(16, 12)
    return with_segment(jpeg, 0xE1, b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + thumbnail)


def motion_photo_xmp(clip_length: int) -> bytes:
    """The Camera and Container XMP of Android's Motion Photo format 1.0, in an APP1 segment's payload."""
    return (
        b"http://ns.adobe.com/xap/1.0/\x00"
        + f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description
 xmlns:Camera="http://ns.google.com/photos/1.0/camera/" xmlns:Container="http://ns.google.com/photos/1.0/container/"
 xmlns:Item="http://ns.google.com/photos/1.0/container/item/" Camera:MotionPhoto="1" Camera:MotionPhotoVersion="1"
 Camera:MotionPhotoPresentationTimestampUs="0"><Container:Directory><rdf:Seq>
 <rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"/></rdf:li>
 <rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto"
 Item:Length="{clip_length}"/></rdf:li></rdf:Seq></Container:Directory></rdf:Description></rdf:RDF>
</x:xmpmeta>""".encode()
    )


def samsung_trailer(clip: bytes) -> bytes:
    """Samsung's layout: a "MotionPhoto_Data" record holding the clip, then its SEFH/SEFT directory."""
    name = b"MotionPhoto_Data"
    record = b"\x00\x00\x30\x0a" + struct.pack("<I", len(name)) + name + clip
    directory = b"SEFH" + struct.pack("<II", 106, 1) + struct.pack("<HHII", 0, 0x0A30, len(record), len(record))
    return record + directory + struct.pack("<I", len(directory)) + b"SEFT"


def test_motion_photo_is_complete_and_its_clip_is_named():
    photo, clip = jpeg_bytes(), video_bytes()
    assert complete(photo + clip) == {"trailingBytes": len(clip), "motionPhoto": True}


def test_motion_photo_with_its_xmp_and_an_exif_thumbnail():
    # The thumbnail's own EOI inside APP1 must not end the walk: the clip starts after the photo's EOI.
    clip = video_bytes()
    photo = exif_with_thumbnail(with_segment(jpeg_bytes(), 0xE1, motion_photo_xmp(len(clip))))
    assert complete(photo + clip) == {"trailingBytes": len(clip), "motionPhoto": True}


def test_samsung_motion_photo_trailer_is_named():
    trailer = samsung_trailer(video_bytes())
    assert complete(jpeg_bytes() + trailer) == {"trailingBytes": len(trailer), "motionPhoto": True}


def test_padding_after_the_marker_is_counted_but_is_no_motion_photo():
    assert complete(jpeg_bytes() + b"\x00" * 5000) == {"trailingBytes": 5000}


def test_a_file_ending_with_its_marker_is_judged_from_the_tail_alone():
    reads: list = []
    assert complete(noisy_jpeg(256, 256), reads=reads) == {}
    assert reads == []


@pytest.mark.parametrize(
    "options",
    [{"progressive": True}, {"restart_marker_rows": 1}, {}],
    ids=["progressive", "restart-markers", "baseline"],
)
def test_each_kind_of_scan_data_is_walked_to_its_end(options):
    photo, clip = noisy_jpeg(200, 150, **options), video_bytes()
    if options.get("progressive"):
        assert photo.count(b"\xff\xda") > 2, "a progressive JPEG has several scans"
    if options.get("restart_marker_rows"):
        assert sum(photo.count(bytes([0xFF, code])) for code in range(0xD0, 0xD8)) > 8, "RST0-7 in the scan data"
    assert complete(photo + clip) == {"trailingBytes": len(clip), "motionPhoto": True}
    truncated(photo[: len(photo) * 2 // 3] + clip)


def test_jpeg_cut_short_in_its_image_data_is_truncated():
    photo = noisy_jpeg(200, 150)
    assert "image data" in truncated(photo[:-5000])


def test_exif_thumbnail_end_marker_does_not_pass_for_the_photo_s():
    # Cut in the image data, with the thumbnail's EOI still in the last 4 KiB: the tail alone would pass it.
    photo = exif_with_thumbnail(jpeg_bytes(64, 48))
    cut = photo[: len(photo) - 100]
    assert b"\xff\xd9" in cut[-4096:]
    truncated(cut)


def test_jpeg_cut_inside_a_segment_header_is_truncated():
    photo = jpeg_bytes()
    dqt = photo.index(b"\xff\xdb")
    assert "segment header" in truncated(photo[: dqt + 3])


def test_motion_photo_whose_jpeg_is_cut_short_is_truncated():
    photo, clip = jpeg_bytes(), video_bytes()
    assert "video clip" in truncated(photo[: len(photo) - 200] + clip)
    assert "video clip" in truncated(photo[: len(photo) - 200] + samsung_trailer(clip))


def test_broken_segment_structure_is_corrupt():
    photo = bytearray(jpeg_bytes() + b"\x00" * 10)
    photo[photo.index(b"\xff\xdb")] = 0x00
    with pytest.raises(MediaFormatError) as raised:
        complete(bytes(photo))
    assert raised.value.reason == "CORRUPT"


def test_the_walk_reads_forward_in_large_pieces():
    photo = noisy_jpeg(1600, 1200, quality=95)
    assert len(photo) > 2 * JPEG_WALK_CHUNK
    clip = video_bytes()
    reads: list = []
    assert complete(photo + clip, reads=reads, head=64 * 1024) == {"trailingBytes": len(clip), "motionPhoto": True}
    assert len(reads) <= math.ceil(len(photo) / JPEG_WALK_CHUNK) + 1
    assert all(length <= JPEG_WALK_CHUNK for _, length in reads)
