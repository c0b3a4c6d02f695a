"""Turn one run of the state machine into the results document, the summary and the event."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1.0"
# The feature registry, from the schemas layer.
FEATURES = tuple(
    f["name"] for f in json.loads((Path(os.environ["SCHEMAS_DIR"]) / "features.json").read_text())["features"]
)
TOP_LABELS = 5


def build(
    run: dict[str, Any],
    execution: dict[str, str],
    *,
    results_bucket: str,
    results_prefix: str,
    review_threshold: float,
    claim_seconds: int = 900,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Document, DynamoDB summary (plain), event detail, execution outcome and record claim for one run.

    The summary is also the run's claim on the record: it names the execution and stays
    unannounced until the event is out, so "Record summary" can tell a rerun that must finish
    the job (a redrive, or a run after an abandoned claim) from a duplicate that must stop.
    """
    settings = run["settings"]
    # After "Convert …" the asset is the analysable copy and `original` the upload; the document, the summary and
    # the event are about the upload, and the document says which copy was analysed and how it was made.
    analysed = run["asset"]
    asset = analysed.get("original") or analysed
    analysis: dict[str, Any] = run.get("analysis") or {}
    routing: dict[str, Any] = run.get("routing") or {}
    features = {name: analysis[name] for name in FEATURES if name in analysis}
    counts = {name: _count(name, result) for name, result in features.items()}
    review_labels = _review_labels(features.get("moderation"), review_threshold)
    status = _status(analysed, routing, features)
    reason = routing.get("reason") or analysed.get("reason")
    message = routing.get("message") or analysed.get("message")
    results_key = f"{results_prefix}{asset['assetId']}.json"
    location = f"s3://{results_bucket}/{results_key}"
    now = now or datetime.now(UTC)
    created_at = now.isoformat(timespec="milliseconds")

    document = {
        "schemaVersion": SCHEMA_VERSION,
        "assetId": asset["assetId"],
        "status": status,
        "reason": reason,
        "message": message,
        "object": {
            **{
                k: asset[k]
                for k in (
                    "bucket",
                    "key",
                    "versionId",
                    "etag",
                    "size",
                    "mediaType",
                    "format",
                    "width",
                    "height",
                    "trailingBytes",
                    "motionPhoto",
                )
                if k in asset
            },
            **({"video": {k: asset["video"][k] for k in ("codec", "durationMillis")}} if "video" in asset else {}),
        },
        "execution": execution,
        "createdAt": created_at,
        "settings": {
            "features": [f for f in settings["features"].split(",") if f],
            "minConfidence": settings["minConfidence"],
            "maxLabels": settings["maxLabels"],
            "moderationReviewThreshold": review_threshold,
        },
        "features": features,
        "moderationReview": {"needed": bool(review_labels), "threshold": review_threshold, "labels": review_labels},
    }
    if asset.get("metadata"):
        document["metadata"] = asset["metadata"]
    if analysed is not asset:
        document["proxy"] = _proxy(analysed)
    top_labels = [label["Name"] for label in (features.get("labels") or {}).get("labels", [])[:TOP_LABELS]]
    summary: dict[str, Any] = {
        "AssetId": asset["assetId"],
        "SchemaVersion": SCHEMA_VERSION,
        "Bucket": asset["bucket"],
        "Key": asset["key"],
        "VersionId": asset["versionId"],
        "Status": status,
        "MediaType": asset["mediaType"],
        "Format": asset["format"],
        "ResultsLocation": location,
        "ExecutionName": execution["name"],
        "ExecutionArn": execution["id"],
        "Announced": False,
        "ClaimExpiresAt": int(now.timestamp()) + claim_seconds,
        "CreatedAt": created_at,
        "Features": {name: result["status"] for name, result in features.items()},
        "TopLabels": top_labels,
        "ModerationLabels": sorted({label["Name"] for label in (features.get("moderation") or {}).get("labels", [])}),
        "LabelCount": counts.get("labels", 0),
        "ModerationCount": counts.get("moderation", 0),
        "TextLineCount": counts.get("text", 0),
        "FaceCount": counts.get("faces", 0),
        "NeedsReview": bool(review_labels),
    }
    if review_labels:  # what the review is about: the labels at or above the threshold (ReviewsByStatus projects it)
        summary["ReviewLabels"] = review_labels
    if "segments" in counts:
        summary["ShotCount"] = counts["segments"]
    if "video" in asset:
        summary["DurationMillis"] = asset["video"]["durationMillis"]
    if (asset.get("metadata") or {}).get("takenAt"):
        summary["TakenAt"] = asset["metadata"]["takenAt"]
    if reason:
        summary["Reason"] = reason
    feature_counts = {name: _feature_count(result, counts[name]) for name, result in features.items()}
    event = {
        "schemaVersion": SCHEMA_VERSION,
        "assetId": asset["assetId"],
        "status": status,
        "reason": reason,
        "bucket": asset["bucket"],
        "key": asset["key"],
        "versionId": asset["versionId"],
        "resultsLocation": location,
        "needsReview": bool(review_labels),
        "topLabels": top_labels,
        "features": feature_counts,
    }
    outcome = {
        "assetId": asset["assetId"],
        "status": status,
        "reason": reason,
        "message": message,
        "resultsKey": results_key,
        "resultsLocation": location,
        "needsReview": bool(review_labels),
        "features": feature_counts,
        "duplicate": False,
    }
    # Numbers reach DynamoDB conditions as strings: {"N": "..."}.
    claim = {"now": str(int(now.timestamp()))}
    return {"document": document, "summary": summary, "event": event, "outcome": outcome, "claim": claim}


def _proxy(copy: dict[str, Any]) -> dict[str, Any]:
    """The analysable copy the features were read from, and how it was made."""
    proxy: dict[str, Any] = {
        k: copy[k] for k in ("bucket", "key", "versionId", "size", "format", "width", "height") if k in copy
    }
    if "video" in copy:
        proxy["video"] = {k: copy["video"][k] for k in ("codec", "durationMillis")}
    return {**proxy, "conversion": copy["conversion"]}


def _status(asset: dict[str, Any], routing: dict[str, Any], features: dict[str, Any]) -> str:
    if routing.get("status"):
        return str(routing["status"])
    if asset["status"] != "ACCEPTED":
        return str(asset["status"])
    return "PARTIAL" if any(result["status"] == "FAILED" for result in features.values()) else "SUCCEEDED"


def _count(name: str, result: dict[str, Any]) -> int:
    if result["status"] != "SUCCEEDED":
        return 0
    if "resultsLocation" in result:  # a video job's summary: count what a viewer would list once
        by_feature = {"faces": result["count"], "segments": result.get("shotCount", 0)}
        return int(by_feature.get(name, result.get("distinct", 0)))
    if name == "text":
        return sum(1 for d in result["detections"] if d["Type"] == "LINE")
    return len(result["faces"] if name == "faces" else result["labels"])


def _feature_count(result: dict[str, Any], count: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": result["status"], "count": count}
    if result["status"] == "FAILED":
        entry["error"] = result["error"]
    return entry


def _review_labels(moderation: dict[str, Any] | None, threshold: float) -> list[str]:
    if not moderation or moderation["status"] != "SUCCEEDED":
        return []
    return sorted({label["Name"] for label in moderation["labels"] if label["Confidence"] >= threshold})
