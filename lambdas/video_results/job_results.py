"""Read a finished Rekognition video job page by page, store it whole, and sum it up small.

Both ways a video branch resumes use this: the completion callback, and the one fallback
poll when no completion arrived in time. The full result goes to the results bucket; the
summary returned to the waiting branch is bounded, so a long video never breaks the state
machine's 256 KiB payload limit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMA_VERSION = "1.0"
PAGE_SIZE = 1000  # Rekognition's largest MaxResults
TOP_ITEMS = 25  # how many names, lines or segments a summary lists
# Compiled once per container (Powertools' validate() compiles on every call), with the same validator.
check_result = fastjsonschema.compile(
    json.loads((Path(os.environ["SCHEMAS_DIR"]) / "video-feature-result.schema.json").read_text())
)


class VideoJobStillRunning(Exception):
    """The fallback poll found the job unfinished: the feature ends FAILED rather than waiting on."""


class VideoJobFailed(Exception):
    """Rekognition reports the job FAILED or ERROR; the message is Rekognition's StatusMessage."""


@dataclass(frozen=True)
class Feature:
    name: str
    get_page: Callable[..., dict[str, Any]]
    items_key: str
    model_version: Callable[[dict[str, Any]], str]
    summarise: Callable[[list[dict[str, Any]]], dict[str, Any]]


def _version(key: str | None) -> Callable[[dict[str, Any]], str]:
    return lambda page: str(page.get(key, "")) if key else ""


def _segment_versions(page: dict[str, Any]) -> str:
    return ",".join(f"{t['Type']}:{t.get('ModelVersion', '')}" for t in page.get("SelectedSegmentTypes", []))


def _named(items: list[dict[str, Any]], key: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Distinct names by highest confidence, with the first time each was seen."""
    best: dict[str, dict[str, Any]] = {}
    for item in items:
        found = item[key]
        entry = best.setdefault(
            found["Name"],
            {
                "Name": found["Name"],
                "Confidence": 0.0,
                "FirstSeenMillis": item["Timestamp"],
                **{k: found[k] for k in extra if k in found},
            },
        )
        entry["Confidence"] = max(entry["Confidence"], found["Confidence"])
        entry["FirstSeenMillis"] = min(entry["FirstSeenMillis"], item["Timestamp"])
    ranked = sorted(best.values(), key=lambda e: (-e["Confidence"], e["Name"]))
    return {"count": len(items), "distinct": len(ranked), "labels": ranked[:TOP_ITEMS]}


def _lines(items: list[dict[str, Any]]) -> dict[str, Any]:
    lines: dict[str, float] = {}
    for item in items:
        detection = item["TextDetection"]
        if detection["Type"] == "LINE":
            lines[detection["DetectedText"]] = max(lines.get(detection["DetectedText"], 0.0), detection["Confidence"])
    ranked = sorted(lines, key=lambda text: -lines[text])
    return {"count": len(items), "distinct": len(ranked), "lines": ranked[:TOP_ITEMS]}


def _faces(items: list[dict[str, Any]]) -> dict[str, Any]:
    timestamps = sorted({item["Timestamp"] for item in items})
    return {
        "count": len(items),
        "framesWithFaces": len(timestamps),
        "firstSeenMillis": timestamps[0] if timestamps else None,
    }


def _segments(items: list[dict[str, Any]]) -> dict[str, Any]:
    def brief(segment: dict[str, Any]) -> dict[str, Any]:
        entry = {
            "Start": segment["StartTimecodeSMPTE"],
            "End": segment["EndTimecodeSMPTE"],
            "StartMillis": segment["StartTimestampMillis"],
            "EndMillis": segment["EndTimestampMillis"],
        }
        if segment["Type"] == "SHOT":
            entry["Index"] = segment["ShotSegment"]["Index"]
        else:
            entry["CueType"] = segment["TechnicalCueSegment"]["Type"]
        return entry

    shots = [brief(s) for s in items if s["Type"] == "SHOT"]
    cues = [brief(s) for s in items if s["Type"] == "TECHNICAL_CUE"]
    return {
        "count": len(items),
        "shotCount": len(shots),
        "technicalCueCount": len(cues),
        "shots": shots[:TOP_ITEMS],
        "technicalCues": cues[:TOP_ITEMS],
    }


# Each Get… call is spelled out, not looked up by name, so the template test can derive the
# function's IAM actions from the source; what each response holds comes from the feature registry.
_GET_PAGE: dict[str, Callable[..., dict[str, Any]]] = {
    "labels": lambda client, **request: client.get_label_detection(**request),
    "moderation": lambda client, **request: client.get_content_moderation(**request),
    "text": lambda client, **request: client.get_text_detection(**request),
    "faces": lambda client, **request: client.get_face_detection(**request),
    "segments": lambda client, **request: client.get_segment_detection(**request),
}
_SUMMARISE: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "labels": lambda items: _named(items, "Label"),
    "moderation": lambda items: _named(items, "ModerationLabel", ("ParentName",)),
    "text": _lines,
    "faces": _faces,
    "segments": _segments,
}


def _features(registry: dict[str, Any]) -> dict[str, Feature]:
    """One Feature per video feature of schemas/features.json; a feature without a reader here fails loudly."""
    features = {}
    for entry in registry["features"]:
        job = entry["video"]
        if job is None:
            continue
        if entry["name"] not in _GET_PAGE:
            raise KeyError(f"video feature {entry['name']!r} has no Get… call or summary in job_results.py")
        # Segment detection has a model version per segment type, not one field.
        version = _segment_versions if entry["name"] == "segments" else _version(job["modelVersion"])
        features[entry["name"]] = Feature(
            entry["name"], _GET_PAGE[entry["name"]], job["items"], version, _SUMMARISE[entry["name"]]
        )
    return features


FEATURES = _features(json.loads((Path(os.environ["SCHEMAS_DIR"]) / "features.json").read_text()))


def collect(
    rekognition: Any, s3: Any, *, feature: str, job_id: str, asset_id: str, bucket: str, prefix: str
) -> dict[str, Any]:
    """Page through the job's results, store them, and return the branch's summary."""
    spec = FEATURES[feature]
    pages: list[dict[str, Any]] = []
    request: dict[str, Any] = {"JobId": job_id, "MaxResults": PAGE_SIZE}
    while True:
        page = spec.get_page(rekognition, **request)
        status = page["JobStatus"]
        if status == "IN_PROGRESS":
            raise VideoJobStillRunning(f"{feature} job {job_id} is still running.")
        if status != "SUCCEEDED":
            raise VideoJobFailed(f"{feature} job {job_id} ended {status}: {page.get('StatusMessage', '')}")
        pages.append(page)
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]

    items = [item for page in pages for item in page.get(spec.items_key, [])]
    key = f"{prefix}{asset_id}/{feature}.json"
    document = {
        "schemaVersion": SCHEMA_VERSION,
        "assetId": asset_id,
        "feature": feature,
        "jobId": job_id,
        "pages": len(pages),
        "modelVersion": spec.model_version(pages[0]),
        "videoMetadata": pages[0].get("VideoMetadata"),
        "items": items,
    }
    check_result(document)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode("utf-8"), ContentType="application/json")
    return {
        "status": "SUCCEEDED",
        "jobId": job_id,
        "resultsLocation": f"s3://{bucket}/{key}",
        "modelVersion": document["modelVersion"],
        **spec.summarise(items),
    }
