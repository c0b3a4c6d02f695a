"""Object keys with spaces, '+', '%' and non-ASCII characters survive the trip through the event,
whichever way the event encodes them: Validate tries each decoding against the event's version id."""

from __future__ import annotations

import pytest

from asset import asset_id, key_candidates
from rekflow.local.s3_events import KEY_ENCODINGS, encode_key
from tests.conftest import jpeg_bytes

KEYS = [
    "plain.jpg",
    "with space.jpg",
    "c++ notes.png",
    "a+b=c.jpg",
    "100% real.jpg",
    "%20 literally.jpg",
    "café/Ünïcödé 写真.jpg",
    "deep/folder/with spaces/+plus+/x.jpg",
]


@pytest.mark.parametrize("encoding", sorted(KEY_ENCODINGS))
@pytest.mark.parametrize("key", KEYS)
def test_every_encoding_of_a_key_offers_the_key_itself(key, encoding):
    candidates = key_candidates(encode_key(key, encoding))
    assert key in candidates
    assert candidates[0] == encode_key(key, encoding), "the key as it arrived is tried first"


def test_encodings_match_their_documented_forms():
    assert encode_key("a b+c%d/é.jpg", "percent") == "a%20b%2Bc%25d/%C3%A9.jpg"
    assert encode_key("a b+c%d/é.jpg", "form") == "a+b%2Bc%25d/%C3%A9.jpg"
    assert encode_key("a b+c%d/é.jpg", "raw") == "a b+c%d/é.jpg"


def test_escapes_that_are_not_utf8_are_not_offered():
    assert key_candidates("bad%FF.jpg") == ["bad%FF.jpg"]


@pytest.mark.parametrize("encoding", sorted(KEY_ENCODINGS))
@pytest.mark.parametrize("key", ["with space.jpg", "c++ notes.png", "100% real.jpg", "café/Ünïcödé 写真.jpg"])
def test_key_round_trips_through_the_workflow(runtime, key, encoding):
    # GIVEN an upload whose event carries the key in one of the forms S3 might use
    upload = runtime.upload(jpeg_bytes(), key)

    # WHEN the workflow runs
    result = runtime.run(runtime.object_created_event(upload, key_encoding=encoding))

    # THEN the object is found under its real key
    assert result.output["status"] == "SUCCEEDED", result.output
    (item,) = runtime.summary_items()
    assert item["Key"] == key
    assert runtime.results_document(result.output["resultsKey"])["object"]["key"] == key


def test_the_version_id_picks_the_real_key_among_look_alikes(runtime, monkeypatch):
    # GIVEN two objects whose keys a form-encoded event cannot tell apart: "a b.jpg" and "a+b.jpg"
    spaced = runtime.upload(jpeg_bytes(), "a b.jpg")
    runtime.upload(jpeg_bytes(321, 240), "a+b.jpg")
    validate = runtime.function("ValidateFunction").module
    recorded: list[str] = []
    monkeypatch.setattr(validate.metrics, "add_metric", lambda name, **_: recorded.append(name))

    # WHEN the event for "a b.jpg" arrives form-encoded ("a+b.jpg")
    result = runtime.run(runtime.object_created_event(spaced, key_encoding="form"))

    # THEN the version id matched only the real key, and the fallback decoding was counted
    assert result.output["status"] == "SUCCEEDED"
    (item,) = runtime.summary_items()
    assert item["Key"] == "a b.jpg"
    assert "ObjectKeyDecoded" in recorded


def test_asset_id_is_stable_and_version_sensitive():
    first = asset_id("bucket", "k.jpg", "v1", '"etag"')
    assert first == asset_id("bucket", "k.jpg", "v1", '"other"')
    assert first != asset_id("bucket", "k.jpg", "v2", '"etag"')
    assert asset_id("bucket", "k.jpg", None, '"e1"') != asset_id("bucket", "k.jpg", None, '"e2"')
