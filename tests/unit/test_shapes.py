"""Every fixture answer fits Rekognition's output shapes in botocore's service model."""

from __future__ import annotations

import pytest

from rekflow.vision.shapes import shape_errors
from tests.conftest import jpeg_bytes, video_bytes

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


VIDEO_JOBS = {
    "StartLabelDetection": ("GetLabelDetection", {"MinConfidence": 50}),
    "StartContentModeration": ("GetContentModeration", {"MinConfidence": 50}),
    "StartTextDetection": ("GetTextDetection", {}),
    "StartFaceDetection": ("GetFaceDetection", {"FaceAttributes": "DEFAULT"}),
    "StartSegmentDetection": ("GetSegmentDetection", {"SegmentTypes": ["SHOT", "TECHNICAL_CUE"]}),
}


@pytest.mark.parametrize("start", sorted(VIDEO_JOBS))
def test_fixture_video_jobs_fit_botocore_shapes_page_by_page(runtime, start):
    get, request = VIDEO_JOBS[start]
    upload = runtime.upload(video_bytes(), "shape.mp4")
    video = {"S3Object": {"Bucket": runtime.stack.media_bucket, "Name": upload.key}}
    started = runtime.backend.handle(start, {"Video": video, **request})
    assert shape_errors(start, started) == ""
    runtime.backend.video.wait_idle()
    # Two results a page, so NextToken is exercised on every feature.
    page = runtime.backend.handle(get, {"JobId": started["JobId"], "MaxResults": 2})
    pages = [page]
    while page.get("NextToken"):
        page = runtime.backend.handle(get, {"JobId": started["JobId"], "MaxResults": 2, "NextToken": page["NextToken"]})
        pages.append(page)
    assert all(shape_errors(get, p) == "" for p in pages)
    assert pages[0]["JobStatus"] == "SUCCEEDED"
    assert len(pages) >= 2 or start == "StartContentModeration"  # the fixture flags nothing for moderation


def test_video_job_errors_are_rekognitions(runtime):
    from rekflow.vision.backend import RekognitionError

    missing = {"Video": {"S3Object": {"Bucket": runtime.stack.media_bucket, "Name": "missing.mp4"}}}
    with pytest.raises(RekognitionError) as raised:
        runtime.backend.handle("StartLabelDetection", missing)
    assert raised.value.code == "InvalidS3ObjectException"
    with pytest.raises(RekognitionError) as raised:
        runtime.backend.handle("GetLabelDetection", {"JobId": "nope"})
    assert raised.value.code == "ResourceNotFoundException"
    upload = runtime.upload(video_bytes(), "token.mp4")
    video = {"S3Object": {"Bucket": runtime.stack.media_bucket, "Name": upload.key}}
    first = runtime.backend.handle("StartLabelDetection", {"Video": video, "ClientRequestToken": "same"})
    again = runtime.backend.handle("StartLabelDetection", {"Video": video, "ClientRequestToken": "same"})
    assert first == again, "the same ClientRequestToken joins the job already started"
    with pytest.raises(RekognitionError) as raised:
        runtime.backend.handle("GetLabelDetection", {"JobId": first["JobId"], "NextToken": "garbage"})
    assert raised.value.code == "InvalidPaginationTokenException"
