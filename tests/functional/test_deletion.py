"""Deleted uploads leave the library (issue 18, item 4), on the local runtime: S3's "Object Deleted" event reaches
SearchIndexFunction through its rule in template.yaml, which marks the summary item deleted, deletes the results
document and deletes the asset's row from the search index (the Firehose rows it sent, applied to the index's
stand-in, tests/search_duckdb.py). "Media Analyzed" reaches the same function and puts the asset in the index.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from rekflow.search.query import MatchAll, parse
from tests.conftest import jpeg_bytes, schema_validator, video_bytes
from tests.search_duckdb import IndexStandIn

STREAM = "SearchIndexStream"


def analysed(runtime, key: str, data: bytes | None = None):
    """Upload `key`, analyse it, and hand its Media Analyzed event to the functions whose rules match it."""
    upload = runtime.upload(data or jpeg_bytes(), key)
    result = runtime.run(runtime.object_created_event(upload))
    assert result.status == "SUCCEEDED", result.cause
    (event,) = [e for e in runtime.analyzed_events() if e["detail"]["key"] == key]
    delivered = runtime.deliver(event)
    assert [(name, error) for name, _, error in delivered] == [("SearchIndexFunction", None)]
    return upload, result


def index_of(runtime) -> IndexStandIn:
    index = IndexStandIn()
    index.put(runtime.firehose.rows(runtime.template.ref(STREAM)))
    return index


def summary(runtime, asset_id: str) -> dict:
    table = boto3.resource("dynamodb").Table(runtime.stack.results_table)
    return table.get_item(Key={"AssetId": asset_id})["Item"]


def document_exists(runtime, results_key: str) -> bool:
    try:
        boto3.client("s3").head_object(Bucket=runtime.stack.results_bucket, Key=results_key)
    except ClientError as error:
        assert error.response["Error"]["Code"] in ("404", "NoSuchKey")
        return False
    return True


def test_an_analysed_upload_is_found_and_a_deleted_one_nowhere(runtime):
    # GIVEN two analysed photos, both in the index
    kept, kept_result = analysed(runtime, "photos/kept.jpg")
    upload, result = analysed(runtime, "photos/gone cat.jpg")
    asset_id, results_key = result.output["assetId"], result.output["resultsKey"]
    label = runtime.results_document(results_key)["features"]["labels"]["labels"][0]["Name"]
    assert index_of(runtime).keys(parse(f'label:"{label}" path:photos/')) == ["photos/gone cat.jpg", kept.key]

    # WHEN the user deletes one (a plain delete: a delete marker on the versioned bucket) and S3 says so
    event = runtime.delete_object(upload.key)
    assert event["detail"]["deletion-type"] == "Delete Marker Created"
    ((name, payload, error),) = runtime.deliver(event)

    # THEN the library forgets it: the summary item says so, the document is gone, the index no longer has it
    assert (name, error, payload) == ("SearchIndexFunction", None, {"forgotten": [asset_id]})
    item = summary(runtime, asset_id)
    assert item["Deleted"] is True and item["DeletedAt"].endswith("Z")
    schema_validator("summary-item.schema.json").validate(
        {k: int(v) if type(v).__name__ == "Decimal" else v for k, v in item.items()}
    )
    assert not document_exists(runtime, results_key)
    index = index_of(runtime)
    assert index.keys(MatchAll()) == [kept.key]
    assert index.keys(parse(f'label:"{label}"')) == [kept.key]
    # The other asset is untouched.
    assert "Deleted" not in summary(runtime, kept_result.output["assetId"])
    assert document_exists(runtime, kept_result.output["resultsKey"])


def test_deleting_an_old_version_keeps_the_current_one(runtime):
    # GIVEN a key uploaded twice, its second version analysed
    first = runtime.upload(jpeg_bytes(200, 100), "photos/twice.jpg")
    second, result = analysed(runtime, "photos/twice.jpg", jpeg_bytes(100, 200))
    assert first.version_id != second.version_id

    # WHEN the first version is deleted for good
    event = runtime.delete_object(first.key, first.version_id)
    assert event["detail"]["deletion-type"] == "Permanently Deleted"
    ((_, payload, error),) = runtime.deliver(event)

    # THEN nothing is forgotten: the key still shows the analysed version
    assert (error, payload) == (None, {"forgotten": []})
    assert "Deleted" not in summary(runtime, result.output["assetId"])
    assert document_exists(runtime, result.output["resultsKey"])
    assert index_of(runtime).keys(MatchAll()) == ["photos/twice.jpg"]


def test_deleting_the_only_version_for_good_forgets_it(runtime):
    upload, result = analysed(runtime, "photos/once.jpg")
    ((_, payload, error),) = runtime.deliver(runtime.delete_object(upload.key, upload.version_id))
    assert (error, payload) == (None, {"forgotten": [result.output["assetId"]]})
    assert summary(runtime, result.output["assetId"])["Deleted"] is True
    assert index_of(runtime).keys(MatchAll()) == []


@pytest.mark.parametrize("key", ["proxies/abc.jpg"])
def test_rekflows_own_copies_are_not_its_uploads(runtime, key):
    # The analysable copies under the proxies prefix come and go by lifecycle; their deletion is no event for it.
    runtime.upload(jpeg_bytes(), key)
    assert runtime.deliver(runtime.delete_object(key)) == []


def test_a_review_decision_reaches_the_index(runtime):
    # GIVEN an analysed photo; WHEN its review is decided, RecordReview rewrites the document and announces
    # "Media Reviewed" (its detail carries the document's location, schemas/media-reviewed-event.schema.json)
    upload, result = analysed(runtime, "photos/reviewed.jpg")
    detail = {"resultsLocation": f"s3://{runtime.stack.results_bucket}/{result.output['resultsKey']}"}
    event = {
        **{"version": "0", "id": "1", "account": "123456789012", "region": "us-east-1", "resources": []},
        **{"source": "rekflow", "detail-type": "Media Reviewed", "time": "2026-12-02T00:00:00Z", "detail": detail},
    }
    # THEN SearchIndexFunction's rule takes it and the key's row is written again
    ((name, payload, error),) = runtime.deliver(event)
    assert (name, error, payload["indexed"]) == ("SearchIndexFunction", None, upload.key)
    assert index_of(runtime).keys(MatchAll()) == [upload.key]


def test_a_video_is_indexed_from_its_feature_results_and_forgotten_with_them(runtime):
    # GIVEN an analysed video: its document holds summaries, its jobs' results are beside it in the results bucket
    upload, result = analysed(runtime, "clips/tour.mp4", video_bytes())
    document = runtime.results_document(result.output["resultsKey"])
    located = [f["resultsLocation"] for f in document["features"].values() if f.get("resultsLocation")]
    assert located, "the fixture's video jobs leave their results beside the document"
    label = document["features"]["labels"]["labels"][0]["Name"]
    assert index_of(runtime).keys(parse(f'label:"{label}" kind:video')) == [upload.key]

    # WHEN it is deleted; THEN its document and every feature result go with it
    ((_, payload, error),) = runtime.deliver(runtime.delete_object(upload.key))
    assert (error, payload) == (None, {"forgotten": [result.output["assetId"]]})
    for location in located:
        assert not document_exists(runtime, location.split("/", 3)[3])
    assert index_of(runtime).keys(MatchAll()) == []
