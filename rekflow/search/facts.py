"""What a results document says that a search can ask about, flattened once: the asset's own fields, each label,
moderation label and text line it found (with every moment a video showed it), and a video's shots.

Every engine starts from these facts (the reference evaluator, the SQLite index's rows, the projection for
Athena), so the reading of a document is written once. A video's document holds only a bounded summary
(25 names, first-seen times); everything its jobs found is in the video feature results (schemas/
video-feature-result.schema.json), which `rekflow analyze` keeps beside the documents. Without them a video
still matches on its summary, with the first time each label was seen as its only moment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rekflow.search.query import words_of

# Items of one video feature result: `items` of video-feature-result.schema.json, by feature name.
VideoResults = Mapping[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Moment:
    """One time a video showed something: its timestamp, the confidence then, and the shot it falls in."""

    millis: int
    confidence: float
    shot: int | None


@dataclass(frozen=True)
class Found:
    """A label, a moderation label or a line of text, with the highest confidence it was found with."""

    kind: str  # "label", "moderation" or "text"
    name: str  # the label's name or the line of text, as the model wrote it
    parent: str  # a moderation label's parent category ("" for the others)
    confidence: float
    moments: tuple[Moment, ...] = ()  # a video's; empty for an image


@dataclass(frozen=True)
class Shot:
    index: int
    start_millis: int
    end_millis: int


@dataclass(frozen=True)
class Asset:
    """The searchable facts of one results document (one object key: a re-analysis replaces them)."""

    key: str
    bucket: str
    asset_id: str
    version_id: str
    kind: str  # image, video, other
    format: str
    status: str
    reason: str | None
    uploaded: str  # the workflow's start (the upload's Object Created event started it), UTC 'YYYY-MM-DDTHH:MM:SS'
    analyzed: str  # the document's createdAt, UTC, same form
    duration: float | None  # seconds, videos only
    faces: int | None  # an image's faces, a video's most faces in one frame; None where faces were not read
    failed: tuple[str, ...]  # the features that FAILED
    moderation_ran: bool  # moderation SUCCEEDED (so `moderation:no` can be told from "not looked at")
    review: str | None  # the moderation review: one of query.REVIEW_STATES, None where none was needed
    taken: str | None  # capture time as the camera's clock read it, 'YYYY-MM-DDTHH:MM:SS'
    camera: str  # "make model", or ""
    lat: float | None
    lon: float | None
    found: tuple[Found, ...]
    shots: tuple[Shot, ...]

    @property
    def camera_words(self) -> str:
        return " ".join(words_of(self.camera))


def utc_seconds(timestamp: str) -> str:
    """An ISO 8601 timestamp with an offset, as UTC 'YYYY-MM-DDTHH:MM:SS' (so they compare as text)."""
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def asset_of(document: Mapping[str, Any], video: VideoResults | None = None) -> Asset:
    """The facts of one results document (and, for a video, its feature results)."""
    obj, features = document["object"], document.get("features") or {}
    video = video or {}
    shots = _shots(features.get("segments"), video.get("segments"))
    metadata = document.get("metadata") or {}
    camera = metadata.get("camera") or {}
    gps = metadata.get("gps") or {}
    taken = metadata.get("takenAt")
    return Asset(
        key=obj["key"],
        bucket=obj["bucket"],
        asset_id=document["assetId"],
        version_id=obj["versionId"],
        kind=obj["mediaType"],
        format=obj["format"].upper(),
        status=document["status"],
        reason=document.get("reason"),
        uploaded=utc_seconds(document["execution"]["startedAt"]),
        analyzed=utc_seconds(document["createdAt"]),
        duration=obj["video"]["durationMillis"] / 1000 if "video" in obj else None,
        faces=_faces(features.get("faces"), video.get("faces")),
        failed=tuple(sorted(name for name, r in features.items() if r.get("status") == "FAILED")),
        moderation_ran=_succeeded(features.get("moderation")),
        review=review_state(document),
        # The camera's clock, without the offset some cameras add: what the photographer's calendar said.
        taken=taken[:19] if taken else None,
        camera=" ".join(part for part in (camera.get("make"), camera.get("model")) if part),
        lat=gps.get("lat"),
        lon=gps.get("lon"),
        found=(
            *_labels(features.get("labels"), video.get("labels"), shots),
            *_moderation(features.get("moderation"), video.get("moderation"), shots),
            *_text(features.get("text"), video.get("text"), shots),
        ),
        shots=shots,
    )


def review_state(document: Mapping[str, Any]) -> str | None:
    """The document's moderation review: its decision, lower-cased, once the review section is there (RecordReview
    writes it, schemas/results-document.schema.json); "pending" while moderationReview.needed waits for one; None
    where no review was needed (needed false, or a document without the section)."""
    decided = document.get("review")
    if decided:
        return str(decided["decision"]).lower()
    return "pending" if (document.get("moderationReview") or {}).get("needed") else None


def shot_at(shots: tuple[Shot, ...], millis: int) -> int | None:
    """The index of the shot a moment falls in (the last shot holds its end), or None between shots."""
    for shot in shots:
        if shot.start_millis <= millis < shot.end_millis or (millis == shot.end_millis and shot is shots[-1]):
            return shot.index
    return None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, Earth radius 6371.0088 km, the IUGG mean radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


# ---------------------------------------------------------------------------------------------- features


def _succeeded(result: Mapping[str, Any] | None) -> bool:
    return bool(result) and result.get("status") == "SUCCEEDED"  # type: ignore[union-attr]


def _shots(summary: Mapping[str, Any] | None, items: list[dict[str, Any]] | None) -> tuple[Shot, ...]:
    if items:
        shots = [
            Shot(s["ShotSegment"]["Index"], s["StartTimestampMillis"], s["EndTimestampMillis"])
            for s in items
            if s["Type"] == "SHOT"
        ]
    elif summary and _succeeded(summary):
        shots = [Shot(s["Index"], s["StartMillis"], s["EndMillis"]) for s in summary.get("shots", [])]
    else:
        shots = []
    return tuple(sorted(shots, key=lambda s: s.start_millis))


def _faces(summary: Mapping[str, Any] | None, items: list[dict[str, Any]] | None) -> int | None:
    if not summary or not _succeeded(summary):
        return None
    if "faces" in summary:  # an image
        return len(summary["faces"])
    if items is not None:  # a video: the most faces seen in one analysed frame
        per_frame: dict[int, int] = {}
        for item in items:
            per_frame[item["Timestamp"]] = per_frame.get(item["Timestamp"], 0) + 1
        return max(per_frame.values(), default=0)
    # Only the summary: exact when no frame had faces, or each frame with faces had one.
    if summary["count"] == 0:
        return 0
    return 1 if summary["count"] == summary.get("framesWithFaces") else None


def _grouped(kind: str, items: Iterable[tuple[str, str, float, int]], shots: tuple[Shot, ...]) -> list[Found]:
    """(name, parent, confidence, millis) per sighting, as one Found per name with its moments in time order."""
    best: dict[str, float] = {}
    parents: dict[str, str] = {}
    moments: dict[str, dict[int, float]] = {}
    for name, parent, confidence, millis in items:
        best[name] = max(best.get(name, 0.0), confidence)
        parents.setdefault(name, parent)
        at = moments.setdefault(name, {})
        at[millis] = max(at.get(millis, 0.0), confidence)
    return [
        Found(
            kind,
            name,
            parents[name],
            best[name],
            tuple(Moment(ms, c, shot_at(shots, ms)) for ms, c in sorted(moments[name].items())),
        )
        for name in best
    ]


def _labels(
    summary: Mapping[str, Any] | None, items: list[dict[str, Any]] | None, shots: tuple[Shot, ...]
) -> list[Found]:
    if not summary or not _succeeded(summary):
        return []
    if items is not None:
        return _grouped(
            "label", ((i["Label"]["Name"], "", i["Label"]["Confidence"], i["Timestamp"]) for i in items), shots
        )
    if "resultsLocation" in summary:  # a video's summary: the first time each label was seen
        return _grouped(
            "label", ((x["Name"], "", x["Confidence"], x["FirstSeenMillis"]) for x in summary["labels"]), shots
        )
    return _merged("label", ((x["Name"], "", x["Confidence"]) for x in summary["labels"]))


def _moderation(
    summary: Mapping[str, Any] | None, items: list[dict[str, Any]] | None, shots: tuple[Shot, ...]
) -> list[Found]:
    if not summary or not _succeeded(summary):
        return []
    if items is not None:
        return _grouped(
            "moderation",
            (
                (
                    i["ModerationLabel"]["Name"],
                    i["ModerationLabel"].get("ParentName", ""),
                    i["ModerationLabel"]["Confidence"],
                    i["Timestamp"],
                )
                for i in items
            ),
            shots,
        )
    if "resultsLocation" in summary:
        return _grouped(
            "moderation",
            ((x["Name"], x.get("ParentName", ""), x["Confidence"], x["FirstSeenMillis"]) for x in summary["labels"]),
            shots,
        )
    return _merged("moderation", ((x["Name"], x.get("ParentName", ""), x["Confidence"]) for x in summary["labels"]))


def _text(
    summary: Mapping[str, Any] | None, items: list[dict[str, Any]] | None, shots: tuple[Shot, ...]
) -> list[Found]:
    if not summary or not _succeeded(summary):
        return []
    if items is not None:
        lines = (i for i in items if i["TextDetection"]["Type"] == "LINE")
        return _grouped(
            "text",
            ((i["TextDetection"]["DetectedText"], "", i["TextDetection"]["Confidence"], i["Timestamp"]) for i in lines),
            shots,
        )
    if "lines" in summary:  # a video's summary: distinct lines, no confidence and no time
        return [Found("text", line, "", 0.0) for line in dict.fromkeys(summary["lines"])]
    return _merged(
        "text", ((d["DetectedText"], "", d["Confidence"]) for d in summary["detections"] if d["Type"] == "LINE")
    )


def _merged(kind: str, found: Iterable[tuple[str, str, float]]) -> list[Found]:
    """An image's findings, one per name at its highest confidence."""
    best: dict[str, tuple[str, float]] = {}
    for name, parent, confidence in found:
        if name not in best or confidence > best[name][1]:
            best[name] = (parent, confidence)
    return [Found(kind, name, parent, confidence) for name, (parent, confidence) in best.items()]
