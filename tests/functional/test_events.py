"""Every file in events/ (the `sam local invoke -e` events) replayed in-process."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from boto3.dynamodb.types import TypeDeserializer

from rekflow import PROJECT_ROOT
from rekflow.media.samples import SAMPLES
from tests.conftest import schema_validator

EVENTS = PROJECT_ROOT / "events"
# What each Object Created event should lead to, given the sample uploaded under its key.
EXPECTED = {
    "object-created-image.json": ("cat.jpg", "SUCCEEDED", None),
    "object-created-special-key.json": ("cat.jpg", "SUCCEEDED", None),
    "object-created-not-media.json": ("notes.txt", "REJECTED", "NOT_MEDIA"),
}


def test_every_event_file_is_covered():
    assert {p.name for p in EVENTS.glob("object-created-*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_object_created_event_replays_through_the_state_machine(runtime, name):
    # GIVEN the event file, valid against the input schema, and the object it names in the local bucket
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    schema_validator("s3-object-created.schema.json").validate(event)
    sample_name, status, reason = EXPECTED[name]
    sample = next(s for s in SAMPLES if s.name == sample_name)
    # The special-key event carries its key percent-encoded: one of the forms Validate must resolve.
    upload = runtime.upload(sample.make(), unquote(event["detail"]["object"]["key"]))
    event["detail"]["bucket"]["name"] = runtime.stack.media_bucket
    event["resources"] = [f"arn:aws:s3:::{runtime.stack.media_bucket}"]
    event["detail"]["object"]["version-id"] = upload.version_id

    # WHEN it starts the workflow
    result = runtime.run(event)

    # THEN the outcome is the expected one
    assert (result.output["status"], result.output["reason"]) == (status, reason)


def test_build_results_event_gives_schema_valid_outputs(runtime):
    event = json.loads((EVENTS / "build-results-rejected.json").read_text(encoding="utf-8"))
    function = runtime.function("BuildResultsFunction")

    payload, error = function.invoke(event)

    assert error is None, payload
    schema_validator("results-document.schema.json").validate(payload["document"])
    schema_validator("media-analyzed-event.schema.json").validate(payload["event"])
    item = {k: TypeDeserializer().deserialize(v) for k, v in payload["item"].items()}
    assert item["Status"] == "REJECTED" and item["Reason"] == "NOT_MEDIA"
