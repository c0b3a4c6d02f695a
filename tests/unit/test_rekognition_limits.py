"""The offline backends answer as Rekognition does at its edges: images it cannot decode, and the documented
limits on what one answer holds (rekflow.vision.limits)."""

from __future__ import annotations

import io
import struct
import zlib

import boto3
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from rekflow.vision import limits
from rekflow.vision.backend import RekognitionError
from rekflow.vision.fixture import FixtureBackend
from rekflow.vision.image_input import ImageInput, inspect
from rekflow.vision.shapes import shape_errors
from tests.conftest import jpeg_bytes, png_bytes

DETECT = ("DetectLabels", "DetectModerationLabels", "DetectText", "DetectFaces")
SIDE = 100


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _apng(num_frames: int, with_fctl: bool) -> bytes:
    """A PNG announcing an animation (acTL with `num_frames`) whose second frame is an fdAT chunk; without an
    fcTL before it, or with num_frames 0 (no animation), that fdAT is out of sequence. Pillow reads the header
    and refuses the pixels (SyntaxError: APNG contains frame sequence errors), as with its own test files
    apng/chunk_no_fctl.png and apng/syntax_num_frames_zero.png."""
    pixels = zlib.compress(b"".join(b"\x00" + bytes([120, 60, 30]) * SIDE for _ in range(SIDE)))
    frame_control = struct.pack(">IIIIIHHBB", 0, SIDE, SIDE, 0, 0, 1, 10, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, 0)),
            _chunk(b"acTL", struct.pack(">II", num_frames, 0)),
            _chunk(b"fcTL", frame_control) if with_fctl else b"",
            _chunk(b"IDAT", pixels),
            _chunk(b"fdAT", struct.pack(">I", 1 if with_fctl else 0) + pixels),
            _chunk(b"IEND", b""),
        ]
    )


BROKEN = {
    "apng-without-fctl": _apng(num_frames=2, with_fctl=False),
    "apng-num-frames-zero": _apng(num_frames=0, with_fctl=False),
    "truncated-jpeg": jpeg_bytes()[: len(jpeg_bytes()) // 2],
    "truncated-png": png_bytes()[: len(png_bytes()) // 2],
}


@pytest.fixture
def fixture_backend() -> FixtureBackend:
    return FixtureBackend(lambda: None)  # every request here sends Bytes


@pytest.mark.filterwarnings("ignore")
def test_the_broken_files_open_but_do_not_decode():
    # The header reads (so the size and format checks pass); only the pixels fail, with Pillow's own errors.
    # Pillow warns "Invalid APNG, will use default PNG image if possible" (ignored: the mark above).
    for data in BROKEN.values():
        with Image.open(io.BytesIO(data)) as opened:
            assert opened.format in ("PNG", "JPEG")
            with pytest.raises((SyntaxError, OSError)):
                opened.convert("RGB")


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("operation", DETECT)
def test_an_image_that_does_not_decode_is_invalid_image_format(fixture_backend, operation, name):
    with pytest.raises(RekognitionError) as raised:
        fixture_backend.handle(operation, {"Image": {"Bytes": BROKEN[name]}})
    assert raised.value.code == "InvalidImageFormatException"


@pytest.mark.parametrize("name", ["apng-without-fctl", "apng-num-frames-zero"])
def test_the_workflow_s_client_gets_the_modelled_exception(runtime, name):
    # Through the local runtime's router, as the aws-sdk integration calls it: botocore's modelled class, which
    # Step Functions names Rekognition.InvalidImageFormatException and the branches catch.
    rekognition = boto3.client("rekognition")
    with pytest.raises(ClientError) as raised:
        rekognition.detect_text(Image={"Bytes": BROKEN[name]})
    assert isinstance(raised.value, rekognition.exceptions.InvalidImageFormatException)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_multi_picture_jpeg_is_read_as_the_jpeg_it_is(fixture_backend):
    # GIVEN an MPO (a JPEG followed by a second picture, as stereo cameras and Ultra HDR phones write), which
    # Pillow names "MPO" rather than "JPEG"
    first, second = Image.new("RGB", (320, 240), (200, 40, 40)), Image.new("RGB", (320, 240), (40, 40, 200))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"

    # WHEN a Detect call reads it, THEN it is a JPEG of the first picture's size, analysed, not refused
    assert inspect(buffer.getvalue()).format == "JPEG"
    answer = fixture_backend.handle("DetectLabels", {"Image": {"Bytes": buffer.getvalue()}})
    assert "Labels" in answer


def test_a_bug_while_decoding_is_not_passed_off_as_a_bad_image(fixture_backend, monkeypatch):
    def broken_decode(self, max_side=None, min_side=None):
        raise KeyError("a bug in rekflow, not in the image")

    monkeypatch.setattr(ImageInput, "decode", broken_decode)
    with pytest.raises(KeyError):
        fixture_backend.handle("DetectLabels", {"Image": {"Bytes": jpeg_bytes()}})


def test_an_image_over_10k_pixels_a_side_is_too_large_for_labels_and_moderation(fixture_backend):
    wide = io.BytesIO()
    Image.new("L", (10_001, 8)).save(wide, "PNG")
    for operation in ("DetectLabels", "DetectModerationLabels"):
        with pytest.raises(RekognitionError) as raised:
            fixture_backend.handle(operation, {"Image": {"Bytes": wide.getvalue()}})
        assert raised.value.code == "ImageTooLargeException"


# ------------------------------------------------------------------ output limits
def _box(left: float, top: float, width: float, height: float) -> dict[str, float]:
    return {"Width": width, "Height": height, "Left": left, "Top": top}


def text_detections(lines: int, words_per_line: int, confidence: float = 99.0) -> list[dict]:
    detections: list[dict] = []
    for line in range(lines):
        line_id = len(detections)
        box = _box(0.0, line / lines, 1.0, 0.5 / lines)
        geometry = {"BoundingBox": box, "Polygon": []}
        words = [f"w{line}.{index}" for index in range(words_per_line)]
        detections.append(
            {
                "DetectedText": " ".join(words),
                "Type": "LINE",
                "Id": line_id,
                "Confidence": confidence,
                "Geometry": geometry,
            }
        )
        detections += [
            {"DetectedText": w, "Type": "WORD", "Id": line_id + 1 + i, "ParentId": line_id, "Confidence": confidence}
            | {"Geometry": geometry}
            for i, w in enumerate(words)
        ]
    return detections


def test_detect_text_returns_at_most_100_words_and_the_lines_they_belong_to(fixture_backend):
    fixture_backend._overrides["DetectText"] = {"TextDetections": text_detections(15, 10), "TextModelVersion": "3.0"}

    answer = fixture_backend.handle("DetectText", {"Image": {"Bytes": jpeg_bytes()}})

    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD"]
    lines = [d for d in answer["TextDetections"] if d["Type"] == "LINE"]
    assert len(words) == limits.MAX_TEXT_WORDS == 100
    assert {w["ParentId"] for w in words} == {line["Id"] for line in lines}
    assert len(lines) == 10
    assert shape_errors("DetectText", answer) == ""


def test_detect_text_word_filter_defaults_to_80_and_filters_by_box(fixture_backend):
    detections = text_detections(2, 3, confidence=79.0) + [
        d | {"Id": d["Id"] + 100, **({"ParentId": d["ParentId"] + 100} if "ParentId" in d else {})}
        for d in text_detections(1, 2, confidence=95.0)
    ]
    fixture_backend._overrides["DetectText"] = {"TextDetections": detections, "TextModelVersion": "3.0"}
    image = {"Image": {"Bytes": jpeg_bytes()}}

    by_default = fixture_backend.handle("DetectText", image)["TextDetections"]
    assert [d["DetectedText"] for d in by_default] == ["w0.0 w0.1", "w0.0", "w0.1"]  # only the 95% line
    lower = fixture_backend.handle("DetectText", image | {"Filters": {"WordFilter": {"MinConfidence": 50}}})
    assert len(lower["TextDetections"]) == len(detections)
    tall_only = {"Filters": {"WordFilter": {"MinConfidence": 0, "MinBoundingBoxHeight": 0.3}}}
    assert fixture_backend.handle("DetectText", image | tall_only)["TextDetections"] == by_default


def test_detect_faces_returns_the_100_largest(fixture_backend):
    faces = [{"BoundingBox": _box(0.0, 0.0, 0.001 * (i + 1), 0.001 * (i + 1)), "Confidence": 99.0} for i in range(130)]
    fixture_backend._overrides["DetectFaces"] = {"FaceDetails": faces, "OrientationCorrection": "ROTATE_0"}

    answer = fixture_backend.handle("DetectFaces", {"Image": {"Bytes": jpeg_bytes()}})

    widths = [f["BoundingBox"]["Width"] for f in answer["FaceDetails"]]
    assert len(widths) == limits.MAX_FACES == 100
    assert min(widths) == pytest.approx(0.031)  # the 30 smallest are left out, the order kept


def test_detect_labels_honours_max_labels_and_min_confidence(fixture_backend):
    labels = [{"Name": f"L{i}", "Confidence": 50.0 + (i % 50)} for i in range(1500)]
    fixture_backend._overrides["DetectLabels"] = {"Labels": labels, "LabelModelVersion": "3.0"}
    image = {"Image": {"Bytes": jpeg_bytes()}}

    default = fixture_backend.handle("DetectLabels", image)["Labels"]
    assert len(default) == limits.MAX_LABELS == 1000  # 1,350 at 55 or more; 1000 is the default and the cap
    assert [label["Confidence"] for label in default] == sorted((lb["Confidence"] for lb in default), reverse=True)
    assert default[0]["Confidence"] == 99.0
    five = fixture_backend.handle("DetectLabels", image | {"MaxLabels": 5, "MinConfidence": 98.5})["Labels"]
    assert [label["Name"] for label in five] == ["L49", "L99", "L149", "L199", "L249"]
    assert len(fixture_backend.handle("DetectLabels", image | {"MaxLabels": 5000})["Labels"]) == 1000
    assert fixture_backend.handle("DetectLabels", image | {"MaxLabels": 0})["Labels"] == []


def test_detect_moderation_labels_default_min_confidence_is_50(fixture_backend):
    found = [{"Name": "Violence", "ParentName": "", "Confidence": c, "TaxonomyLevel": 1} for c in (49.9, 50.0, 90.0)]
    fixture_backend._overrides["DetectModerationLabels"] = {"ModerationLabels": found, "ModerationModelVersion": "7"}
    image = {"Image": {"Bytes": jpeg_bytes()}}

    default = fixture_backend.handle("DetectModerationLabels", image)["ModerationLabels"]
    assert [label["Confidence"] for label in default] == [50.0, 90.0]
    high = fixture_backend.handle("DetectModerationLabels", image | {"MinConfidence": 80})["ModerationLabels"]
    assert [label["Confidence"] for label in high] == [90.0]


def test_a_get_page_holds_at_most_1000_results_whatever_max_results_asks():
    assert limits.page_size({}) == 1000
    assert limits.page_size({"MaxResults": 5000}) == 1000
    assert limits.page_size({"MaxResults": 7}) == 7
