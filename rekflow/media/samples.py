"""Sample media for the demo and the tests, generated in code so the repo ships no binaries.

Photographs come from scikit-image's bundled data; everything else is drawn or assembled here.
Each sample names the outcome the workflow should reach for it.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rekflow.media.phone_photos import astronauts_canvas
from rekflow.media.photographs import bundled_photo


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
        return _encode(bundled_photo(name), "JPEG", quality=92)

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
    """A spinner: an animated GIF of a bar turning; the analysis reads its first frame."""
    frames = []
    for step in range(8):
        frame = Image.new("RGB", (64, 64), "white")
        ImageDraw.Draw(frame).pieslice((8, 8, 56, 56), step * 45, step * 45 + 60, fill=(40, 90, 200))
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return buffer.getvalue()


IPHONE_PHOTO_SIZE = (2016, 1512)  # a quarter of an iPhone's 12 MP, to keep the demo quick


def iphone_heic(size: tuple[int, int] = IPHONE_PHOTO_SIZE, quality: int = 80) -> bytes:
    """A photo as an iPhone saves it: HEIC, held in portrait (its pixels stored sideways, turned by the file's own
    transform, which pillow-heif writes from EXIF Orientation 6), with an EXIF block."""
    import pillow_heif

    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90° clockwise to view
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone (rekflow sample)"
    sideways = astronauts_canvas(size).transpose(Image.Transpose.ROTATE_90)
    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    # x265's ultrafast preset: a second to encode instead of six; the decoder, what rekflow runs, is the same.
    sideways.save(buffer, "HEIF", quality=quality, exif=exif.tobytes(), enc_params={"preset": "ultrafast"})
    return buffer.getvalue()


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


VIDEO_SIZE = (640, 352)  # both sides multiples of 16, as H.264 encoders want
VIDEO_FPS = 24


def _frame(picture: np.ndarray | Image.Image, size: tuple[int, int] = VIDEO_SIZE) -> np.ndarray:
    """`picture` fitted onto a black video frame of `size`."""
    image = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    image = image.convert("RGB")
    image.thumbnail(size)
    canvas = Image.new("RGB", size, "black")
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return np.ascontiguousarray(np.asarray(canvas))


def video_shots() -> list[tuple[str, float]]:
    """(what is on screen, seconds) of the sample video, in order."""
    return [("astronaut", 2.0), ("black", 1.0), ("cat", 2.0), ("sign", 2.0)]


# How phones, browsers and cameras write the codecs rekflow converts (ffmpeg encoder, its options).
PHONE_CODECS = {
    # iPhones tag HEVC as hvc1 (parameter sets in the sample entry), which is what QuickTime plays.
    "hevc": ("libx265", ["-tag:v", "hvc1", "-x265-params", "log-level=error"]),
    "vp9": ("libvpx-vp9", ["-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8"]),
    "prores": ("prores_ks", ["-profile:v", "0"]),  # ProRes 422 Proxy, as cameras and editors write it
}


def sample_video(
    container: str = "mp4",
    codec: str = "libx264",
    faststart: bool = True,
    shots: list[tuple[str, float]] | None = None,
    size: tuple[int, int] = VIDEO_SIZE,
    extra: list[str] | None = None,
    pix_fmt: str = "yuv420p",
    frames: dict[str, np.ndarray] | None = None,
) -> bytes:
    """Real video, written by the ffmpeg that ships in the imageio-ffmpeg wheel: H.264 in MP4 by default, or
    `codec` (an ffmpeg encoder) with its `extra` options in `container` (mp4, mov, webm). `frames` names
    further pictures (RGB arrays of `size`) that `shots` may show, besides astronaut, cat, sign and black.

    faststart puts the movie header first, as streaming tools do; without it the header follows the media.
    """
    import imageio_ffmpeg

    pictures = {
        "astronaut": _frame(bundled_photo("astronaut"), size),
        "cat": _frame(bundled_photo("chelsea"), size),
        "sign": _frame(Image.open(io.BytesIO(_sign())), size),
        "black": _frame(Image.new("RGB", size), size),
        **(frames or {}),
    }
    output = (["-movflags", "+faststart"] if faststart and container != "webm" else []) + (extra or [])
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/sample.{container}"
        writer = imageio_ffmpeg.write_frames(
            path,
            size,
            fps=VIDEO_FPS,
            codec=codec,
            pix_fmt_out=pix_fmt,
            macro_block_size=16,
            ffmpeg_log_level="error",
            output_params=output,
        )
        writer.send(None)
        for name, seconds in shots or video_shots():
            for _ in range(round(seconds * VIDEO_FPS)):
                writer.send(pictures[name])
        writer.close()
        return Path(path).read_bytes()


def phone_video(kind: str, container: str, seconds: float = 3.0, size: tuple[int, int] = VIDEO_SIZE) -> bytes:
    """A short clip as a phone, a browser's screen recorder or a camera writes it (PHONE_CODECS): the cat, then the
    astronaut, so there is something to find in each shot."""
    codec, options = PHONE_CODECS[kind]
    pix_fmt = "yuv422p10le" if kind == "prores" else "yuv420p"
    shots = [("cat", seconds * 2 / 3), ("astronaut", seconds / 3)]
    return sample_video(container, codec, shots=shots, size=size, extra=options, pix_fmt=pix_fmt)


SAMPLES = [
    Sample("astronaut.jpg", _photo("astronaut"), "SUCCEEDED"),
    Sample("cat.jpg", _photo("chelsea"), "SUCCEEDED"),
    Sample("coffee.jpg", _photo("coffee"), "SUCCEEDED"),
    Sample("rocket.jpg", _photo("rocket"), "SUCCEEDED"),
    Sample("shop sign + hours 100% café.png", _sign, "SUCCEEDED"),
    Sample("blank.png", _blank, "SUCCEEDED"),
    Sample("notes.txt", lambda: b"shopping list: milk, eggs\n", "REJECTED", "NOT_MEDIA"),
    Sample("spinner.gif", _gif, "SUCCEEDED"),
    Sample("IMG_4032.HEIC", iphone_heic, "SUCCEEDED"),
    Sample("broken upload.jpg", _truncated_jpeg, "REJECTED", "TRUNCATED"),
    Sample("empty.jpg", lambda: b"", "REJECTED", "EMPTY_OBJECT"),
    Sample("pixel-bomb.png", _pixel_bomb, "REJECTED", "TOO_MANY_PIXELS"),
    Sample("space cat tour.mp4", sample_video, "SUCCEEDED"),
    Sample("tour in mpeg-4 part 2.mp4", lambda: sample_video(codec="mpeg4"), "SUCCEEDED"),
    Sample("IMG_4033.MOV", lambda: phone_video("hevc", "mov"), "SUCCEEDED"),
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
