"""Rekognition-compatible answers from real open-source models, offline.

Each model loads once per process, on first use. Request checks (formats, sizes, the
pixel budget) happen before any pixel is decoded, with Rekognition's own error codes.

A photo is decoded once, at the size the most demanding model needs (the text recogniser's
2048 px; a 12 MP JPEG decodes straight at half size), and that copy is shared by the four
features, which the workflow asks for at once; each model then sees its own downscaled copy.
Boxes and polygons are relative, so they hold for the photo as sent.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import numpy as np
from PIL import Image

from rekflow.vision import limits
from rekflow.vision.image_input import ImageInput, downscale
from rekflow.vision.image_operations import ImageOperationsBackend
from rekflow.vision.models import faces, labels, moderation, segments, text
from rekflow.vision.video_input import fetch_video
from rekflow.vision.video_jobs import VideoAnalysis

LABEL_MODEL_VERSION = "local-efficientnet-lite0"
MODERATION_MODEL_VERSION = "local-image-safety-classifier-s"
TEXT_MODEL_VERSION = "local-pp-ocr"
# The classifiers squash the photo to 224x224 themselves; they are given at least twice that on the
# shorter side, so their own resize still averages the pixels rather than skipping them.
CLASSIFIER_MIN_SIDE = 2 * moderation.INPUT_SIDE

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class SharedResults(Generic[Key, Value]):
    """`compute(key)` once per key for the last `size` keys; a caller that asks while the first one
    computes waits for its result (lru_cache would compute it twice: the workflow's branches ask at once)."""

    def __init__(self, compute: Callable[[Key], Value], size: int) -> None:
        self._compute, self._size = compute, size
        self._results: OrderedDict[Key, Future[Value]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, key: Key) -> Value:
        with self._lock:
            result = self._results.get(key)
            first = result is None
            if result is None:
                result = self._results[key] = Future()
                while len(self._results) > self._size:
                    self._results.popitem(last=False)
            else:
                self._results.move_to_end(key)
        if first:
            try:
                result.set_result(self._compute(key))
            except BaseException as error:
                with self._lock:  # a failure is not remembered: the next caller tries again
                    if self._results.get(key) is result:
                        del self._results[key]
                result.set_exception(error)
        return result.result()

    def clear(self) -> None:
        with self._lock:
            self._results.clear()


def _working_copy(image: ImageInput) -> Image.Image:
    return image.decode(max_side=max(faces.MAX_SIDE, text.MAX_SIDE))


def _face_details(image: ImageInput) -> list[dict[str, Any]]:
    return faces.detect_faces(np.asarray(downscale(_pixels(image), faces.MAX_SIDE)))


# Decoded photos (9 MB each at 2048x1536) for the executions in flight: `rekflow analyze` runs 4 at once.
_pixels: SharedResults[ImageInput, Image.Image] = SharedResults(_working_copy, size=4)
# Faces of one image; DetectLabels needs them for Person, so the workflow's two calls share one run.
_faces: SharedResults[ImageInput, list[dict[str, Any]]] = SharedResults(_face_details, size=8)


def forget_faces() -> None:
    """Drop the shared decoded photos and face results, so a benchmark times the work and not the cache."""
    _faces.clear()
    _pixels.clear()


class LocalModelsBackend(ImageOperationsBackend):
    """Real models for every operation; videos are analysed `video_frames_per_second` frames a second."""

    name = "local"

    def __init__(self, s3_client: Callable[[], Any], video_frames_per_second: float = 1.0) -> None:
        super().__init__(s3_client)
        self.video_frames_per_second = video_frames_per_second

    def detect_labels(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        # Every label found; ImageOperationsBackend.handle holds them to MinConfidence and MaxLabels (limits.hold).
        person_boxes = [face["BoundingBox"] for face in _faces(image)]
        picture = downscale(_pixels(image), min_side=CLASSIFIER_MIN_SIDE)
        return {"Labels": labels.detect_labels(picture, person_boxes), "LabelModelVersion": LABEL_MODEL_VERSION}

    def detect_moderation_labels(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        picture = downscale(_pixels(image), min_side=CLASSIFIER_MIN_SIDE)
        floor = float(params.get("MinConfidence", limits.DEFAULT_MODERATION_MIN_CONFIDENCE))
        found = moderation.detect_moderation_labels(picture, floor)
        return {"ModerationLabels": found, "ModerationModelVersion": MODERATION_MODEL_VERSION}

    def detect_text(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        word_filter = params.get("Filters", {}).get("WordFilter", {})
        floor = float(word_filter.get("MinConfidence", limits.DEFAULT_WORD_MIN_CONFIDENCE))
        detections = text.detect_text(np.asarray(downscale(_pixels(image), text.MAX_SIDE)), floor)
        return {"TextDetections": detections, "TextModelVersion": TEXT_MODEL_VERSION}

    def detect_faces(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        return {"FaceDetails": copy.deepcopy(_faces(image)), "OrientationCorrection": "ROTATE_0"}

    def analyse_video(self, feature: str, s3_object: dict[str, Any], request: dict[str, Any]) -> VideoAnalysis:
        with fetch_video(self._s3_client(), s3_object) as video:
            if feature == "segments":
                found = segments.detect_shots(video.path, video.frame_rate)
                found += segments.detect_black_frames(video.path, video.frame_rate)
                found.sort(key=lambda s: (s["StartTimestampMillis"], s["Type"]))
                types = [
                    {"Type": "SHOT", "ModelVersion": segments.SHOT_MODEL_VERSION},
                    {"Type": "TECHNICAL_CUE", "ModelVersion": segments.CUE_MODEL_VERSION},
                ]
                return VideoAnalysis(found, video.metadata(), "", {"SelectedSegmentTypes": types, "AudioMetadata": []})
            items = []
            for timestamp, frame in video.sampled_frames(self.video_frames_per_second):
                items += [{"Timestamp": timestamp, **found} for found in self._frame_findings(feature, frame, request)]
            versions = {
                "labels": LABEL_MODEL_VERSION,
                "moderation": MODERATION_MODEL_VERSION,
                "text": TEXT_MODEL_VERSION,
            }
            return VideoAnalysis(items, video.metadata(), versions.get(feature, ""))

    def _frame_findings(self, feature: str, frame: np.ndarray, request: dict[str, Any]) -> list[dict[str, Any]]:
        """One frame's findings, each keyed as Rekognition's video results key them (Label, Face, ...)."""
        if feature == "faces":
            return [{"Face": face} for face in faces.detect_faces(frame)]
        if feature == "text":
            word_filter = request.get("Filters", {}).get("WordFilter", {})
            floor = float(word_filter.get("MinConfidence", limits.DEFAULT_WORD_MIN_CONFIDENCE))
            return [{"TextDetection": d} for d in text.detect_text(frame, floor)]
        floor = float(request.get("MinConfidence", limits.DEFAULT_MODERATION_MIN_CONFIDENCE))
        picture = downscale(Image.fromarray(frame), min_side=CLASSIFIER_MIN_SIDE)
        if feature == "moderation":
            return [{"ModerationLabel": label} for label in moderation.detect_moderation_labels(picture, floor)]
        person_boxes = [face["BoundingBox"] for face in faces.detect_faces(frame)]
        found = labels.detect_labels(picture, person_boxes)
        return [{"Label": label} for label in found if label["Confidence"] >= floor]
