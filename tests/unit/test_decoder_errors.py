"""Only what a decoder or S3 raises becomes a Rekognition error; a bug in rekflow surfaces as itself.

rekflow/vision/image_input.py turns S3's and botocore's errors into InvalidS3ObjectException and Pillow's
decoder errors into InvalidImageFormatException; rekflow/vision/video_jobs.py ends a job FAILED on OpenCV's,
Pillow's or S3's. Any other exception (a TypeError, a KeyError) is a bug, and must not pass for a service
error, or the error-path tests would pass on a crash.
"""

from __future__ import annotations

from typing import Any

import cv2
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from rekflow.vision.backend import RekognitionError
from rekflow.vision.image_input import read_image
from rekflow.vision.video_jobs import VideoJobs

S3_OBJECT = {"Bucket": "media", "Name": "photo.jpg"}


class S3Raising:
    """An S3 client whose HeadObject raises `error` (GetObject is never reached)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def head_object(self, **_: Any) -> dict[str, Any]:
        raise self.error


class S3Holding:
    """An S3 client that holds one small object."""

    def head_object(self, **_: Any) -> dict[str, Any]:
        return {"ContentLength": 1024}


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject"),
        ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "HeadObject"),
        EndpointConnectionError(endpoint_url="https://s3.example"),
    ],
)
def test_what_s3_or_botocore_raises_is_an_unreadable_s3_object(error):
    with pytest.raises(RekognitionError) as raised:
        read_image({"S3Object": S3_OBJECT}, S3Raising(error))
    assert raised.value.code == "InvalidS3ObjectException"


def test_a_bug_while_reading_from_s3_surfaces_as_itself():
    with pytest.raises(TypeError, match="a bug"):
        read_image({"S3Object": S3_OBJECT}, S3Raising(TypeError("a bug in rekflow, not in S3")))


def test_an_s3_object_without_a_bucket_is_the_requests_fault():
    with pytest.raises(RekognitionError) as raised:
        read_image({"S3Object": {"Name": "photo.jpg"}}, S3Holding())
    assert raised.value.code == "InvalidS3ObjectException"


def _job_outcome(analyse: Any) -> dict[str, Any]:
    jobs = VideoJobs(analyse, S3Holding)
    try:
        job_id = jobs.handle("StartLabelDetection", {"Video": {"S3Object": S3_OBJECT}})["JobId"]
        jobs.wait_idle(timeout=30)
        return jobs.handle("GetLabelDetection", {"JobId": job_id})
    finally:
        jobs.shutdown()


def test_a_video_the_decoder_cannot_read_fails_its_job():
    def unreadable(feature: str, s3_object: dict[str, Any], request: dict[str, Any]) -> Any:
        raise cv2.error("OpenCV(4.x) could not find a decoder")

    assert _job_outcome(unreadable)["JobStatus"] == "FAILED"


def test_a_bug_in_a_video_analysis_surfaces_from_get():
    def broken(feature: str, s3_object: dict[str, Any], request: dict[str, Any]) -> Any:
        raise TypeError("a bug in rekflow, not in the video")

    with pytest.raises(TypeError, match="a bug"):
        _job_outcome(broken)
