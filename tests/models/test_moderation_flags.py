"""The local moderation model on what it must flag (rekflow/media/flagged.py): an image, a video job, an upload.

test_local_backend.py holds it to flagging nothing on safe photos; these hold it to flagging the stand-ins, with
Rekognition's taxonomy names and levels, each confidence within a band of what was measured. The classifier gives
no boxes, and neither does Rekognition (botocore's model: a ModerationLabel is Confidence, Name, ParentName and
TaxonomyLevel), so there are none to check.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from rekflow.cli import main
from rekflow.media.flagged import STAND_INS, flagged_png, flagged_video, flagged_video_shots
from rekflow.vision.local import MODERATION_MODEL_VERSION, LocalModelsBackend
from rekflow.vision.shapes import shape_errors

pytestmark = pytest.mark.models
# Measured on this machine's onnxruntime (scripts/moderation_stand_ins.py printed the same to 3 decimals); the band
# leaves room for another CPU's kernels and a video encoder's losses, and stays above the workflow's review
# threshold (80, template.yaml's ModerationReviewThreshold) so the upload tests below must ask for review.
CONFIDENCE_BAND = {"explicit": (90.0, 99.0)}


@pytest.fixture(scope="module")
def backend() -> LocalModelsBackend:
    return LocalModelsBackend(lambda: None)  # Bytes only: no S3


def expected_labels(kind: str) -> list[tuple[str, str, int]]:
    stand = STAND_INS[kind]
    return [(stand.level1, "", 1), (stand.level2, stand.level1, 2)]


def assert_flagged_as(kind: str, labels: list[dict]) -> None:
    """Rekognition's two levels for the class, in its order (the parent first), both at the class's confidence."""
    assert [(label["Name"], label["ParentName"], label["TaxonomyLevel"]) for label in labels] == expected_labels(kind)
    low, high = CONFIDENCE_BAND[kind]
    assert all(low <= label["Confidence"] <= high for label in labels), labels
    assert labels[0]["Confidence"] == labels[1]["Confidence"]


@pytest.mark.parametrize("kind", sorted(STAND_INS))
def test_detect_moderation_labels_flags_the_stand_in(backend, kind):
    response = backend.handle("DetectModerationLabels", {"Image": {"Bytes": flagged_png(kind)}})
    assert shape_errors("DetectModerationLabels", response) == ""
    assert response["ModerationModelVersion"] == MODERATION_MODEL_VERSION
    assert_flagged_as(kind, response["ModerationLabels"])


def test_min_confidence_above_the_score_hides_the_labels(backend):
    """MinConfidence filters (Rekognition's default is 50): asked for more than the model is sure of, nothing."""
    data = flagged_png("explicit")
    (level1, _) = backend.handle("DetectModerationLabels", {"Image": {"Bytes": data}})["ModerationLabels"]
    assert level1["Confidence"] < 99.99
    response = backend.handle("DetectModerationLabels", {"Image": {"Bytes": data}, "MinConfidence": 99.99})
    assert response["ModerationLabels"] == []
    at_score = {"Image": {"Bytes": data}, "MinConfidence": level1["Confidence"]}  # at the score: still reported
    assert len(backend.handle("DetectModerationLabels", at_score)["ModerationLabels"]) == 2


def test_content_moderation_job_flags_the_stand_in_shots():
    """StartContentModeration / GetContentModeration on a video of a cat, then each stand-in: labels at the
    stand-ins' timestamps only, each under its own class."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="media")
        s3.put_object(Bucket="media", Key="flagged.mp4", Body=flagged_video())
        backend = LocalModelsBackend(lambda: boto3.client("s3", region_name="us-east-1"), video_frames_per_second=1)
        job = backend.handle(
            "StartContentModeration", {"Video": {"S3Object": {"Bucket": "media", "Name": "flagged.mp4"}}}
        )
        backend.video.wait_idle(timeout=300)
        response = backend.handle("GetContentModeration", {"JobId": job["JobId"]})
    assert response["JobStatus"] == "SUCCEEDED", response.get("StatusMessage")
    assert shape_errors("GetContentModeration", response) == ""
    assert response["ModerationModelVersion"] == MODERATION_MODEL_VERSION
    by_time: dict[int, list[dict]] = {}
    for item in response["ModerationLabels"]:
        by_time.setdefault(item["Timestamp"], []).append(item["ModerationLabel"])
    start, expected_times = 0.0, {}
    for shot, seconds in flagged_video_shots():  # one frame a second is analysed: 0, 1000, 2000, ... ms
        if shot in STAND_INS:
            expected_times.update({ms: shot for ms in range(int(start * 1000), int((start + seconds) * 1000), 1000)})
        start += seconds
    assert sorted(by_time) == sorted(expected_times), by_time
    for timestamp, kind in expected_times.items():
        assert_flagged_as(kind, by_time[timestamp])


def test_analyze_records_the_flag_in_the_results_document(tmp_path, capsys):
    """`rekflow analyze` with the local backend (the default): each upload ends SUCCEEDED with the moderation
    labels in its document and `moderationReview` needed (what sets `needsReview` on its event and summary item)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "flagged.png").write_bytes(flagged_png("explicit"))
    (folder / "flagged.mp4").write_bytes(flagged_video())
    code = main(["analyze", "--json", "--backend", "local", "--output", str(tmp_path / "out"), str(folder)])
    lines = {line["key"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert code == 0 and set(lines) == {"flagged.png", "flagged.mp4"}
    for key, flagged_kinds in (("flagged.png", ["explicit"]), ("flagged.mp4", sorted(STAND_INS))):
        document = json.loads(Path(lines[key]["results"]).read_text(encoding="utf-8"))
        assert document["status"] == "SUCCEEDED", (key, document["status"])
        moderation = document["features"]["moderation"]
        assert moderation["status"] == "SUCCEEDED"
        names = sorted({name for kind in flagged_kinds for name, _, _ in expected_labels(kind)})
        assert sorted({label["Name"] for label in moderation["labels"]}) == names
        review = document["moderationReview"]
        assert review["needed"] is True
        assert review["labels"] == names  # every label here is above the 80 % threshold
