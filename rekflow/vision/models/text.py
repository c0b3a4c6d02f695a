"""Text from RapidOCR (PP-OCR ONNX models in the rapidocr wheel) as Rekognition LINE and WORD detections."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import cv2
import numpy as np

# One engine per process; RapidOCR keeps per-call state, so calls take turns.
_lock = threading.Lock()
# The detector sees at most 960 px (below); the recogniser reads each line from the image it is given, so
# that keeps up to twice the detector's size: a 12 MP photo is read at 2048 px, where text of 1/100 of the
# width is still 20 px tall (the recogniser works at 48), instead of copying and scanning 36 MB of pixels.
MAX_SIDE = 2048
DETECTOR_SIDE = 960


@cache
def _engine() -> Any:
    from rapidocr import RapidOCR

    # RapidOCR's default scales the *shorter* side up to 736 px (a 300x450 photo is detected at
    # 736x1104, four times the pixels); scaling only the longer side down to 960 px reads the same
    # lines on the samples at a third of the time. Large photos lose text smaller than ~1/100 of
    # their width, which Rekognition (limited to 100 words an image) does not promise to find either.
    return RapidOCR(
        params={
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Det.limit_type": "max",
            "Det.limit_side_len": DETECTOR_SIDE,
        }
    )


def detect_text(rgb: np.ndarray, min_confidence: float) -> list[dict[str, Any]]:
    """LINE and WORD detections in an RGB image of any size (a larger one is read at MAX_SIDE; polygons
    are relative, so they hold for the original)."""
    height, width = rgb.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    with _lock:
        result = _engine()(rgb)
    if result.boxes is None:
        return []
    detections: list[dict[str, Any]] = []
    for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
        confidence = round(float(score) * 100, 3)
        if confidence < min_confidence or not text.strip():
            continue
        polygon = [{"X": float(x) / width, "Y": float(y) / height} for x, y in box]
        line_id = len(detections)
        detections.append(_detection(text, "LINE", line_id, None, confidence, polygon))
        # Words share the line's box, split along it by character count (the recogniser reads whole lines).
        offset, total = 0, len(text)
        for word in text.split():
            start = text.index(word, offset)
            offset = start + len(word)
            detections.append(
                _detection(
                    word, "WORD", len(detections), line_id, confidence, _slice(polygon, start / total, offset / total)
                )
            )
    return detections


def _slice(polygon: list[dict[str, float]], start: float, end: float) -> list[dict[str, float]]:
    top_left, top_right, bottom_right, bottom_left = polygon

    def along(a: dict[str, float], b: dict[str, float], t: float) -> dict[str, float]:
        return {"X": a["X"] + (b["X"] - a["X"]) * t, "Y": a["Y"] + (b["Y"] - a["Y"]) * t}

    return [
        along(top_left, top_right, start),
        along(top_left, top_right, end),
        along(bottom_left, bottom_right, end),
        along(bottom_left, bottom_right, start),
    ]


def _detection(
    text: str, kind: str, ident: int, parent: int | None, confidence: float, polygon: list[dict[str, float]]
) -> dict[str, Any]:
    xs, ys = [p["X"] for p in polygon], [p["Y"] for p in polygon]
    detection: dict[str, Any] = {
        "DetectedText": text,
        "Type": kind,
        "Id": ident,
        "Confidence": confidence,
        "Geometry": {
            "BoundingBox": {"Width": max(xs) - min(xs), "Height": max(ys) - min(ys), "Left": min(xs), "Top": min(ys)},
            "Polygon": polygon,
        },
    }
    if parent is not None:
        detection["ParentId"] = parent
    return detection
