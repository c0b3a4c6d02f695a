"""`--backend aws`: the local workflow calling Amazon Rekognition through a real boto3 client.

No test reaches AWS. "AWS" is played by the fixture backend behind botocore hooks on the aws
backend's own session (the same router the local runtime uses), so the requests go through
boto3's real serialisation and the errors through botocore's real error parsing. The staging
bucket lives on moto here: the tests switch the bucket's passthrough off and check separately
that moto would let the real bucket's requests through.
"""

from __future__ import annotations

import io
from typing import Any

import boto3
import numpy as np
import pytest
from moto.core import config as moto_config
from PIL import Image

from rekflow import cli
from rekflow.commands import EXIT_USAGE
from rekflow.local.routing import Router
from rekflow.vision.aws import STAGING_PREFIX, AwsRekognitionBackend, AwsSetupError
from rekflow.vision.backend import FaultInjectingBackend
from rekflow.vision.fixture import FixtureBackend
from tests.conftest import jpeg_bytes, video_bytes

STAGING_BUCKET = "my-rekflow-staging"
# Credentials botocore can sign with; nothing they sign leaves this process.
FAKE_CREDENTIALS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "not-a-secret"}


def fake_session(region: str | None = "eu-west-1") -> boto3.session.Session:
    return boto3.session.Session(**FAKE_CREDENTIALS, region_name=region)


class RecordingBackend(FaultInjectingBackend):
    """Rekognition on "AWS": the fixture's answers, every request kept, errors plannable."""

    def __init__(self) -> None:
        super().__init__(FixtureBackend(lambda: boto3.client("s3")))
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((operation, params))
        return super().handle(operation, params)


@pytest.fixture
def aws():
    return RecordingBackend()


@pytest.fixture
def aws_runtime(make_runtime, aws):
    def make(staging_bucket: str | None = None):
        session = fake_session()
        Router({}, aws).install(session._session)
        backend = AwsRekognitionBackend(lambda: boto3.client("s3"), session, staging_bucket, poll_seconds=0.05)
        backend.moto_passthrough = lambda: {"services": ["rekognition"], "urls": []}  # the staging bucket on moto
        runtime = make_runtime(backend)
        if staging_bucket:
            boto3.client("s3").create_bucket(Bucket=staging_bucket)
        return runtime

    return make


def staged_objects() -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=STAGING_BUCKET)
    return [o["Key"] for o in listed.get("Contents", [])]


def noisy_png(width: int = 1600, height: int = 1200) -> bytes:
    """A PNG over Rekognition's 5 MB inline limit (noise does not compress)."""
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_image_goes_to_rekognition_as_bytes_and_its_answer_comes_back(aws_runtime, aws):
    runtime = aws_runtime()
    photo = jpeg_bytes()
    result = runtime.run(runtime.object_created_event(runtime.upload(photo, "photos/cat.jpg")))

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["status"] == "SUCCEEDED"
    document = runtime.results_document(result.output["resultsKey"])
    assert document["features"]["labels"]["labels"][0]["Name"] == "Cat"  # what "AWS" answered
    sent = {operation: params for operation, params in aws.requests}
    assert set(sent) == {"DetectLabels", "DetectModerationLabels", "DetectText", "DetectFaces"}
    assert all(params["Image"] == {"Bytes": photo} for params in sent.values())
    assert sent["DetectLabels"]["MinConfidence"] > 0  # the workflow's own parameters pass unchanged


def test_rekognition_errors_keep_their_names(aws_runtime, aws):
    runtime = aws_runtime()
    # An error about the image gives a FAILED feature, by AWS's name
    aws.faults.inject("DetectText", "InvalidImageFormatException")
    refused = runtime.run(runtime.object_created_event(runtime.upload(jpeg_bytes(), "photos/refused.jpg")))
    assert refused.output["status"] == "PARTIAL"
    assert refused.output["features"]["text"] == {
        "status": "FAILED",
        "count": 0,
        "error": "Rekognition.InvalidImageFormatException",
    }

    # AccessDenied fails the execution, by AWS's name
    aws.faults.inject("DetectFaces", "AccessDeniedException")
    denied = runtime.run(runtime.object_created_event(runtime.upload(jpeg_bytes(), "photos/denied.jpg")))
    assert (denied.status, denied.error) == ("FAILED", "Rekognition.AccessDeniedException")


def test_large_image_is_staged_for_the_call_and_removed(aws_runtime, aws):
    runtime = aws_runtime(STAGING_BUCKET)
    photo = noisy_png()
    assert len(photo) > 5 * 1024 * 1024
    result = runtime.run(runtime.object_created_event(runtime.upload(photo, "photos/big.png")))

    assert result.output["status"] == "SUCCEEDED", result.output
    images = [params["Image"] for _, params in aws.requests]
    assert len(images) == 4
    assert all(image["S3Object"]["Bucket"] == STAGING_BUCKET for image in images)
    assert all(image["S3Object"]["Name"].startswith(STAGING_PREFIX) for image in images)
    assert staged_objects() == []


def test_large_image_without_a_staging_bucket_fails_by_name(aws_runtime, aws):
    runtime = aws_runtime()
    result = runtime.run(runtime.object_created_event(runtime.upload(noisy_png(), "photos/big.png")))

    assert aws.requests == [], "nothing is sent that Rekognition would refuse"
    assert {f["error"] for f in result.output["features"].values()} == {"Rekognition.ImageTooLargeException"}


def test_video_runs_as_a_job_on_the_staged_copy_and_its_completion_resumes_the_workflow(aws_runtime, aws):
    runtime = aws_runtime(STAGING_BUCKET)
    result = runtime.run(runtime.object_created_event(runtime.upload(video_bytes(), "videos/tour.mp4")))

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["status"] == "SUCCEEDED", result.output
    starts = [params for operation, params in aws.requests if operation.startswith("Start")]
    assert len(starts) == 5
    assert len({params["Video"]["S3Object"]["Name"] for params in starts}) == 1, "one copy for five jobs"
    assert all(params["Video"]["S3Object"]["Bucket"] == STAGING_BUCKET for params in starts)
    # Rekognition cannot publish to the local topic: the backend watches the jobs instead.
    assert all("NotificationChannel" not in params and params["ClientRequestToken"] for params in starts)
    assert not any(state.startswith("Poll") for state in result.states_entered()), "completions arrived"
    assert staged_objects() == []


def test_video_without_a_staging_bucket_fails_each_feature_by_name(aws_runtime, aws):
    runtime = aws_runtime()
    result = runtime.run(runtime.object_created_event(runtime.upload(video_bytes(), "videos/tour.mp4")))

    assert result.status == "SUCCEEDED"
    assert {f["error"] for f in result.output["features"].values()} == {"Rekognition.InvalidParameterException"}
    assert aws.requests == []


def test_moto_lets_the_staging_bucket_and_rekognition_through_but_not_the_local_buckets(monkeypatch):
    backend = AwsRekognitionBackend(lambda: None, fake_session(), STAGING_BUCKET)
    monkeypatch.setitem(moto_config.default_user_config, "core", {"passthrough": backend.moto_passthrough()})

    assert moto_config.passthrough_service("rekognition")
    assert moto_config.passthrough_url(f"https://{STAGING_BUCKET}.s3.eu-west-1.amazonaws.com/rekflow-staging/a")
    assert moto_config.passthrough_url(f"https://{STAGING_BUCKET}.s3.amazonaws.com/")
    assert not moto_config.passthrough_url("https://rekflow-local-media.s3.amazonaws.com/photos/cat.jpg")
    assert not moto_config.passthrough_url(f"https://{STAGING_BUCKET}-other.s3.amazonaws.com/")


def test_cli_without_credentials_says_what_is_missing(monkeypatch, tmp_path, capsys):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    (tmp_path / "cat.jpg").write_bytes(jpeg_bytes())

    assert cli.main(["analyze", "--backend", "aws", str(tmp_path / "cat.jpg")]) == EXIT_USAGE
    assert "needs AWS credentials" in capsys.readouterr().err
    with pytest.raises(AwsSetupError, match="region"):
        AwsRekognitionBackend(lambda: None, fake_session(region=None))
