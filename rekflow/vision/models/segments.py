"""Video segments: shot boundaries with PySceneDetect, black-frame technical cues from the pixels.

Timecodes are SMPTE at the video's nominal frame rate: non-drop-frame (HH:MM:SS:FF), or
drop-frame (HH:MM:SS;FF) for 29.97 and 59.94 fps video.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

SHOT_MODEL_VERSION = "local-pyscenedetect-adaptive"
CUE_MODEL_VERSION = "local-black-frames"
# A frame is black when its mean luma is at most this (0-255) and almost no pixel is bright.
BLACK_MEAN_LUMA = 16
BLACK_BRIGHT_PIXEL_SHARE = 0.002
MIN_BLACK_FRAMES = 2
# Nominal frame rate -> frame labels dropped each minute in drop-frame timecode (29.97 and 59.94 fps).
DROPPED_PER_MINUTE = {30: 2, 60: 4}


def timecode(frame: int, frame_rate: float) -> str:
    """SMPTE timecode of a frame count: HH:MM:SS:FF, or HH:MM:SS;FF with drop-frame counting at
    29.97 and 59.94 fps (as Rekognition writes it), so the clock stays on real time."""
    nominal = max(1, round(frame_rate))
    dropped = DROPPED_PER_MINUTE.get(nominal, 0) if abs(frame_rate - nominal * 1000 / 1001) < 0.01 else 0
    if dropped:
        # Frame labels 0..dropped-1 are skipped at every minute except each tenth one.
        per_minute = nominal * 60 - dropped
        per_ten_minutes = per_minute * 10 + dropped
        tens, rest = divmod(frame, per_ten_minutes)
        skipped_minutes = 9 * tens + (max(0, rest - dropped) // per_minute)
        frame += dropped * skipped_minutes
    seconds, frames = divmod(frame, nominal)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{';' if dropped else ':'}{frames:02d}"


def _millis(frame: int, frame_rate: float) -> int:
    # Rekognition rounds timestamps down (100.6667 ms is 100); the epsilon keeps 1000/25*n exact.
    return math.floor(frame * 1000 / frame_rate + 1e-6)


def segment(kind: str, first: int, last: int, frame_rate: float, detail: dict[str, Any]) -> dict[str, Any]:
    """One Rekognition Segment covering frames first..last (inclusive)."""
    start_ms = _millis(first, frame_rate)
    end_ms = _millis(last + 1, frame_rate)
    entry = {
        "Type": kind,
        "StartTimestampMillis": start_ms,
        "EndTimestampMillis": end_ms,
        "DurationMillis": end_ms - start_ms,
        "StartTimecodeSMPTE": timecode(first, frame_rate),
        "EndTimecodeSMPTE": timecode(last + 1, frame_rate),
        "DurationSMPTE": timecode(last + 1 - first, frame_rate),
        "StartFrameNumber": first,
        "EndFrameNumber": last,
        "DurationFrames": last + 1 - first,
    }
    entry.update(detail)
    return entry


def detect_shots(path: Path, frame_rate: float) -> list[dict[str, Any]]:
    from scenedetect import AdaptiveDetector, detect

    scenes = detect(str(path), AdaptiveDetector())
    if not scenes:  # one shot: the whole video
        frames = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT))
        spans = [(0, frames - 1)] if frames else []
    else:
        spans = [(start.frame_num, end.frame_num - 1) for start, end in scenes]
    return [
        segment("SHOT", first, last, frame_rate, {"ShotSegment": {"Index": index, "Confidence": 95.0}})
        for index, (first, last) in enumerate(spans)
    ]


def detect_black_frames(path: Path, frame_rate: float) -> list[dict[str, Any]]:
    capture = cv2.VideoCapture(str(path))
    runs: list[tuple[int, int]] = []
    start: int | None = None
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            grey = cv2.cvtColor(cv2.resize(frame, (160, 90), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
            black = grey.mean() <= BLACK_MEAN_LUMA and np.mean(grey > 64) <= BLACK_BRIGHT_PIXEL_SHARE
            if black and start is None:
                start = index
            elif not black and start is not None:
                runs.append((start, index - 1))
                start = None
            index += 1
    finally:
        capture.release()
    if start is not None:
        runs.append((start, index - 1))
    return [
        segment(
            "TECHNICAL_CUE",
            first,
            last,
            frame_rate,
            {"TechnicalCueSegment": {"Type": "BlackFrames", "Confidence": 99.0}},
        )
        for first, last in runs
        if last - first + 1 >= MIN_BLACK_FRAMES
    ]
