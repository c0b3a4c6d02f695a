"""Object keys with spaces, '+', '%' and non-ASCII characters survive the trip through the event."""

from __future__ import annotations

import pytest

from asset import asset_id, decode_event_key
from rekflow.local.s3_events import encode_key
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


@pytest.mark.parametrize("key", KEYS)
def test_encoded_key_decodes_to_the_original(key):
    assert decode_event_key(encode_key(key)) == key


def test_encoding_matches_the_documented_form():
    assert encode_key("a b+c%d/é.jpg") == "a%20b%2Bc%25d/%C3%A9.jpg"


@pytest.mark.parametrize("key", ["with space.jpg", "c++ notes.png", "100% real.jpg", "café/Ünïcödé 写真.jpg"])
def test_key_round_trips_through_the_workflow(runtime, key):
    upload = runtime.upload(jpeg_bytes(), key)
    result = runtime.run(runtime.object_created_event(upload))
    assert result.output["status"] == "SUCCEEDED", result.output
    (item,) = runtime.summary_items()
    assert item["Key"] == key
    assert runtime.results_document(result.output["resultsKey"])["object"]["key"] == key


def test_asset_id_is_stable_and_version_sensitive():
    first = asset_id("bucket", "k.jpg", "v1", '"etag"')
    assert first == asset_id("bucket", "k.jpg", "v1", '"other"')
    assert first != asset_id("bucket", "k.jpg", "v2", '"etag"')
    assert asset_id("bucket", "k.jpg", None, '"e1"') != asset_id("bucket", "k.jpg", None, '"e2"')
