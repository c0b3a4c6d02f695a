"""The Rekognition features rekflow runs, read from schemas/features.json (their one list).

The Lambda functions read the same file from their schemas layer (/opt); everything else in this
package (the ASL generator, the backends, the CLI) derives its per-feature tables from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rekflow import PROJECT_ROOT

REGISTRY_PATH = PROJECT_ROOT / "schemas" / "features.json"


@dataclass(frozen=True)
class ImageOperation:
    operation: str  # e.g. DetectLabels
    request: dict[str, Any]  # ASL Parameters added to the Image argument
    result: dict[str, Any]  # ASL ResultSelector picks (besides status)


@dataclass(frozen=True)
class VideoJob:
    job: str  # in words, for state names: "label detection"
    start: str  # StartLabelDetection
    get: str  # GetLabelDetection
    api: str  # the API name in Rekognition's completion message: LABEL_DETECTION
    request: dict[str, Any]
    items: str  # the Get… response's result list: Labels
    model_version: str | None  # the Get… response's model version field, if it has one


@dataclass(frozen=True)
class Feature:
    name: str
    image: ImageOperation | None
    video: VideoJob | None


def load(text: str) -> tuple[Feature, ...]:
    def video(spec: dict[str, Any] | None) -> VideoJob | None:
        if spec is None:
            return None
        return VideoJob(
            spec["job"], spec["start"], spec["get"], spec["api"], spec["request"], spec["items"], spec["modelVersion"]
        )

    return tuple(
        Feature(f["name"], ImageOperation(**f["image"]) if f["image"] else None, video(f["video"]))
        for f in json.loads(text)["features"]
    )


FEATURES = load(REGISTRY_PATH.read_text(encoding="utf-8"))
NAMES = tuple(f.name for f in FEATURES)
IMAGE_FEATURES = tuple(f for f in FEATURES if f.image)
VIDEO_FEATURES = tuple(f for f in FEATURES if f.video)
BY_NAME = {f.name: f for f in FEATURES}
