"""The pure-Python WebP reader (lambdas/validate/webp_header.py): sizes and animation as Pillow (libwebp's
demuxer) reports them on every WebP of the peer corpora and on each kind made here, truncation and damage
named, at most MAX_CHUNK_READS reads, and Validate never opening a WebP with Pillow."""

from __future__ import annotations

import contextlib
import io
import random
import struct
import warnings

import pytest
from image_probe import probe_image
from PIL import Image
from webp_header import MAX_CHUNK_READS, read_webp

from media_format import MediaFormatError
from tests.corpora import PILLOW_IMAGES, corpus


def reader(data: bytes, reads: list[tuple[int, int]] | None = None):
    def read_at(offset: int, length: int) -> bytes:
        if reads is not None:
            reads.append((offset, length))
        return data[offset : offset + length]

    return read_at


def webp(size=(96, 64), **options) -> bytes:
    buffer = io.BytesIO()
    frames = options.pop("frames", 1)
    images = [Image.new("RGBA", size, (10 * i, 80, 200, 128)) for i in range(frames)]  # alpha: VP8X
    images[0].save(buffer, "WEBP", save_all=frames > 1, append_images=images[1:], **options)
    return buffer.getvalue()


def pillow_says(data: bytes) -> tuple[int, int, bool]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data), formats=["WEBP"]) as image:
            return image.width, image.height, bool(getattr(image, "is_animated", False))


def test_every_webp_of_pillow_s_corpus_is_sized_as_pillow_sizes_it():
    files = sorted(corpus(PILLOW_IMAGES).glob("*.webp"))
    assert len(files) >= 14
    for path in files:
        data = path.read_bytes()
        info = read_webp(reader(data), len(data))
        assert (info.width, info.height, info.animated) == pillow_says(data), path.name


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        ({"lossless": False}, "VP8X"),  # RGBA: alpha makes Pillow write VP8X + ALPH + VP8
        ({"lossless": True}, "VP8L"),
        ({"frames": 3, "duration": 100}, "VP8X"),
        ({"exif": Image.Exif().tobytes()}, "VP8X"),
    ],
)
def test_each_kind_pillow_writes(options, kind):
    data = webp(**options)
    info = read_webp(reader(data), len(data))
    assert (info.kind, info.width, info.height, info.animated) == (kind, *pillow_says(data))


def test_a_lossy_still_without_alpha_is_plain_vp8():
    buffer = io.BytesIO()
    Image.new("RGB", (333, 17), (1, 2, 3)).save(buffer, "WEBP")
    data = buffer.getvalue()
    info = read_webp(reader(data), len(data))
    assert (info.kind, info.width, info.height) == ("VP8", 333, 17)


def test_a_file_cut_anywhere_is_truncated_or_corrupt_never_sized():
    for name, data in (("lossy", webp()), ("animation", webp(frames=2))):
        for cut in range(len(data)):
            with pytest.raises(MediaFormatError) as raised:
                read_webp(reader(data[:cut]), cut)
            expected = "TRUNCATED" if cut >= 12 else "CORRUPT"  # before the RIFF size there is no WebP yet
            assert raised.value.reason == expected, (name, cut, str(raised.value))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[:20] + bytes([d[20] | 1]) + d[21:], "key frame"),  # VP8 frame tag: an interframe
        (lambda d: d[:23] + b"\x00\x00\x00" + d[26:], "start code"),
        (lambda d: d[:4] + struct.pack("<I", 3) + d[8:], "cannot hold a chunk"),
        (lambda d: d[:16] + struct.pack("<I", len(d)) + d[20:], "runs past the RIFF's end"),
        (lambda d: d[:12] + b"JUNK" + d[16:], "not VP8, VP8L or VP8X"),
    ],
)
def test_broken_lossy_files_are_corrupt(damage, message):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "WEBP")
    data = damage(buffer.getvalue())
    with pytest.raises(MediaFormatError, match=message) as raised:
        read_webp(reader(data), len(data))
    assert raised.value.reason == "CORRUPT"


def test_broken_lossless_and_extended_files_are_corrupt():
    lossless = webp(lossless=True)
    bits = struct.unpack("<I", lossless[21:25])[0] | (1 << 29)  # the 3-bit version after width, height, alpha
    data = lossless[:21] + struct.pack("<I", bits) + lossless[25:]
    with pytest.raises(MediaFormatError, match="version"):
        read_webp(reader(data), len(data))
    animation = webp(frames=2)
    no_anim = animation.replace(b"ANIM", b"ANIX", 1)
    with pytest.raises(MediaFormatError, match="no ANIM chunk"):
        read_webp(reader(no_anim), len(no_anim))
    still = webp()
    no_image = still.replace(b"VP8 ", b"VP8?", 1)
    with pytest.raises(MediaFormatError, match="no image data"):
        read_webp(reader(no_image), len(no_image))


def test_random_damage_gives_only_format_errors():
    chance = random.Random(5)  # noqa: S311 (reproducible damage, not secrets)
    originals = [webp(), webp(lossless=True), webp(frames=3), webp(exif=Image.Exif().tobytes())]
    for _ in range(3000):
        damaged = bytearray(chance.choice(originals))
        for _ in range(chance.randint(1, 6)):
            damaged[chance.randrange(min(len(damaged), 80))] = chance.randrange(256)
        with contextlib.suppress(MediaFormatError):  # anything else fails the test
            read_webp(reader(bytes(damaged)), len(damaged))


def test_a_long_animation_costs_a_bounded_number_of_reads():
    frame = b"ANMF" + struct.pack("<I", 16) + bytes(16)
    body = b"VP8X" + struct.pack("<I", 10) + bytes([0x0A, 0, 0, 0]) + (99).to_bytes(3, "little") * 2
    body += b"ANIM" + struct.pack("<I", 6) + bytes(6) + frame * 10_000
    data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    reads: list[tuple[int, int]] = []
    info = read_webp(reader(data, reads), len(data))
    assert (info.width, info.height, info.animated, info.exif) == (100, 100, True, None)
    assert len(reads) <= MAX_CHUNK_READS + 3


def test_validate_sizes_a_webp_without_pillow(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Validate opened a WebP with Pillow")

    monkeypatch.setattr(Image, "open", refuse)
    header = probe_image("WEBP", io.BytesIO(webp(frames=2)))
    assert (header.width, header.height, header.animated) == (96, 64, True)
