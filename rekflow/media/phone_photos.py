"""Photos as phones take them (12 MP JPEGs, sensor grain, EXIF orientation), made from the bundled samples.

For the benches and the model tests: the samples themselves are 300 to 1024 px, a phone's photo is
4000x3000 and several MB.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image

from rekflow.media.photographs import bundled_photo

PHONE_SIZE = (4000, 3000)  # 12 MP, 4:3, as most phones' main camera
# Astronaut pastes on the 12 MP canvas, as (left, top, side) in pixels: faces of about 110, 215 and 400 px.
# Rekognition promises faces from 40 px in a 1920x1080 image, proportionally more above it (about 111 px here).
ASTRONAUT_PASTES = ((2880, 1800, 640), (2560, 80, 1280), (0, 300, 2400))
# Where skimage's astronaut has her face, relative to her 512x512 photo (MTCNN's box, rounded outward).
ASTRONAUT_FACE = (0.34, 0.10, 0.54, 0.36)  # left, top, right, bottom


@cache
def _sample(name: str) -> Image.Image:
    return bundled_photo(name)


def encode_jpeg(
    image: Image.Image, rng: np.random.Generator | None = None, orientation: int = 1, quality: int = 90
) -> bytes:
    """JPEG bytes as a phone writes them: sensor grain (which is what makes phone JPEGs 3-5 MB), and
    an EXIF Orientation tag when the pixels are stored sideways (6: turn 90° clockwise to view)."""
    if rng is not None:
        pixels = np.asarray(image, np.int16) + rng.integers(-6, 7, (image.height, image.width, 1), np.int16)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def astronauts_canvas(size: tuple[int, int] = PHONE_SIZE) -> Image.Image:
    """The coffee photo stretched over `size`, with the astronaut pasted at ASTRONAUT_PASTES (scaled to `size`)."""
    scale = size[0] / PHONE_SIZE[0]
    canvas = _sample("coffee").resize(size, Image.Resampling.BICUBIC)
    for left, top, side in ASTRONAUT_PASTES:
        side = round(side * scale)
        canvas.paste(
            _sample("astronaut").resize((side, side), Image.Resampling.BICUBIC),
            (round(left * scale), round(top * scale)),
        )
    return canvas


def astronaut_faces(size: tuple[int, int] = PHONE_SIZE) -> list[tuple[float, float, float, float]]:
    """Relative (left, top, right, bottom) regions that hold each pasted face, in the canvas of `size`."""
    width, height = PHONE_SIZE
    fl, ft, fr, fb = ASTRONAUT_FACE
    return [
        ((left + fl * side) / width, (top + ft * side) / height, (left + fr * side) / width, (top + fb * side) / height)
        for left, top, side in ASTRONAUT_PASTES
    ]


def astronauts_photo(size: tuple[int, int] = PHONE_SIZE) -> bytes:
    """astronauts_canvas as a phone's JPEG."""
    return encode_jpeg(astronauts_canvas(size), np.random.default_rng(7))
