"""Fetch a video job's S3 object to a temporary file and read its frames, sampled at a fixed rate.

Frames are decoded one at a time and handed on, so memory stays flat however long the video.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import version_argument

# Frames are analysed at most this large on their longer side, as Rekognition analyses a scaled frame too.
MAX_FRAME_SIDE = 1280


@dataclass(frozen=True)
class VideoFile:
    path: Path
    frame_rate: float
    frame_count: int
    width: int
    height: int
    codec: str
    container: str

    @property
    def duration_millis(self) -> int:
        return int(self.frame_count * 1000 / self.frame_rate) if self.frame_rate else 0

    def metadata(self) -> dict[str, Any]:
        """Rekognition's VideoMetadata for this file."""
        return {
            "Codec": self.codec,
            "DurationMillis": self.duration_millis,
            "Format": self.container,
            "FrameRate": round(self.frame_rate, 3),
            "FrameHeight": self.height,
            "FrameWidth": self.width,
            "ColorRange": "LIMITED",
        }

    def sampled_frames(self, per_second: float) -> Iterator[tuple[int, np.ndarray]]:
        """(timestamp in ms, RGB frame) about `per_second` times a second of video."""
        step = max(1, round(self.frame_rate / per_second)) if self.frame_rate else 1
        capture = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                grabbed = capture.grab()
                if not grabbed:
                    return
                if index % step == 0:
                    ok, frame = capture.retrieve()
                    if ok:
                        yield int(index * 1000 / self.frame_rate), _scaled_rgb(frame)
                index += 1
        finally:
            capture.release()


def _scaled_rgb(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = MAX_FRAME_SIDE / max(height, width)
    if scale < 1:
        frame = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


@contextmanager
def fetch_video(s3: Any, s3_object: dict[str, Any]) -> Iterator[VideoFile]:
    """The S3 object as a local file OpenCV can read; a file it cannot decode fails the job as on AWS."""
    version = version_argument(s3_object)
    handle, name = tempfile.mkstemp(suffix=Path(s3_object["Name"]).suffix or ".mp4", prefix="rekflow-video-")
    try:
        with os.fdopen(handle, "wb") as out:
            s3.download_fileobj(s3_object["Bucket"], s3_object["Name"], out, ExtraArgs=version or None)
        yield open_video(Path(name))
    finally:
        os.unlink(name)


def open_video(path: Path) -> VideoFile:
    """The file's size, frame rate and length as OpenCV reads them from its header (no frame is decoded)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise RekognitionError("InvalidVideoFormat", "Unsupported codec/format: the video cannot be decoded.")
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
        codec = fourcc.to_bytes(4, "little").decode("latin-1").strip("\x00 ") or "unknown"
        return VideoFile(
            path,
            float(capture.get(cv2.CAP_PROP_FPS)),
            int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "h264" if codec.lower() in ("avc1", "h264") else codec,
            "QuickTime / MOV",
        )
    finally:
        capture.release()
