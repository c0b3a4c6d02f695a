"""Rekognition-compatible answers from real open-source models, offline.

Each model loads once per process, on first use. Request checks (formats, sizes, the
pixel budget) happen before any pixel is decoded, with Rekognition's own error codes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from rekflow.vision.image_input import ImageInput
from rekflow.vision.image_operations import ImageOperationsBackend
from rekflow.vision.models import faces, labels, moderation, segments, text
from rekflow.vision.video_input import fetch_video
from rekflow.vision.video_jobs import VideoAnalysis

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
    """Real models for every operation; videos are analysed `video_frames_per_second` frames a second."""

    name = "local"

    def __init__(self, s3_client: Callable[[], Any], video_frames_per_second: float = 1.0) -> None:
        super().__init__(s3_client)
        self.video_frames_per_second = video_frames_per_second

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

    def analyse_video(self, feature: str, s3_object: dict[str, Any], request: dict[str, Any]) -> VideoAnalysis:
        with fetch_video(self._s3_client(), s3_object) as video:
            if feature == "segments":
                found = segments.detect_shots(video.path, video.frame_rate)
                found += segments.detect_black_frames(video.path, video.frame_rate)
                found.sort(key=lambda s: (s["StartTimestampMillis"], s["Type"]))
                types = [{"Type": "SHOT", "ModelVersion": segments.SHOT_MODEL_VERSION},
                         {"Type": "TECHNICAL_CUE", "ModelVersion": segments.CUE_MODEL_VERSION}]
                return VideoAnalysis(found, video.metadata(), "", {"SelectedSegmentTypes": types, "AudioMetadata": []})
            items = []
            for timestamp, frame in video.sampled_frames(self.video_frames_per_second):
                items += [{"Timestamp": timestamp, **found} for found in self._frame_findings(feature, frame, request)]
            versions = {"labels": LABEL_MODEL_VERSION, "moderation": MODERATION_MODEL_VERSION,
                        "text": TEXT_MODEL_VERSION}
            return VideoAnalysis(items, video.metadata(), versions.get(feature, ""))

    def _frame_findings(self, feature: str, frame: np.ndarray, request: dict[str, Any]) -> list[dict[str, Any]]:
        """One frame's findings, each keyed as Rekognition's video results key them (Label, Face, ...)."""
        if feature == "faces":
            return [{"Face": face} for face in faces.detect_faces(frame)]
        if feature == "text":
            floor = float(request.get("Filters", {}).get("WordFilter", {}).get("MinConfidence", 0))
            return [{"TextDetection": d} for d in text.detect_text(frame, floor)]
        floor = float(request.get("MinConfidence", 50))
        picture = Image.fromarray(frame)
        if feature == "moderation":
            return [{"ModerationLabel": label} for label in moderation.detect_moderation_labels(picture, floor)]
        person_boxes = [face["BoundingBox"] for face in faces.detect_faces(frame)]
        found = labels.detect_labels(picture, person_boxes)
        return [{"Label": label} for label in found if label["Confidence"] >= floor]
