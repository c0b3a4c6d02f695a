"""Dispatch of the image operations shared by the offline backends, after Rekognition's request checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import ImageInput, read_image

# Rekognition operation -> method of the backend that answers it.
OPERATIONS = {
    "DetectLabels": "detect_labels",
    "DetectModerationLabels": "detect_moderation_labels",
    "DetectText": "detect_text",
    "DetectFaces": "detect_faces",
}


class ImageOperationsBackend:
    """Checks the request's image like Rekognition, then calls `detect_…(image, params)` on the subclass."""

    name = "offline"

    def __init__(self, s3_client: Callable[[], Any]) -> None:
        self._s3_client = s3_client

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        method = OPERATIONS.get(operation)
        if method is None:
            raise RekognitionError("InvalidParameterException",
                                   f"{operation} is not available in the {self.name} backend.")
        image: ImageInput = read_image(params.get("Image", {}), self._s3_client())
        response: dict[str, Any] = getattr(self, method)(image, params)
        return response
