"""The local backend's real models on the bundled samples (marked `models`: seconds, not milliseconds)."""

from __future__ import annotations

import difflib

import pytest

from rekflow.samples import SAMPLES, sign_text_lines
from rekflow.vision.backend import RekognitionError
from rekflow.vision.local import LocalModelsBackend
from rekflow.vision.shapes import shape_errors

pytestmark = pytest.mark.models
OPERATIONS = {
    "DetectLabels": {"MinConfidence": 50},
    "DetectModerationLabels": {"MinConfidence": 50},
    "DetectText": {},
    "DetectFaces": {"Attributes": ["DEFAULT"]},
}


@pytest.fixture(scope="module")
def backend() -> LocalModelsBackend:
    return LocalModelsBackend(lambda: None)  # every request here sends Bytes; no S3 needed


def sample_bytes(name: str) -> bytes:
    return next(s for s in SAMPLES if s.name == name).make()


def ask(backend: LocalModelsBackend, operation: str, sample: str) -> dict:
    response = backend.handle(operation, {"Image": {"Bytes": sample_bytes(sample)}, **OPERATIONS[operation]})
    assert shape_errors(operation, response) == ""
    return response


def test_person_photo_yields_a_face_and_person(backend):
    (face,) = ask(backend, "DetectFaces", "astronaut.jpg")["FaceDetails"]
    assert face["Confidence"] > 95
    assert {lm["Type"] for lm in face["Landmarks"]} == {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"}
    assert abs(face["Pose"]["Roll"]) < 20 and abs(face["Pose"]["Yaw"]) < 30
    labels = {label["Name"]: label for label in ask(backend, "DetectLabels", "astronaut.jpg")["Labels"]}
    assert labels["Person"]["Instances"][0]["BoundingBox"] == face["BoundingBox"]


def test_cat_photo_yields_cat_under_animal(backend):
    labels = {label["Name"]: label for label in ask(backend, "DetectLabels", "cat.jpg")["Labels"]}
    assert labels["Cat"]["Confidence"] > 70
    assert {"Animal", "Pet"} <= {parent["Name"] for parent in labels["Cat"]["Parents"]}
    assert "Animal" in labels and "Person" not in labels
    assert ask(backend, "DetectFaces", "cat.jpg")["FaceDetails"] == []


def test_rendered_text_is_read_back(backend):
    detections = ask(backend, "DetectText", "shop sign + hours 100% café.png")["TextDetections"]
    lines = [d["DetectedText"] for d in detections if d["Type"] == "LINE"]
    assert len(lines) == len(sign_text_lines())
    for expected, read in zip(sign_text_lines(), lines, strict=True):
        wrong = sum(max(a, b) for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, expected, read).get_opcodes()
                    if op != "equal" for a, b in [(a2 - a1, b2 - b1)])
        assert wrong <= 1, (expected, read)
    words = [d for d in detections if d["Type"] == "WORD"]
    assert {w["ParentId"] for w in words} == {d["Id"] for d in detections if d["Type"] == "LINE"}


def test_blank_image_has_no_faces_and_no_text(backend):
    assert ask(backend, "DetectFaces", "blank.png")["FaceDetails"] == []
    assert ask(backend, "DetectText", "blank.png")["TextDetections"] == []


def test_safe_photos_are_not_flagged(backend):
    for sample in ("astronaut.jpg", "cat.jpg", "coffee.jpg"):
        assert ask(backend, "DetectModerationLabels", sample)["ModerationLabels"] == []


@pytest.mark.parametrize(("sample", "code"), [("pixel-bomb.png", "ImageTooLargeException"),
                                              ("spinner.gif", "InvalidImageFormatException")])
def test_bad_inputs_get_rekognitions_errors(backend, sample, code):
    with pytest.raises(RekognitionError) as raised:
        backend.handle("DetectLabels", {"Image": {"Bytes": sample_bytes(sample)}})
    assert raised.value.code == code
