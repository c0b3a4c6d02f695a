"""The image half of make_proxy: what it does to the pixels, on images made here."""

from __future__ import annotations

import io

import pytest
from image_proxy import Undecodable, to_jpeg
from PIL import Image

LIMITS = {"max_bytes": 15 * 1024 * 1024, "max_side": 10_000, "max_pixels": 80_000_000}


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decoded(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image.convert("RGB")


def test_exif_orientation_is_applied_to_the_pixels_and_not_left_for_a_reader_to_apply_again():
    # Stored sideways: a red top half, to be turned 90° clockwise to view (EXIF Orientation 6).
    stored = Image.new("RGB", (40, 20), "blue")
    stored.paste((255, 0, 0), (0, 0, 20, 20))  # the left half as stored is the top once turned
    exif = Image.Exif()
    exif[0x0112] = 6
    converted = to_jpeg(encode(stored, "WEBP", exif=exif.tobytes(), lossless=True), **LIMITS)
    upright = decoded(converted.jpeg)
    assert upright.size == (20, 40)
    assert upright.getpixel((10, 5))[0] > 200 and upright.getpixel((10, 35))[2] > 200
    assert upright.getexif().get(0x0112, 1) == 1
    assert "EXIF orientation 6 applied to the pixels" in converted.steps


def test_a_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), colour).convert("P") for colour in ("red", "lime", "blue")]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    converted = to_jpeg(gif, **LIMITS)
    assert decoded(converted.jpeg).getpixel((8, 8))[0] > 200
    assert converted.steps[0] == "first of 3 frames"


def test_transparency_is_flattened_onto_white():
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 8, 16))
    converted = to_jpeg(encode(image, "WEBP", lossless=True), **LIMITS)
    jpeg = decoded(converted.jpeg)
    assert min(jpeg.getpixel((12, 8))) > 240 and jpeg.getpixel((3, 8))[2] > 200
    assert "transparency flattened onto white" in converted.steps


def test_a_16_bit_scan_becomes_8_bit():
    scan = Image.new("I;16", (16, 16), 65535 // 2)
    converted = to_jpeg(encode(scan, "TIFF"), **LIMITS)
    assert decoded(converted.jpeg).getpixel((8, 8))[0] == pytest.approx(127, abs=3)


def test_the_copy_keeps_within_rekognitions_side_and_byte_limits():
    noisy = Image.effect_noise((600, 400), 120).convert("RGB")
    converted = to_jpeg(encode(noisy, "TIFF"), max_bytes=40_000, max_side=500, max_pixels=80_000_000)
    assert len(converted.jpeg) <= 40_000 and max(decoded(converted.jpeg).size) <= 500
    assert converted.steps[0].startswith("longer side brought to 500 px (600x400 to 500x333)")
    assert any(step.startswith("scaled down to fit 40000 bytes") for step in converted.steps)


def test_data_that_cannot_be_decoded_is_refused_with_validates_reasons():
    import pillow_heif

    pillow_heif.register_heif_opener()
    heic = encode(Image.effect_noise((128, 96), 100).convert("RGB"), "HEIF", enc_params={"preset": "ultrafast"})
    with pytest.raises(Undecodable) as cut:
        to_jpeg(heic[: len(heic) - 200], **LIMITS)
    assert cut.value.reason == "TRUNCATED"
    png = encode(Image.new("RGB", (64, 64), "red"), "TIFF", compression="tiff_deflate")
    with pytest.raises(Undecodable) as broken:
        to_jpeg(png[:8] + b"\x00" * (len(png) - 8), **LIMITS)
    assert broken.value.reason == "CORRUPT"
