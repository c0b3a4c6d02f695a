"""Formats Pillow reads beyond the phone formats (docs/guides/convert-formats.md, "Formats Pillow reads that
rekflow refuses"): PSD and JPEG 2000 sized from their headers in pure Python and converted; the rest refused
UNSUPPORTED_FORMAT with their name, TGA (no signature) NOT_MEDIA; make_proxy decoding only as the format found."""

from __future__ import annotations

import contextlib
import io
import random
import struct
import warnings

import pytest
from design_headers import jpeg2000_size, psd_size
from image_proxy import Undecodable, to_jpeg
from PIL import Image

from media_format import MediaFormatError, sniff
from tests.corpora import PILLOW_IMAGES, corpus, pillow_image
from tests.unit.test_validate import verdict_for
from tests.unit.test_validate_conversions import encoded, psd

LIMITS = {"max_bytes": 15 * 1024 * 1024, "max_side": 10_000, "max_pixels": 80_000_000}


def reader(data: bytes):
    return lambda offset, length: data[offset : offset + length]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("hopper.ico", "ICO"),
        ("deerstalker.cur", "ICO"),
        ("pillow.icns", "ICNS"),
        ("hopper.dds", "DDS"),
        ("blp/blp2_raw.blp", "BLP"),
        ("pil184.pcx", "PCX"),
        ("hopper.sgi", "SGI"),
        ("sunraster.im1", "SUN_RASTER"),
        ("hopper.xpm", "XPM"),
        ("pil123rgba.qoi", "QOI"),
        ("hopper.ppm", "NETPBM"),
        ("hopper_8bit.pgm", "NETPBM"),
        ("hopper_1bit_plain.pbm", "NETPBM"),
        ("hopper.pfm", "NETPBM"),
        ("hopper.fits", "FITS"),
        ("a.fli", "FLI"),
        ("eps/1.eps", "EPS"),
    ],
)
def test_image_formats_rekflow_refuses_are_named(runtime, name, fmt):
    verdict = verdict_for(runtime, pillow_image(name), name.rsplit("/", 1)[-1])
    assert (verdict["status"], verdict["reason"], verdict["format"]) == ("REJECTED", "UNSUPPORTED_FORMAT", fmt)
    assert verdict["message"].startswith(f"{fmt} is neither") and "JPEG or PNG" in verdict["message"]


def test_a_tga_has_no_signature_and_stays_not_media(runtime):
    verdict = verdict_for(runtime, pillow_image("tga/common/200x32_rgba_bl_raw.tga"), "scan.tga")
    assert (verdict["status"], verdict["reason"]) == ("REJECTED", "NOT_MEDIA")


@pytest.mark.parametrize("head", [b"P1 is the first item\n", b"%PDF-1.7\n", b"PK\x03\x04", b"DDSX"])
def test_text_and_other_files_are_not_taken_for_images(head):
    assert sniff(head + bytes(200)).media_type == "other"


def test_every_psd_and_jpeg_2000_of_pillow_s_corpus_is_sized_as_pillow_sizes_it():
    checked = 0
    for path in sorted(p for p in corpus(PILLOW_IMAGES).glob("*") if p.is_file()):
        data = path.read_bytes()
        fmt = sniff(data[:64]).format
        if fmt not in ("PSD", "JPEG2000"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                    expected = image.size
        except (OSError, SyntaxError, ValueError, KeyError):
            continue  # Pillow cannot open it: make_proxy refuses it CORRUPT (the corpus test holds that)
        size = psd_size(data[:26]) if fmt == "PSD" else jpeg2000_size(reader(data), data[:64])
        assert size == expected, path.name
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize(
    ("document", "reason", "words"),
    [
        (psd((8, 8), depth=16), "UNSUPPORTED_FORMAT", "16-bit RGB Photoshop document"),
        (psd((8, 8), mode=9), "UNSUPPORTED_FORMAT", "8-bit Lab"),
        (psd((8, 8), mode=7), "UNSUPPORTED_FORMAT", "multichannel"),
        (psd((8, 8), mode=4, channels=3), "CORRUPT", "CMYK with 3 channels"),
        (psd((8, 8))[:20], "TRUNCATED", "26-byte header"),
    ],
)
def test_psd_modes_and_headers_the_conversion_cannot_show_are_refused(runtime, document, reason, words):
    verdict = verdict_for(runtime, document, "poster.psd")
    assert (verdict["status"], verdict["reason"]) == ("REJECTED", reason)
    assert words in verdict["message"]


def test_a_photoshop_large_document_is_refused():
    assert sniff(b"8BPS\x00\x02" + bytes(40)).format == "PSB"


def test_broken_jpeg_2000_headers_are_corrupt():
    codestream = encoded("JPEG2000", no_jp2=True)
    (xsiz,) = struct.unpack(">I", codestream[8:12])
    offset_past = codestream[:16] + struct.pack(">I", xsiz) + codestream[20:]  # XOsiz = Xsiz: no columns
    with pytest.raises(MediaFormatError, match="offset past its size"):
        jpeg2000_size(reader(offset_past), offset_past[:64])
    jp2 = encoded("JPEG2000", no_jp2=False)
    no_header = jp2.replace(b"jp2h", b"jp2x", 1)
    with pytest.raises(MediaFormatError, match="without a 'jp2h'"):
        jpeg2000_size(reader(no_header), no_header[:64])
    with pytest.raises(MediaFormatError) as cut:
        jpeg2000_size(reader(jp2[:14]), jp2[:14])
    assert cut.value.reason == "TRUNCATED"


def test_psd_and_jpeg_2000_convert_to_jpeg():
    made = to_jpeg(psd((40, 30), mode=3, channels=4), **LIMITS, fmt="PSD")
    assert (made.width, made.height) == (40, 30)
    assert made.steps[:2] == ["Photoshop composite image (layers not read)", "transparency flattened onto white"]
    made = to_jpeg(encoded("JPEG2000", (50, 20), no_jp2=False), **LIMITS, fmt="JPEG2000")
    assert (made.width, made.height) == (50, 20)


def test_make_proxy_decodes_only_as_the_format_validate_found():
    with pytest.raises(Undecodable) as refused:
        to_jpeg(psd((8, 8)), **LIMITS, fmt="JPEG2000")
    assert refused.value.reason == "CORRUPT"
    assert to_jpeg(psd((8, 8)), **LIMITS).width == 8  # without a format (the benches) Pillow chooses


def test_random_damage_to_the_headers_gives_only_format_errors():
    chance = random.Random(7)  # noqa: S311 (reproducible damage, not secrets)
    originals = [psd((9, 7)), encoded("JPEG2000", no_jp2=False), encoded("JPEG2000", no_jp2=True)]
    for _ in range(3000):
        damaged = bytearray(chance.choice(originals))
        for _ in range(chance.randint(1, 6)):
            damaged[chance.randrange(min(len(damaged), 120))] = chance.randrange(256)
        data = bytes(damaged[: chance.randint(0, len(damaged))])
        with contextlib.suppress(MediaFormatError):  # anything else fails the test
            if data.startswith(b"8BPS"):
                psd_size(data[:26])
            else:
                jpeg2000_size(reader(data), data[:64])
