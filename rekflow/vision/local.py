"""Rekognition-compatible answers from real open-source models, offline.

Each model loads once per process, on first use. Request checks (formats, sizes, the
pixel budget) happen before any pixel is decoded, with Rekognition's own error codes.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import numpy as np

from rekflow.vision.image_input import ImageInput
from rekflow.vision.image_operations import ImageOperationsBackend
from rekflow.vision.models import faces, labels, moderation, text

LABEL_MODEL_VERSION = "local-efficientnet-lite0"
MODERATION_MODEL_VERSION = "local-image-safety-classifier-s"
TEXT_MODEL_VERSION = "local-pp-ocr"


@lru_cache(maxsize=8)
def _faces(image: ImageInput) -> list[dict[str, Any]]:
    """Faces of one image; DetectLabels needs them for Person, so the workflow's two calls share one run."""
    return faces.detect_faces(np.asarray(image.decode()))


def forget_faces() -> None:
    """Drop the shared face results, so a benchmark times the model and not the cache."""
    _faces.cache_clear()


class LocalModelsBackend(ImageOperationsBackend):
    name = "local"

    def detect_labels(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        floor = float(params.get("MinConfidence", 55))
        person_boxes = [face["BoundingBox"] for face in _faces(image)]
        found = [label for label in labels.detect_labels(image.decode(), person_boxes) if label["Confidence"] >= floor]
        return {"Labels": found[: int(params.get("MaxLabels", 1000))], "LabelModelVersion": LABEL_MODEL_VERSION}

    def detect_moderation_labels(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        found = moderation.detect_moderation_labels(image.decode(), float(params.get("MinConfidence", 50)))
        return {"ModerationLabels": found, "ModerationModelVersion": MODERATION_MODEL_VERSION}

    def detect_text(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        floor = float(params.get("Filters", {}).get("WordFilter", {}).get("MinConfidence", 0))
        detections = text.detect_text(np.asarray(image.decode()), floor)
        return {"TextDetections": detections, "TextModelVersion": TEXT_MODEL_VERSION}

    def detect_faces(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        return {"FaceDetails": copy.deepcopy(_faces(image)), "OrientationCorrection": "ROTATE_0"}
