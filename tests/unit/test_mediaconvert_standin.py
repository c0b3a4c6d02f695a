"""The local MediaConvert stand-in: MediaConvert's request and response shapes (botocore's model), its refusals,
and jobs that run ffmpeg and end COMPLETE or in ERROR 1010."""

from __future__ import annotations

import copy
import io
import json
import time

import botocore.session
import pytest
from botocore.validate import ParamValidator

from rekflow import PROJECT_ROOT
from rekflow.local.mediaconvert import LocalMediaConvert, MediaConvertError
from rekflow.media.samples import phone_video


class FakeS3:
    """Just the two calls the stand-in makes, on a dict (the parameters named as boto3 names them)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def get_object(self, Bucket: str, Key: str) -> dict:
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> dict:
        self.objects[(Bucket, Key)] = Body
        return {}


def asl_request() -> dict:
    """CreateJob's parameters as the state machine sends them (its intrinsic functions resolved)."""
    definition = json.loads((PROJECT_ROOT / "statemachines/media_analysis.asl.json").read_text())
    request = copy.deepcopy(definition["States"]["Convert video to H.264"]["Parameters"])
    request["Role"] = "arn:aws:iam::123456789012:role/rekflow-mediaconvert"
    request["UserMetadata"] = {"assetId": "abc"}
    request["Settings"]["Inputs"][0].pop("FileInput.$")
    request["Settings"]["Inputs"][0]["FileInput"] = "s3://media/clips/IMG_0001.MOV"
    settings = request["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["FileGroupSettings"]
    settings.pop("Destination.$")
    settings["Destination"] = "s3://media/proxies/abc/proxy"
    return request


def finished(service: LocalMediaConvert, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = service.get_job({"Id": job_id})["Job"]
        if job["Status"] in ("COMPLETE", "ERROR"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def output_shape(operation: str):
    return botocore.session.get_session().get_service_model("mediaconvert").operation_model(operation).output_shape


def test_the_state_machines_request_fits_botocores_model_and_converts_to_h264_mp4():
    s3 = FakeS3()
    s3.objects[("media", "clips/IMG_0001.MOV")] = phone_video("hevc", "mov", seconds=1.0, size=(64, 48))
    service = LocalMediaConvert(lambda: s3)
    created = service.create_job(asl_request())
    assert not ParamValidator().validate(created, output_shape("CreateJob")).has_errors()
    job = finished(service, created["Job"]["Id"])
    assert not ParamValidator().validate({"Job": job}, output_shape("GetJob")).has_errors()
    assert job["Status"] == "COMPLETE"
    (output,) = job["OutputGroupDetails"][0]["OutputDetails"]
    assert output["VideoDetails"] == {"WidthInPx": 64, "HeightInPx": 48}
    assert output["DurationInMs"] == pytest.approx(1000, abs=100)
    copy_bytes = s3.objects[("media", "proxies/abc/proxy.mp4")]
    assert copy_bytes[4:8] == b"ftyp" and b"avc1" in copy_bytes  # H.264 in MP4


def test_a_request_outside_the_model_is_a_bad_request_as_mediaconvert_answers():
    service = LocalMediaConvert(FakeS3)
    request = asl_request()
    request["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]["CodecSettings"]["Codec"] = "H_999"
    with pytest.raises(MediaConvertError) as bad:
        service.create_job(request)
    assert (bad.value.code, bad.value.status) == ("BadRequestException", 400)
    assert "H_999" in str(bad.value)
    without_role = asl_request()
    del without_role["Role"]
    with pytest.raises(MediaConvertError, match="Role"):
        service.create_job(without_role)


def test_a_request_the_stand_in_would_do_less_for_is_refused_not_half_done():
    request = asl_request()
    request["Settings"]["OutputGroups"][0]["Outputs"][0]["ContainerSettings"]["Container"] = "MOV"
    with pytest.raises(MediaConvertError, match="H_264 in MP4"):
        LocalMediaConvert(FakeS3).create_job(request)


def test_an_input_that_cannot_be_decoded_ends_the_job_in_error_1010():
    s3 = FakeS3()
    s3.objects[("media", "clips/IMG_0001.MOV")] = b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 4000
    service = LocalMediaConvert(lambda: s3)
    job = finished(service, service.create_job(asl_request())["Job"]["Id"])
    assert (job["Status"], job["ErrorCode"]) == ("ERROR", 1010)
    assert job["ErrorMessage"].startswith("Unable to open input file")


def test_an_unknown_job_is_not_found_and_injected_faults_use_modelled_names():
    service = LocalMediaConvert(FakeS3)
    with pytest.raises(MediaConvertError) as missing:
        service.get_job({"Id": "1-nope"})
    assert (missing.value.code, missing.value.status) == ("NotFoundException", 404)
    with pytest.raises(ValueError, match="modelled"):
        service.fail_next("SlowDown", 503)
    service.fail_next("TooManyRequestsException", 429)
    with pytest.raises(MediaConvertError) as throttled:
        service.create_job(asl_request())
    assert throttled.value.code == "TooManyRequestsException"
