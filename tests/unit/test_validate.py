"""Validate object on a table of good and bad uploads, against the local S3."""

from __future__ import annotations

import boto3
import pytest

from rekflow.media.samples import SAMPLES
from tests.conftest import jpeg_bytes, png_bytes, video_bytes


def validate_module(runtime):
    return runtime.function("ValidateFunction").module


def verdict_for(runtime, data: bytes, key: str) -> dict:
    upload = runtime.upload(data, key)
    event = runtime.object_created_event(upload)
    return validate_module(runtime).validate_object(event["detail"], boto3.client("s3"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_each_sample_gets_its_expected_verdict(runtime, sample):
    verdict = verdict_for(runtime, sample.make(), sample.name)
    expected = "ACCEPTED" if sample.expected_status == "SUCCEEDED" else sample.expected_status
    assert (verdict["status"], verdict["reason"]) == (expected, sample.expected_reason)
    if expected == "REJECTED":
        assert verdict["message"], "a rejection must say why in words"


@pytest.mark.parametrize(
    ("data", "key", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n", "header-only.png", "TRUNCATED"),
        (png_bytes()[:-12], "no-iend.png", "TRUNCATED"),
        (b"\xff\xd8\xff\xd9", "no-frame.jpg", "TRUNCATED"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "photo.jpg", "CORRUPT"),
        (b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 32, "clip.avi", "UNSUPPORTED_FORMAT"),
        (b"PK\x03\x04" + b"\x00" * 64, "archive.png", "NOT_MEDIA"),
    ],
)
def test_bad_uploads_are_rejected_with_a_reason(runtime, data, key, reason):
    assert verdict_for(runtime, data, key)["reason"] == reason


def test_motion_photo_is_accepted_and_says_what_follows_the_jpeg(runtime):
    # A phone's motion photo: a whole JPEG with an MP4 clip after its end-of-image marker.
    photo, clip = jpeg_bytes(200, 100), video_bytes()
    verdict = verdict_for(runtime, photo + clip, "MVIMG_20240101_120000.jpg")
    assert (verdict["status"], verdict["reason"]) == ("ACCEPTED", None), verdict["message"]
    assert (verdict["width"], verdict["height"]) == (200, 100)
    assert (verdict["trailingBytes"], verdict["motionPhoto"]) == (len(clip), True)


def test_motion_photo_whose_jpeg_is_cut_short_is_truncated(runtime):
    photo = jpeg_bytes(200, 100)
    verdict = verdict_for(runtime, photo[: len(photo) - 200] + video_bytes(), "MVIMG_cut.jpg")
    assert verdict["reason"] == "TRUNCATED"


def test_jpeg_over_rekognitions_15_mb_is_converted_and_over_the_source_limit_too_large(runtime, monkeypatch):
    module = validate_module(runtime)
    monkeypatch.setattr(module, "MAX_IMAGE_BYTES", 1000)
    verdict = verdict_for(runtime, jpeg_bytes(), "big.jpg")
    assert (verdict["status"], verdict["convert"]["to"]) == ("ACCEPTED", "JPEG")
    monkeypatch.setattr(module, "MAX_SOURCE_IMAGE_BYTES", 1000)
    assert verdict_for(runtime, jpeg_bytes(), "bigger.jpg")["reason"] == "TOO_LARGE"


def test_jpeg_wider_than_rekognitions_side_limit_is_converted(runtime, monkeypatch):
    monkeypatch.setattr(validate_module(runtime), "MAX_IMAGE_SIDE", 300)
    verdict = verdict_for(runtime, jpeg_bytes(320, 240), "panorama.jpg")
    assert verdict["convert"]["because"] == "320x240 is over Rekognition's 300-pixel side"
    assert "convert" not in verdict_for(runtime, jpeg_bytes(300, 240), "fits.jpg")


def test_limits_come_from_the_template(runtime):
    module = validate_module(runtime)
    assert module.MAX_IMAGE_BYTES == 15 * 1024 * 1024
    assert module.MAX_IMAGE_SIDE == 10_000
    assert module.MAX_SOURCE_IMAGE_BYTES == 100 * 1024 * 1024
    assert module.MAX_IMAGE_PIXELS == 80_000_000
    assert module.MAX_VIDEO_DURATION_SECONDS == 6 * 3600  # Rekognition Video's own limit, the parameter's default


def test_accepted_image_carries_what_later_states_need(runtime):
    verdict = verdict_for(runtime, jpeg_bytes(200, 100), "ok.jpg")
    assert verdict["status"] == "ACCEPTED"
    assert (verdict["mediaType"], verdict["format"], verdict["width"], verdict["height"]) == ("image", "JPEG", 200, 100)
    assert len(verdict["assetId"]) == 64 and verdict["versionId"] != "null"


def test_handler_refuses_an_event_that_is_not_object_created(runtime):
    from aws_lambda_powertools.utilities.validation.exceptions import SchemaValidationError

    module = validate_module(runtime)
    with pytest.raises(SchemaValidationError):
        module.handler({"detail-type": "Object Deleted"}, _context())


def _context():
    from rekflow.local.functions import LambdaContext

    return LambdaContext("validate", "arn:aws:lambda:us-east-1:123456789012:function:validate", 256, "req-1")
