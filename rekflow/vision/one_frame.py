"""One frame of a video, decoded by the ffmpeg that ships in imageio-ffmpeg, in one run that ends before
this returns.

imageio-ffmpeg's read_frames leaves its pipes open when ffmpeg exits before the generator is closed (it
closes them only for a process still running: https://github.com/imageio/imageio-ffmpeg/issues/61, open),
which a one-frame read makes likely. subprocess.run waits for ffmpeg and closes every pipe.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

# A frame of a local file decodes in well under a second; a run this long is ffmpeg stuck on a broken file.
FFMPEG_SECONDS = 60


class NoFrame(ValueError):
    """ffmpeg decoded no frame: the file is not a video it can read, or `at_seconds` is past its end."""


def frame_at(path: Path, at_seconds: float) -> Image.Image:
    """The frame `at_seconds` into the video, as RGB, turned as a player shows it."""
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        # -ss before the input seeks by keyframe index, then decodes only up to the frame asked for.
        "-ss",
        f"{max(at_seconds, 0.0):.3f}",
        "-i",
        str(path),
        "-frames:v",
        "1",
        "-f",
        "image2pipe",
        "-c:v",
        "bmp",  # uncompressed: nothing to encode, and Pillow reads it
        "-",
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=FFMPEG_SECONDS, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as error:
        raise NoFrame(f"{path.name}: ffmpeg decoded nothing in {FFMPEG_SECONDS} s") from error
    if not done.stdout:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"no frame at {at_seconds:.3f} s"]
        raise NoFrame(f"{path.name}: {reason[0]}")
    with Image.open(io.BytesIO(done.stdout)) as frame:
        return frame.convert("RGB")
