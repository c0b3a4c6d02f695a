"""Text from RapidOCR (PP-OCR ONNX models in the rapidocr wheel) as Rekognition LINE and WORD detections."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import numpy as np

# One engine per process; RapidOCR keeps per-call state, so calls take turns.
_lock = threading.Lock()


@cache
def _engine() -> Any:
    from rapidocr import RapidOCR

    # RapidOCR's default scales the *shorter* side up to 736 px (a 300x450 photo is detected at
    # 736x1104, four times the pixels); scaling only the longer side down to 960 px reads the same
    # lines on the samples at a third of the time. Large photos lose text smaller than ~1/100 of
    # their width, which Rekognition (limited to 100 words an image) does not promise to find either.
    return RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False,
                            "Det.limit_type": "max", "Det.limit_side_len": 960})


def detect_text(rgb: np.ndarray, min_confidence: float) -> list[dict[str, Any]]:
    height, width = rgb.shape[:2]
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
            detections.append(_detection(word, "WORD", len(detections), line_id, confidence,
                                         _slice(polygon, start / total, offset / total)))
    return detections


def _slice(polygon: list[dict[str, float]], start: float, end: float) -> list[dict[str, float]]:
    top_left, top_right, bottom_right, bottom_left = polygon

    def along(a: dict[str, float], b: dict[str, float], t: float) -> dict[str, float]:
        return {"X": a["X"] + (b["X"] - a["X"]) * t, "Y": a["Y"] + (b["Y"] - a["Y"]) * t}

    return [along(top_left, top_right, start), along(top_left, top_right, end),
            along(bottom_left, bottom_right, end), along(bottom_left, bottom_right, start)]


def _detection(text: str, kind: str, ident: int, parent: int | None, confidence: float,
               polygon: list[dict[str, float]]) -> dict[str, Any]:
    xs, ys = [p["X"] for p in polygon], [p["Y"] for p in polygon]
    detection: dict[str, Any] = {
        "DetectedText": text, "Type": kind, "Id": ident, "Confidence": confidence,
        "Geometry": {"BoundingBox": {"Width": max(xs) - min(xs), "Height": max(ys) - min(ys),
                                     "Left": min(xs), "Top": min(ys)}, "Polygon": polygon},
    }
    if parent is not None:
        detection["ParentId"] = parent
    return detection
