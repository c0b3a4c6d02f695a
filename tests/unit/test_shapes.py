"""Every fixture answer fits Rekognition's output shapes in botocore's service model."""

from __future__ import annotations

import pytest

from rekflow.vision.shapes import shape_errors
from tests.conftest import jpeg_bytes

REQUESTS = {
    "DetectLabels": {"MinConfidence": 50, "MaxLabels": 10},
    "DetectModerationLabels": {"MinConfidence": 50},
    "DetectText": {"Filters": {"WordFilter": {"MinConfidence": 50}}},
    "DetectFaces": {"Attributes": ["DEFAULT"]},
}


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_fixture_responses_fit_botocore_shapes(runtime, operation):
    response = runtime.backend.handle(operation, {"Image": {"Bytes": jpeg_bytes()}, **REQUESTS[operation]})
    assert shape_errors(operation, response) == ""


def test_shape_check_catches_a_wrong_response():
    assert "Bogus" in shape_errors("DetectLabels", {"Labels": [{"Name": "Cat", "Bogus": 1}]})


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ({"Bytes": b"not an image"}, "InvalidImageFormatException"),
        ({"Bytes": b"GIF89a" + b"\x00" * 64}, "InvalidImageFormatException"),
        ({"Bytes": b"\xff" * (5 * 1024 * 1024 + 1)}, "ImageTooLargeException"),
        ({"S3Object": {"Bucket": "rekflow-local-mediabucket", "Name": "missing.jpg"}}, "InvalidS3ObjectException"),
        ({}, "InvalidParameterException"),
    ],
)
def test_bad_images_get_rekognitions_error(runtime, image, code):
    from rekflow.vision.backend import RekognitionError

    with pytest.raises(RekognitionError) as raised:
        runtime.backend.handle("DetectLabels", {"Image": image})
    assert raised.value.code == code
