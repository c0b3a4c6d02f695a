"""Seconds to make the analysable copy of each format, at the sizes phones and cameras write them.

    python -m rekflow.bench conversion            # 12 MP photos, 10 s 1080p clips
    python -m rekflow.bench conversion --quick    # small ones, to see that it runs

Images go through the make_proxy function's own code (lambdas/make_proxy/image_proxy.py: Pillow, pillow-heif);
videos through the local MediaConvert's ffmpeg command (rekflow/local/mediaconvert.py), which stands in for
MediaConvert offline. Each file is made first (not timed), then converted `--repeat` times; the best is printed.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from rekflow import PROJECT_ROOT
from rekflow.local.mediaconvert import probe, transcode
from rekflow.media.phone_photos import astronauts_canvas, encode_jpeg
from rekflow.media.samples import sample_video

PHOTO = (4032, 3024)  # an iPhone's 12 MP
CLIP = ((1920, 1080), 10.0)  # 10 s of 1080p
# Fast encoder settings for making the test files; the conversion is what is timed.
MAKE_VIDEO = {
    "HEVC in MOV (iPhone)": (
        "mov",
        "libx265",
        ["-tag:v", "hvc1", "-preset", "ultrafast", "-x265-params", "log-level=error"],
        "yuv420p",
    ),
    "VP9 in WebM (screen recorder)": (
        "webm",
        "libvpx-vp9",
        ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "4M"],
        "yuv420p",
    ),
    "ProRes 422 Proxy in MOV (camera)": ("mov", "prores_ks", ["-profile:v", "0"], "yuv422p10le"),
}


def _image_proxy() -> Callable[..., object]:
    sys.path.insert(0, str(PROJECT_ROOT / "lambdas" / "make_proxy"))
    from image_proxy import to_jpeg

    return to_jpeg


def make_images(size: tuple[int, int]) -> dict[str, bytes]:
    import pillow_heif

    pillow_heif.register_heif_opener()
    photo = astronauts_canvas(size)

    def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6
    gif_frame = photo.resize((480, 360)).convert("P", palette=Image.Palette.ADAPTIVE)
    return {
        "HEIC (iPhone, portrait)": saved(
            photo.transpose(Image.Transpose.ROTATE_90),
            "HEIF",
            quality=80,
            exif=exif.tobytes(),
            enc_params={"preset": "ultrafast"},
        ),
        "AVIF": saved(photo, "AVIF", quality=70, speed=10),
        "WebP": saved(photo, "WEBP", quality=85),
        "TIFF (LZW, scanner)": saved(photo, "TIFF", compression="tiff_lzw"),
        "GIF (animated, 480x360, 30 frames)": saved(
            gif_frame, "GIF", save_all=True, append_images=[gif_frame] * 29, duration=40
        ),
        "JPEG over 15 MB (24 MP, grain)": encode_jpeg(
            photo.resize((size[0] * 3 // 2, size[1] * 3 // 2)), np.random.default_rng(1), quality=100
        ),
    }


def best(seconds: Callable[[], float], repeat: int) -> float:
    return min(seconds() for _ in range(repeat))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rekflow.bench conversion",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small files (640x480, 2 s of 320x176)")
    parser.add_argument("--repeat", type=int, default=3, help="conversions per image; the best is shown")
    args = parser.parse_args(argv)
    photo, (clip_size, clip_seconds) = ((640, 480), ((320, 176), 2.0)) if args.quick else (PHOTO, CLIP)
    to_jpeg = _image_proxy()
    print(f"{'format':38} {'input':>12} {'copy':>22} {'seconds':>8}")
    for name, data in make_images(photo).items():
        made: list[object] = []

        def convert(data: bytes = data, made: list[object] = made) -> float:
            started = time.perf_counter()
            made.append(to_jpeg(data, 15 * 1024 * 1024, 10_000, 80_000_000))
            return time.perf_counter() - started

        seconds = best(convert, args.repeat)
        copy = made[-1]
        print(
            f"{name:38} {len(data) / 1e6:>9.1f} MB {copy.width}x{copy.height} JPEG {len(copy.jpeg) / 1e6:>5.1f} MB"  # type: ignore[attr-defined]
            f" {seconds:>8.2f}"
        )
    shots = [("cat", clip_seconds / 2), ("astronaut", clip_seconds / 2)]
    for name, (container, codec, options, pix_fmt) in MAKE_VIDEO.items():
        data = sample_video(container, codec, shots=shots, size=clip_size, extra=options, pix_fmt=pix_fmt)
        with tempfile.TemporaryDirectory() as folder:
            source, output = Path(folder) / "input", Path(folder) / "output.mp4"
            source.write_bytes(data)
            started = time.perf_counter()
            transcode(source, output, autorotate=True)
            seconds = time.perf_counter() - started
            width, height, millis = probe(output)
            print(
                f"{name:38} {len(data) / 1e6:>9.1f} MB {width}x{height} H.264 {millis / 1000:>4.0f} s {seconds:>8.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
