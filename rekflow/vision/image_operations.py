"""Dispatch shared by the offline backends: image operations after Rekognition's request checks,
video operations through the asynchronous job runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rekflow.vision import limits
from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import ImageInput, read_image
from rekflow.vision.video_jobs import VideoAnalysis, VideoJobs

# Rekognition image operation -> method of the backend that answers it.
OPERATIONS = {
    "DetectLabels": "detect_labels",
    "DetectModerationLabels": "detect_moderation_labels",
    "DetectText": "detect_text",
    "DetectFaces": "detect_faces",
}


class ImageOperationsBackend:
    """Checks the request's image like Rekognition, then calls `detect_…(image, params)` on the subclass;
    runs video jobs with the subclass's `analyse_video(feature, s3_object, request)`."""

    name = "offline"

    def __init__(self, s3_client: Callable[[], Any]) -> None:
        self._s3_client = s3_client
        self.video = VideoJobs(self.analyse_video, s3_client)

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.video.handles(operation):
            return self.video.handle(operation, params)
        method = OPERATIONS.get(operation)
        if method is None:
            raise RekognitionError(
                "InvalidParameterException", f"{operation} is not available in the {self.name} backend."
            )
        image: ImageInput = read_image(params.get("Image", {}), self._s3_client())
        most = limits.MAX_IMAGE_SIDE.get(operation)
        if most is not None and max(image.width, image.height) > most:
            raise RekognitionError(
                "ImageTooLargeException",
                f"{operation} takes images of at most {most} pixels a side, not {image.width}x{image.height}.",
            )
        self.check_pixels(image)
        response: dict[str, Any] = getattr(self, method)(image, params)
        return limits.hold(operation, params, response)

    def check_pixels(self, image: ImageInput) -> None:
        """Raise InvalidImageFormatException (image_input.decode does) for an image whose header reads but whose
        pixels do not decode; a backend whose models decode every image anyway need not check first."""

    def close(self) -> None:
        self.video.shutdown()

    def analyse_video(self, feature: str, s3_object: dict[str, Any], request: dict[str, Any]) -> VideoAnalysis:
        raise RekognitionError(
            "InvalidParameterException", f"Video analysis is not available in the {self.name} backend."
        )
