"""The results folder as `rekflow analyze` leaves it: a document per object key (`<output>/<key>.json`) and,
for a video, everything its jobs found (`<output>/video-results/<asset id>/<feature>.json`, the same key as in
the results bucket). Here they are found, read, and turned into search facts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rekflow.search.facts import Asset, VideoResults, asset_of

VIDEO_RESULTS = "video-results"
# Folders of the results folder that hold no results documents (execution records, logs, video results, and the
# moderation reviews kept by rekflow review, whose copies of documents are not the folder's).
NOT_DOCUMENTS = ("executions", "logs", VIDEO_RESULTS, "reviews")


def document_path(output: Path, key: str) -> Path:
    return output / f"{key}.json"


def video_results_path(output: Path, asset_id: str, feature: str) -> Path:
    return output / VIDEO_RESULTS / asset_id / f"{feature}.json"


def read_s3_json(s3: Any, location: str) -> Any:
    """The JSON at an s3://bucket/key location on a stack: a results document, or a video's feature results."""
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def is_results_document(data: Any) -> bool:
    return isinstance(data, dict) and {"schemaVersion", "assetId", "object", "features"} <= data.keys()


def read_video_results(output: Path, document: Mapping[str, Any]) -> VideoResults | None:
    """A video's feature results kept beside its document, by feature; None when none were kept."""
    if document["object"].get("mediaType") != "video":
        return None
    found: dict[str, list[dict[str, Any]]] = {}
    for feature, result in (document.get("features") or {}).items():
        path = video_results_path(output, document["assetId"], feature)
        if result.get("resultsLocation") and path.is_file():
            found[feature] = json.loads(path.read_text(encoding="utf-8"))["items"]
    return found or None


def read_asset(output: Path, path: Path) -> Asset | None:
    """The facts of the results document at `path`, or None if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not is_results_document(data):
        return None
    return asset_of(data, read_video_results(output, data))


def document_paths(output: Path) -> Iterator[Path]:
    """Every .json file under `output` that may be a results document, in a stable order."""
    for path in sorted(output.rglob("*.json")):
        relative = path.relative_to(output)
        if len(relative.parts) > 1 and relative.parts[0] in NOT_DOCUMENTS:
            continue
        yield path


def assets_in(output: Path) -> Iterator[Asset]:
    """The facts of every results document in a results folder."""
    for path in document_paths(output):
        asset = read_asset(output, path)
        if asset is not None:
            yield asset
