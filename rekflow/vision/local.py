"""Rekognition-compatible answers from real open-source models, offline.

Each model loads once per process, on first use. Request checks (formats, sizes, the
pixel budget) happen before any pixel is decoded, with Rekognition's own error codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import read_image
from rekflow.vision.models import faces, labels, moderation, text

LABEL_MODEL_VERSION = "local-efficientnet-lite0"
MODERATION_MODEL_VERSION = "local-image-safety-classifier-s"
TEXT_MODEL_VERSION = "local-pp-ocr"


class LocalModelsBackend:
    name = "local"

    def __init__(self, s3_client: Callable[[], Any]) -> None:
        self._s3_client = s3_client

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handlers = {
            "DetectLabels": self.detect_labels,
            "DetectModerationLabels": self.detect_moderation_labels,
            "DetectText": self.detect_text,
            "DetectFaces": self.detect_faces,
        }
        if operation not in handlers:
            raise RekognitionError("InvalidParameterException", f"{operation} is not available in the local backend.")
        image = read_image(params.get("Image", {}), self._s3_client()).decode()
        return handlers[operation](image, params)

    def detect_labels(self, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        floor = float(params.get("MinConfidence", 55))
        person_boxes = [face["BoundingBox"] for face in faces.detect_faces(np.asarray(image))]
        found = [label for label in labels.detect_labels(image, person_boxes) if label["Confidence"] >= floor]
        return {"Labels": found[: int(params.get("MaxLabels", 1000))], "LabelModelVersion": LABEL_MODEL_VERSION}

    def detect_moderation_labels(self, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        found = moderation.detect_moderation_labels(image, float(params.get("MinConfidence", 50)))
        return {"ModerationLabels": found, "ModerationModelVersion": MODERATION_MODEL_VERSION}

    def detect_text(self, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        floor = float(params.get("Filters", {}).get("WordFilter", {}).get("MinConfidence", 0))
        return {"TextDetections": text.detect_text(np.asarray(image), floor), "TextModelVersion": TEXT_MODEL_VERSION}

    def detect_faces(self, image: Any, params: dict[str, Any]) -> dict[str, Any]:
        return {"FaceDetails": faces.detect_faces(np.asarray(image)), "OrientationCorrection": "ROTATE_0"}
