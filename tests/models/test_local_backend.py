"""The local backend's real models on the bundled samples (marked `models`: seconds, not milliseconds)."""

from __future__ import annotations

import difflib
import io

import numpy as np
import pytest
from PIL import Image

from rekflow.media.phone_photos import PHONE_SIZE, astronaut_faces, astronauts_canvas, encode_jpeg
from rekflow.media.samples import SAMPLES, sign_text_lines
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


def ask(backend: LocalModelsBackend, operation: str, sample: str | bytes) -> dict:
    data = sample if isinstance(sample, bytes) else sample_bytes(sample)
    response = backend.handle(operation, {"Image": {"Bytes": data}, **OPERATIONS[operation]})
    assert shape_errors(operation, response) == ""
    return response


def assert_lines_read(detections: list[dict]) -> None:
    lines = [d["DetectedText"] for d in detections if d["Type"] == "LINE"]
    assert len(lines) == len(sign_text_lines()), lines
    for expected, read in zip(sign_text_lines(), lines, strict=True):
        wrong = sum(
            max(a, b)
            for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, expected, read).get_opcodes()
            if op != "equal"
            for a, b in [(a2 - a1, b2 - b1)]
        )
        assert wrong <= 1, (expected, read)


def assert_one_face_per_paste(face_details: list[dict], regions: list[tuple[float, float, float, float]]) -> None:
    """Each face's centre lies in the region of a different pasted astronaut, and every paste has its face."""
    centres = [
        (
            f["BoundingBox"]["Left"] + f["BoundingBox"]["Width"] / 2,
            f["BoundingBox"]["Top"] + f["BoundingBox"]["Height"] / 2,
        )
        for f in face_details
    ]
    found = sorted(
        next((i for i, (left, t, r, b) in enumerate(regions) if left <= x <= r and t <= y <= b), -1) for x, y in centres
    )
    assert found == list(range(len(regions))), (centres, regions)


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
    assert_lines_read(detections)
    words = [d for d in detections if d["Type"] == "WORD"]
    assert {w["ParentId"] for w in words} == {d["Id"] for d in detections if d["Type"] == "LINE"}


def test_faces_are_found_at_every_size_in_a_phone_photo(backend):
    """Astronauts pasted at three sizes (faces of about 2.5 %, 5 % and 10 % of the width): the detector sees a
    downscaled copy of a 12 MP photo, and still finds each face, with boxes relative to the whole photo."""
    photo = encode_jpeg(astronauts_canvas(PHONE_SIZE), np.random.default_rng(7))
    details = ask(backend, "DetectFaces", photo)["FaceDetails"]
    assert_one_face_per_paste(details, astronaut_faces(PHONE_SIZE))
    assert all(face["Confidence"] > 95 for face in details)
    labels = {label["Name"]: label for label in ask(backend, "DetectLabels", photo)["Labels"]}
    assert len(labels["Person"]["Instances"]) == len(details)


def test_phone_photo_stored_sideways_is_read_upright(backend):
    """A phone turned sideways stores its pixels turned, with EXIF Orientation 6 (turn them 90° clockwise to
    view them); Rekognition turns a JPEG upright before it answers, and its boxes are relative to the upright photo."""
    upright = astronauts_canvas(PHONE_SIZE)
    stored = encode_jpeg(upright.transpose(Image.Transpose.ROTATE_90), np.random.default_rng(7), orientation=6)
    assert Image.open(io.BytesIO(stored)).size == PHONE_SIZE[::-1]
    assert_one_face_per_paste(ask(backend, "DetectFaces", stored)["FaceDetails"], astronaut_faces(PHONE_SIZE))


def test_text_is_read_in_a_phone_photo(backend):
    sign = Image.open(io.BytesIO(sample_bytes("shop sign + hours 100% café.png"))).convert("RGB")
    canvas = Image.new("RGB", PHONE_SIZE, (200, 190, 170))
    canvas.paste(sign.resize((sign.width * 3, sign.height * 3), Image.Resampling.BICUBIC), (500, 900))
    assert_lines_read(ask(backend, "DetectText", encode_jpeg(canvas, np.random.default_rng(3)))["TextDetections"])


def test_blank_image_has_no_faces_and_no_text(backend):
    assert ask(backend, "DetectFaces", "blank.png")["FaceDetails"] == []
    assert ask(backend, "DetectText", "blank.png")["TextDetections"] == []


def test_safe_photos_are_not_flagged(backend):
    for sample in ("astronaut.jpg", "cat.jpg", "coffee.jpg"):
        assert ask(backend, "DetectModerationLabels", sample)["ModerationLabels"] == []


@pytest.mark.parametrize(
    ("sample", "code"), [("pixel-bomb.png", "ImageTooLargeException"), ("spinner.gif", "InvalidImageFormatException")]
)
def test_bad_inputs_get_rekognitions_errors(backend, sample, code):
    with pytest.raises(RekognitionError) as raised:
        backend.handle("DetectLabels", {"Image": {"Bytes": sample_bytes(sample)}})
    assert raised.value.code == code


def test_sample_video_jobs_find_the_shots_the_faces_the_cat_and_the_sign(tmp_path):
    """The local models run as Rekognition video jobs on the bundled sample video (astronaut, black, cat, sign)."""
    import boto3
    from moto import mock_aws

    from rekflow.media.samples import sample_video
    from rekflow.vision.models.segments import timecode

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="media")
        s3.put_object(Bucket="media", Key="tour.mp4", Body=sample_video())
        backend = LocalModelsBackend(lambda: boto3.client("s3", region_name="us-east-1"), video_frames_per_second=1)
        video = {"Video": {"S3Object": {"Bucket": "media", "Name": "tour.mp4"}}}
        jobs = {
            get: backend.handle(start, video)["JobId"]
            for start, get in (
                ("StartSegmentDetection", "GetSegmentDetection"),
                ("StartFaceDetection", "GetFaceDetection"),
                ("StartLabelDetection", "GetLabelDetection"),
                ("StartTextDetection", "GetTextDetection"),
            )
        }
        backend.video.wait_idle(timeout=300)
        results = {get: backend.handle(get, {"JobId": job}) for get, job in jobs.items()}
    for get, response in results.items():
        assert response["JobStatus"] == "SUCCEEDED", response.get("StatusMessage")
        assert shape_errors(get, response) == ""

    segments = results["GetSegmentDetection"]["Segments"]
    shots = [s for s in segments if s["Type"] == "SHOT"]
    # Cuts at 2 s (to black), 3 s (to the cat) and 5 s (to the sign), at 24 frames a second.
    assert [s["StartTimecodeSMPTE"] for s in shots] == [timecode(f, 24) for f in (0, 48, 72, 120)]
    (black,) = [s for s in segments if s["Type"] == "TECHNICAL_CUE"]
    assert (black["TechnicalCueSegment"]["Type"], black["StartFrameNumber"], black["EndFrameNumber"]) == (
        "BlackFrames",
        48,
        71,
    )
    face_times = {f["Timestamp"] for f in results["GetFaceDetection"]["Faces"]}
    assert face_times and max(face_times) < 2000, "faces only while the astronaut is on screen"
    cat_times = {item["Timestamp"] for item in results["GetLabelDetection"]["Labels"] if item["Label"]["Name"] == "Cat"}
    assert cat_times and all(3000 <= t < 5000 for t in cat_times)
    lines = {
        d["TextDetection"]["DetectedText"]
        for d in results["GetTextDetection"]["TextDetections"]
        if d["TextDetection"]["Type"] == "LINE" and d["Timestamp"] >= 5000
    }
    for expected in sign_text_lines():
        assert max(difflib.SequenceMatcher(None, expected, line).ratio() for line in lines) > 0.9, lines
