"""A results document as rows of the search index's two tables (template.yaml: SearchAssetsTable, SearchFoundTable).

`assets` holds one row per object key: what `kind:`, `status:`, `faces:`, the dates, `path:`, `camera:` and
`near:` compare. `found` holds one row per label, moderation label and text line the analysis found, at the
highest confidence it was found with: what `label:`, `text:`, `moderation:` and free words match; and one row of
kind "review" for an asset with a moderation review, its state as its words: what `review:` matches.
A found row belongs to one analysis (`doc_id`); a re-analysis or a review decision writes new rows under a new
doc_id and replaces the asset's row, so the old rows no longer join (Firehose inserts found rows and never
updates them in place).

Words are compared as the query language splits them (rekflow.search.query.words_of: runs of letters and
digits, lower-cased) and stored space-joined, so "contains these words in a row" is a LIKE on
' ' || words || ' ' in Athena and in DuckDB alike. This module reads documents on its own (a Lambda function
imports nothing from rekflow); tests/functional/test_search_differential.py holds it to the reference reading
(rekflow.search.facts) through the answers of generated queries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

_WORDS = re.compile(r"[^\W_]+")

# The columns of each table, in template order; tests hold these to the Glue tables' Iceberg schemas.
ASSET_COLUMNS = (
    "bucket",
    "object_key",
    "doc_id",
    "asset_id",
    "version_id",
    "kind",
    "format",
    "status",
    "reason",
    "failed",
    "uploaded",
    "analyzed",
    "duration",
    "faces",
    "moderation_ran",
    "taken",
    "camera",
    "lat",
    "lon",
    "results_location",
    "deleted",
)
FOUND_COLUMNS = ("doc_id", "day", "kind", "name", "words", "parent_words", "confidence")


def words(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def seconds_utc(stamp: str) -> str:
    """'YYYY-MM-DDTHH:MM:SS' in UTC: timestamps compare as text in both engines, without time-zone types."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}"


def doc_id(asset_id: str, created_at: str, decided_at: str = "") -> int:
    """A 60-bit number naming one state of one asset version's document (its analysis, and its review decision
    once there is one): the join key, smaller than the strings it is made of."""
    return int(hashlib.sha256(f"{asset_id}\n{created_at}\n{decided_at}".encode()).hexdigest()[:15], 16)


def project(
    document: Mapping[str, Any], video: Mapping[str, list[dict[str, Any]]] | None, results_location: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(asset row, found rows) of one document; `video` holds a video's feature result items by feature."""
    video = video or {}
    obj, features, meta = document["object"], document.get("features") or {}, document.get("metadata") or {}
    camera, gps = meta.get("camera") or {}, meta.get("gps") or {}
    # A review decision rewrites the document and announces "Media Reviewed": a new doc_id, so its rows replace
    # the analysis's as a re-analysis's do.
    ident = doc_id(document["assetId"], document["createdAt"], (document.get("review") or {}).get("decidedAt", ""))
    uploaded = seconds_utc(document["execution"]["startedAt"])
    asset = {
        "bucket": obj["bucket"],
        "object_key": obj["key"],
        "doc_id": ident,
        "asset_id": document["assetId"],
        "version_id": obj["versionId"],
        "kind": obj["mediaType"],
        "format": obj["format"].upper(),
        "status": document["status"],
        "reason": document.get("reason"),
        "failed": "|" + "".join(f"{name}|" for name, r in sorted(features.items()) if r.get("status") == "FAILED"),
        "uploaded": uploaded,
        "analyzed": seconds_utc(document["createdAt"]),
        "duration": obj["video"]["durationMillis"] / 1000 if "video" in obj else None,
        "faces": _faces(features.get("faces"), video.get("faces")),
        "moderation_ran": _ran(features.get("moderation")),
        "taken": meta["takenAt"][:19] if meta.get("takenAt") else None,
        "camera": words(" ".join(str(camera[part]) for part in ("make", "model") if camera.get(part))),
        "lat": gps.get("lat"),
        "lon": gps.get("lon"),
        "results_location": results_location,
        "deleted": False,
    }
    best: dict[tuple[str, str], tuple[str, float]] = {}
    for kind, name, parent, confidence, over_time in _sightings(features, video):
        held = best.get((kind, name))
        if held is None or confidence > held[1]:
            # A video's label keeps the parent it was first seen under; an image's, that of its best sighting.
            best[(kind, name)] = (held[0] if held and over_time else parent, confidence)
    found = [
        {
            "doc_id": ident,
            "day": uploaded[:10],
            "kind": kind,
            "name": name,
            "words": words(name),
            "parent_words": words(parent),
            "confidence": float(confidence),
        }
        for (kind, name), (parent, confidence) in best.items()
    ]
    review = _review(document)
    if review is not None:
        # The review's state is a found row of its own, not a column of assets: adding a column to the Iceberg
        # table would take a CloudFormation update of SearchAssetsTable, and such an update is reported to strip
        # the table's Iceberg parameters (docs/reference/aws-behaviours.md). A decision makes a new doc_id, so
        # the row of the state before it no longer joins.
        found.append(
            {
                "doc_id": ident,
                "day": uploaded[:10],
                "kind": "review",
                "name": review,
                "words": review,
                "parent_words": "",
                "confidence": 0.0,
            }
        )
    return asset, found


def deletion(bucket: str, key: str) -> dict[str, Any]:
    """The row that deletes an object key's asset row (Firehose's delete by the unique key bucket, object_key).

    It carries every column, null but the key: Firehose maps a record's first-level fields to the columns
    (apache-iceberg-considerations.html), and a record without one of them is reported to land in the error
    prefix as Iceberg.MissingColumnWithinRecord (a third-party report; the null costs nothing)."""
    return {**dict.fromkeys(ASSET_COLUMNS), "bucket": bucket, "object_key": key, "deleted": True}


def _review(document: Mapping[str, Any]) -> str | None:
    """The moderation review's state, as `review:` compares it: the decision (lower case) once the document has
    its review section, "pending" while moderationReview.needed waits for one, None where none was needed."""
    decided = document.get("review")
    if decided:
        return str(decided["decision"]).lower()
    return "pending" if (document.get("moderationReview") or {}).get("needed") else None


def _ran(result: Mapping[str, Any] | None) -> bool:
    return bool(result) and result.get("status") == "SUCCEEDED"  # type: ignore[union-attr]


def _faces(result: Mapping[str, Any] | None, items: list[dict[str, Any]] | None) -> int | None:
    """An image's face count; a video's most faces in one frame (its summary alone says that only sometimes)."""
    if not _ran(result):
        return None
    assert result is not None
    if "faces" in result:
        return len(result["faces"])
    if items is not None:
        frames: dict[int, int] = {}
        for item in items:
            frames[item["Timestamp"]] = frames.get(item["Timestamp"], 0) + 1
        return max(frames.values()) if frames else 0
    if result["count"] == 0:
        return 0
    return 1 if result.get("framesWithFaces") == result["count"] else None


def _sightings(
    features: Mapping[str, Any], video: Mapping[str, list[dict[str, Any]]]
) -> Iterable[tuple[str, str, str, float, bool]]:
    """(kind, name, parent, confidence, over time) of every label, moderation label and text line, each time it
    was seen; over time: a video's sightings (its items, or its summary's first sightings)."""
    for feature, kind, field in (("labels", "label", "Label"), ("moderation", "moderation", "ModerationLabel")):
        result = features.get(feature)
        if not _ran(result):
            continue
        assert result is not None
        over_time = feature in video or "resultsLocation" in result
        for entry in (item[field] for item in video[feature]) if feature in video else result["labels"]:
            yield kind, entry["Name"], entry.get("ParentName", ""), entry["Confidence"], over_time
    text = features.get("text")
    if not _ran(text):
        return
    assert text is not None
    if "text" in video:
        detections: Iterable[Mapping[str, Any]] = (item["TextDetection"] for item in video["text"])
    elif "lines" in text:  # a video's summary: its distinct lines, without a confidence
        detections = ({"Type": "LINE", "DetectedText": line, "Confidence": 0.0} for line in text["lines"])
    else:
        detections = text["detections"]
    for detection in detections:
        if detection["Type"] == "LINE":
            yield "text", detection["DetectedText"], "", detection["Confidence"], False
