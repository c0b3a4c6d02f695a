"""schemas/features.json, the one list of features, names real Rekognition operations and fields."""

from __future__ import annotations

import re

import botocore.session
import pytest

from rekflow import TEMPLATE_PATH
from rekflow.features import FEATURES, IMAGE_FEATURES, NAMES, VIDEO_FEATURES
from rekflow.local.template import Template

REKOGNITION = botocore.session.get_session().get_service_model("rekognition")


def _members(operation: str, side: str) -> set[str]:
    model = REKOGNITION.operation_model(operation)
    shape = model.input_shape if side == "input" else model.output_shape
    return set(shape.members)


def _keys(fragment: dict) -> set[str]:
    return {key.removesuffix(".$") for key in fragment}


@pytest.mark.parametrize("feature", IMAGE_FEATURES, ids=lambda f: f.name)
def test_image_operation_request_and_result_use_the_model_s_fields(feature):
    assert feature.image.operation in REKOGNITION.operation_names
    assert _keys(feature.image.request) <= _members(feature.image.operation, "input")
    picked = {path.removeprefix("$.") for path in feature.image.result.values()}
    assert picked <= _members(feature.image.operation, "output")


@pytest.mark.parametrize("feature", VIDEO_FEATURES, ids=lambda f: f.name)
def test_video_job_operations_and_fields_exist(feature):
    job = feature.video
    assert {job.start, job.get} <= set(REKOGNITION.operation_names)
    assert _keys(job.request) <= _members(job.start, "input")
    output = _members(job.get, "output")
    assert job.items in output
    assert job.model_version is None or job.model_version in output
    # The completion message names the API as Rekognition does: the Start… operation in upper snake case.
    assert job.api == re.sub(r"(?<!^)(?=[A-Z])", "_", job.start.removeprefix("Start")).upper()


def test_names_are_unique_and_every_feature_runs_somewhere():
    assert len(set(NAMES)) == len(NAMES)
    assert all(f.image or f.video for f in FEATURES)


def test_features_parameter_offers_exactly_the_registry():
    parameter = Template.load(TEMPLATE_PATH).body["Parameters"]["Features"]
    assert parameter["Default"].split(",") == list(NAMES)
    one = "(" + "|".join(NAMES) + ")"
    assert parameter["AllowedPattern"] == f"^{one}(,{one})*$"
