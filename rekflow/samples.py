"""Sample media for the demo and the tests, generated in code so the repo ships no binaries.

Photographs come from scikit-image's bundled data; everything else is drawn or assembled here.
Each sample names the outcome the workflow should reach for it.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True)
class Sample:
    name: str
    make: Callable[[], bytes]
    expected_status: str  # SUCCEEDED, REJECTED or SKIPPED
    expected_reason: str | None = None


def _encode(pixels: np.ndarray | Image.Image, fmt: str, **options: object) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(name: str) -> Callable[[], bytes]:
    def make() -> bytes:
        from skimage import data

        return _encode(getattr(data, name)(), "JPEG", quality=92)

    return make


def sign_text_lines() -> list[str]:
    return ["REKFLOW MEDIA LAB", "Open daily 9 to 5"]


def _sign() -> bytes:
    image = Image.new("RGB", (960, 360), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=64)
    for row, line in enumerate(sign_text_lines()):
        draw.text((60, 70 + row * 130), line, fill="black", font=font)
    return _encode(image, "PNG")


def _blank() -> bytes:
    return _encode(Image.new("RGB", (640, 480), (245, 245, 245)), "PNG")


def _gif() -> bytes:
    return _encode(Image.new("P", (64, 64), 3), "GIF")


def _truncated_jpeg() -> bytes:
    whole = _photo("coffee")()
    return whole[: len(whole) // 2]


def _pixel_bomb() -> bytes:
    """A 10000x9000 grey PNG: 90 MB of pixels in about 90 KB of file."""
    width, height = 10_000, 9_000

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


SAMPLES = [
    Sample("astronaut.jpg", _photo("astronaut"), "SUCCEEDED"),
    Sample("cat.jpg", _photo("chelsea"), "SUCCEEDED"),
    Sample("coffee.jpg", _photo("coffee"), "SUCCEEDED"),
    Sample("rocket.jpg", _photo("rocket"), "SUCCEEDED"),
    Sample("shop sign + hours 100% café.png", _sign, "SUCCEEDED"),
    Sample("blank.png", _blank, "SUCCEEDED"),
    Sample("notes.txt", lambda: b"shopping list: milk, eggs\n", "REJECTED", "NOT_MEDIA"),
    Sample("spinner.gif", _gif, "REJECTED", "UNSUPPORTED_FORMAT"),
    Sample("broken upload.jpg", _truncated_jpeg, "REJECTED", "TRUNCATED"),
    Sample("empty.jpg", lambda: b"", "REJECTED", "EMPTY_OBJECT"),
    Sample("pixel-bomb.png", _pixel_bomb, "REJECTED", "TOO_MANY_PIXELS"),
]


def write_samples(folder: Path) -> list[Path]:
    """Write every sample into `folder` (created if needed); returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for sample in SAMPLES:
        path = folder / sample.name
        if not path.exists():
            path.write_bytes(sample.make())
        paths.append(path)
    return paths
