"""Deterministic, instant Rekognition answers for unit tests: real request checks, canned findings.

The findings do not depend on the pixels; they are fixed so tests can assert exact values,
and they honour MinConfidence, MaxLabels and the word filter like Rekognition does. With `quotas`,
each operation is held to a TPS quota as Rekognition holds it (rekflow.vision.quota).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from rekflow.vision import limits
from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import ImageInput
from rekflow.vision.image_operations import ImageOperationsBackend
from rekflow.vision.quota import TpsQuotas
from rekflow.vision.video_jobs import VideoAnalysis


def _box(left: float, top: float, width: float, height: float) -> dict[str, float]:
    return {"Width": width, "Height": height, "Left": left, "Top": top}


def _polygon(box: dict[str, float]) -> list[dict[str, float]]:
    x, y, w, h = box["Left"], box["Top"], box["Width"], box["Height"]
    return [{"X": x, "Y": y}, {"X": x + w, "Y": y}, {"X": x + w, "Y": y + h}, {"X": x, "Y": y + h}]


LABELS = [
    {
        "Name": "Cat",
        "Confidence": 97.5,
        "Instances": [{"BoundingBox": _box(0.2, 0.1, 0.6, 0.8), "Confidence": 95.0}],
        "Parents": [{"Name": "Animal"}, {"Name": "Mammal"}, {"Name": "Pet"}],
        "Aliases": [{"Name": "Kitten"}],
        "Categories": [{"Name": "Animals and Pets"}],
    },
    {
        "Name": "Pet",
        "Confidence": 97.5,
        "Instances": [],
        "Parents": [{"Name": "Animal"}],
        "Aliases": [],
        "Categories": [{"Name": "Animals and Pets"}],
    },
    {
        "Name": "Animal",
        "Confidence": 97.5,
        "Instances": [],
        "Parents": [],
        "Aliases": [],
        "Categories": [{"Name": "Animals and Pets"}],
    },
    {
        "Name": "Indoors",
        "Confidence": 61.0,
        "Instances": [],
        "Parents": [],
        "Aliases": [],
        "Categories": [{"Name": "Buildings and Architecture"}],
    },
]
MODERATION_LABELS: list[dict[str, Any]] = []
_LINE_BOX = _box(0.1, 0.45, 0.8, 0.1)
TEXT = [
    {
        "DetectedText": "REKFLOW FIXTURE",
        "Type": "LINE",
        "Id": 0,
        "Confidence": 99.1,
        "Geometry": {"BoundingBox": _LINE_BOX, "Polygon": _polygon(_LINE_BOX)},
    },
    {
        "DetectedText": "REKFLOW",
        "Type": "WORD",
        "Id": 1,
        "ParentId": 0,
        "Confidence": 99.3,
        "Geometry": {"BoundingBox": _box(0.1, 0.45, 0.45, 0.1), "Polygon": _polygon(_box(0.1, 0.45, 0.45, 0.1))},
    },
    {
        "DetectedText": "FIXTURE",
        "Type": "WORD",
        "Id": 2,
        "ParentId": 0,
        "Confidence": 98.9,
        "Geometry": {"BoundingBox": _box(0.58, 0.45, 0.32, 0.1), "Polygon": _polygon(_box(0.58, 0.45, 0.32, 0.1))},
    },
]
FACES = [
    {
        "BoundingBox": _box(0.4, 0.2, 0.2, 0.3),
        "Confidence": 99.9,
        "Landmarks": [
            {"Type": name, "X": x, "Y": y}
            for name, x, y in (
                ("eyeLeft", 0.46, 0.3),
                ("eyeRight", 0.54, 0.3),
                ("nose", 0.5, 0.36),
                ("mouthLeft", 0.47, 0.42),
                ("mouthRight", 0.53, 0.42),
            )
        ],
        "Pose": {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0},
        "Quality": {"Brightness": 60.0, "Sharpness": 80.0},
    },
]


VIDEO_FRAME_RATE = 24.0


class FixtureBackend(ImageOperationsBackend):
    """Canned Rekognition findings behind real request validation; `overrides` replaces a whole response.

    A video "has" `video_seconds` seconds; each second carries the image findings once, so a large
    value makes results that span many Get… pages. A call over its operation's quota in `quotas` fails
    as Rekognition fails it, before any work.
    """

    name = "fixture"

    def __init__(
        self,
        s3_client: Callable[[], Any],
        overrides: dict[str, dict[str, Any]] | None = None,
        video_seconds: int = 3,
        quotas: TpsQuotas | None = None,
    ) -> None:
        super().__init__(s3_client)
        self._overrides = overrides or {}
        self.video_seconds = video_seconds
        self.quotas = quotas

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.quotas is not None and not self.quotas.admit(operation):
            # Rekognition's error for a call beyond the TPS quota (its model: "The number of requests
            # exceeded your throughput limit"); the router returns it as HTTP 400, as AWS does.
            raise RekognitionError(
                "ProvisionedThroughputExceededException",
                f"The number of requests exceeded your throughput limit for {operation}.",
            )
        response = super().handle(operation, params)
        if operation not in self._overrides:
            return response
        # An override stands for what Rekognition found; the answer still holds Rekognition's limits.
        return limits.hold(operation, params, copy.deepcopy(self._overrides[operation]))

    def check_pixels(self, image: ImageInput) -> None:
        """The canned findings ignore the pixels, but an image Rekognition cannot decode is refused here too
        (a JPEG decodes at 1/8 scale, so the check costs little)."""
        image.decode(max_side=64)

    # The canned findings are returned whole; ImageOperationsBackend.handle holds them to the request
    # (MinConfidence, MaxLabels, the word filter) and Rekognition's limits (rekflow.vision.limits).
    def detect_labels(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        return {"Labels": copy.deepcopy(LABELS), "LabelModelVersion": "3.0"}

    def detect_moderation_labels(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        return {"ModerationLabels": copy.deepcopy(MODERATION_LABELS), "ModerationModelVersion": "7.0"}

    def detect_text(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        return {"TextDetections": copy.deepcopy(TEXT), "TextModelVersion": "3.0"}

    def detect_faces(self, image: ImageInput, params: dict[str, Any]) -> dict[str, Any]:
        return {"FaceDetails": copy.deepcopy(FACES), "OrientationCorrection": "ROTATE_0"}

    def analyse_video(self, feature: str, s3_object: dict[str, Any], request: dict[str, Any]) -> VideoAnalysis:
        floor = request.get("MinConfidence", limits.DEFAULT_MODERATION_MIN_CONFIDENCE)
        stamps = [second * 1000 for second in range(self.video_seconds)]
        if feature == "labels":
            items = [
                {"Timestamp": t, "Label": copy.deepcopy(label)}
                for t in stamps
                for label in LABELS
                if label["Confidence"] >= floor
            ]
        elif feature == "moderation":
            items = [
                {"Timestamp": t, "ModerationLabel": copy.deepcopy(label)}
                for t in stamps
                for label in MODERATION_LABELS
                if label["Confidence"] >= floor
            ]
        elif feature == "text":
            items = [{"Timestamp": t, "TextDetection": copy.deepcopy(d)} for t in stamps for d in TEXT]
        elif feature == "faces":
            items = [{"Timestamp": t, "Face": copy.deepcopy(face)} for t in stamps for face in FACES]
        else:
            # Imported here: the segments module brings OpenCV and NumPy, which only a video's segments use.
            from rekflow.vision.models.segments import segment

            frames = int(self.video_seconds * VIDEO_FRAME_RATE)
            half = frames // 2
            items = [
                segment("SHOT", 0, half - 1, VIDEO_FRAME_RATE, {"ShotSegment": {"Index": 0, "Confidence": 99.0}}),
                segment(
                    "TECHNICAL_CUE",
                    half - 12,
                    half - 1,
                    VIDEO_FRAME_RATE,
                    {"TechnicalCueSegment": {"Type": "BlackFrames", "Confidence": 99.0}},
                ),
                segment("SHOT", half, frames - 1, VIDEO_FRAME_RATE, {"ShotSegment": {"Index": 1, "Confidence": 99.0}}),
            ]
        metadata = {
            "Codec": "h264",
            "DurationMillis": self.video_seconds * 1000,
            "Format": "QuickTime / MOV",
            "FrameRate": VIDEO_FRAME_RATE,
            "FrameHeight": 352,
            "FrameWidth": 640,
            "ColorRange": "LIMITED",
        }
        extra = (
            {
                "SelectedSegmentTypes": [
                    {"Type": "SHOT", "ModelVersion": "1.0"},
                    {"Type": "TECHNICAL_CUE", "ModelVersion": "2.0"},
                ],
                "AudioMetadata": [],
            }
            if feature == "segments"
            else {}
        )
        return VideoAnalysis(items, metadata, "fixture", extra)
