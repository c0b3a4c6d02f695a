"""A generated library of results documents, for the search benchmark and the engines' differential tests.

The documents have the shape build_results writes (schemas/results-document.schema.json; a test validates a
sample) and, for videos, the feature results video_results keeps. Counts follow what a photo library holds:
about 8 labels an image drawn from a long-tailed vocabulary (a few labels, Person, Outdoors, are on most
photos; most are rare), text on one photo in three, faces on two in five, moderation flags on a few in a
hundred, a video in seven, a few rejected uploads and failed features. A seed makes the same library again.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from rekflow.search.facts import VideoResults
from rekflow.search.query import REVIEW_STATES

# The head of the label vocabulary, most frequent first; the tail is generated (Rekognition knows thousands).
COMMON_LABELS = (
    "Person", "Outdoors", "Nature", "Clothing", "Plant", "Tree", "Sky", "Building", "Face", "Smile", "Animal",
    "Vehicle", "Car", "Food", "Water", "Text", "Furniture", "Indoors", "Mammal", "Pet", "Dog", "Cat", "City",
    "Road", "Sea", "Beach", "Mountain", "Flower", "Bird", "Sports Car", "Boat", "Rocket", "Space", "Coffee Cup",
    "Bicycle", "Night", "Sunset", "Snow", "Crowd", "Child", "Dessert", "Book", "Computer", "Phone", "Shop",
)  # fmt: skip
SIGN_WORDS = (
    "open", "daily", "closed", "sale", "exit", "the", "to", "and", "rekflow", "media", "lab", "café", "coffee",
    "menu", "street", "parking", "no", "entry", "welcome", "hours", "9", "5", "2026", "hotel", "station",
)  # fmt: skip
MODERATION = (("Suggestive", "Suggestive"), ("Violence", "Violence"), ("Explicit Nudity", "Explicit"))
IMAGE_FORMATS = ("JPEG", "JPEG", "JPEG", "PNG", "HEIC", "GIF", "WEBP")
VIDEO_FORMATS = ("MP4", "MP4", "MOV")
REASONS = ("NOT_MEDIA", "EMPTY_OBJECT", "CORRUPT", "TOO_LONG", "TOO_MANY_PIXELS")
CAMERAS = (("Apple", "iPhone 15 Pro"), ("Google", "Pixel 8"), ("Canon", "EOS R6"), ("SONY", "ILCE-7M4"))
BUCKET = "rekflow-local-mediabucket"
START = datetime(2026, 1, 1, tzinfo=UTC)


class Library:
    """Documents made one after another from a seed: `documents()` yields (document, video results or None)."""

    def __init__(self, seed: int = 0, labels: int = 1000, words: int = 2000, days: int = 365) -> None:
        self.random = random.Random(seed)  # noqa: S311 - test data, not secrets
        tail = [f"Object {n}" for n in range(max(0, labels - len(COMMON_LABELS)))]
        self.labels = list(COMMON_LABELS) + tail
        # Zipf-like: the n-th label is about 1/n as frequent as the first.
        self.label_weights = list(itertools.accumulate(1 / (n + 1) for n in range(len(self.labels))))
        self.words = list(SIGN_WORDS) + [f"w{n}" for n in range(max(0, words - len(SIGN_WORDS)))]
        self.word_weights = list(itertools.accumulate(1 / (n + 1) for n in range(len(self.words))))
        self.days = days
        # Review states come from a stream of their own, so the rest of each document is what it was before.
        self.reviews = random.Random(seed + 1)  # noqa: S311 - test data

    def documents(self, count: int) -> Iterator[tuple[dict[str, Any], VideoResults | None]]:
        for n in range(count):
            yield self.document(n)

    def document(self, n: int) -> tuple[dict[str, Any], VideoResults | None]:
        r = self.random
        kind = "video" if r.random() < 0.14 else "image"
        folder = f"{2026}/{r.randrange(1, 13):02d}/{r.choice(('phone', 'camera', 'shared', 'shop'))}"
        name = f"{folder}/{'clip' if kind == 'video' else 'photo'} {n}.{'mp4' if kind == 'video' else 'jpg'}"
        started = START + timedelta(seconds=r.randrange(self.days * 86400))
        created = started + timedelta(seconds=r.uniform(1, 300))
        asset_id = hashlib.sha256(f"{BUCKET}/{name}#{n}".encode()).hexdigest()
        document: dict[str, Any] = {
            "schemaVersion": "1.0",
            "assetId": asset_id,
            "status": "SUCCEEDED",
            "reason": None,
            "message": None,
            "object": {
                "bucket": BUCKET,
                "key": name,
                "versionId": f"v{n}",
                "etag": None,
                "size": r.randrange(10_000, 8_000_000),
                "mediaType": kind,
                "format": r.choice(VIDEO_FORMATS if kind == "video" else IMAGE_FORMATS),
                "width": 4032,
                "height": 3024,
            },
            "execution": {"name": f"run-{n}", "startedAt": started.isoformat()},
            "createdAt": created.isoformat(timespec="milliseconds"),
            "settings": {"features": ["labels", "moderation", "text", "faces", "segments"], "minConfidence": 70,
                         "maxLabels": 25, "moderationReviewThreshold": 80.0},
            "features": {},
            "moderationReview": {"needed": False, "threshold": 80.0, "labels": []},
        }  # fmt: skip
        if r.random() < 0.02:  # a rejected upload: nothing analysed
            document.update(status="REJECTED", reason=r.choice(REASONS), message="refused")
            document["object"].update(mediaType=r.choice(("other", kind)), format="UNKNOWN")
            return document, None
        if r.random() < 0.6:
            document["metadata"] = self._metadata(started)
        if kind == "video":
            duration = r.randrange(3_000, 600_000)
            document["object"]["video"] = {"codec": "H.264", "durationMillis": duration}
            video: dict[str, list[dict[str, Any]]] | None = self._video(document, duration)
        else:
            self._image(document)
            video = None
        features = document["features"]
        if r.random() < 0.03:  # a feature that failed: the document is PARTIAL
            failed = r.choice(sorted(features))
            features[failed] = {"status": "FAILED", "error": "Rekognition.ThrottlingException", "cause": "throttled"}
            if video:
                video.pop(failed, None)
            document["status"] = "PARTIAL"
        flagged = [x["Name"] for x in features.get("moderation", {}).get("labels", []) if x["Confidence"] >= 80]
        document["moderationReview"].update(needed=bool(flagged), labels=flagged)
        if flagged:  # most flagged uploads have been decided; some wait
            state = self.reviews.choices(REVIEW_STATES, weights=(3, 5, 2))[0]
            with_review(document, state, created + timedelta(hours=self.reviews.uniform(0.1, 72)))
        return document, video

    # ------------------------------------------------------------------ parts
    def _metadata(self, started: datetime) -> dict[str, Any]:
        r = self.random
        make, model = r.choice(CAMERAS)
        taken = (started - timedelta(seconds=r.randrange(0, 30 * 86400))).replace(tzinfo=None)
        metadata: dict[str, Any] = {"takenAt": taken.isoformat(timespec="seconds"), "camera": {"make": make}}
        metadata["camera"]["model"] = model
        if r.random() < 0.5:
            metadata["gps"] = {"lat": round(r.uniform(35, 60), 6), "lon": round(r.uniform(-10, 30), 6)}
        return metadata

    def _label_names(self, count: int) -> list[str]:
        return list(dict.fromkeys(self.random.choices(self.labels, cum_weights=self.label_weights, k=count)))

    def _line(self) -> str:
        words = self.random.choices(self.words, cum_weights=self.word_weights, k=self.random.randint(1, 5))
        return " ".join(w.upper() if self.random.random() < 0.3 else w.capitalize() for w in words)

    def _confidence(self) -> float:
        return round(self.random.uniform(70, 99.9), 3)

    def _image(self, document: dict[str, Any]) -> None:
        r = self.random
        labels = [{"Name": n, "Confidence": self._confidence()} for n in self._label_names(r.randint(3, 14))]
        lines = [self._line() for _ in range(r.choice((0, 0, 0, 0, 1, 1, 2, 3)))]
        detections = []
        for i, line in enumerate(lines):
            detections.append({"DetectedText": line, "Type": "LINE", "Id": i, "Confidence": self._confidence()})
        box = {"Width": 0.1, "Height": 0.1, "Left": 0.4, "Top": 0.4}
        faces = [{"BoundingBox": box, "Confidence": 99.0} for _ in range(r.choice((0, 0, 0, 1, 1, 2, 3, 5)))]
        flags = [
            {"Name": name, "ParentName": parent, "Confidence": self._confidence()}
            for name, parent in r.sample(MODERATION, k=r.choice((0,) * 30 + (1,)))
        ]
        document["features"] = {
            "labels": {"status": "SUCCEEDED", "labels": labels},
            "moderation": {"status": "SUCCEEDED", "labels": flags},
            "text": {"status": "SUCCEEDED", "detections": detections},
            "faces": {"status": "SUCCEEDED", "faces": faces},
            "segments": {"status": "SKIPPED"},
        }

    def _video(self, document: dict[str, Any], duration: int) -> dict[str, list[dict[str, Any]]]:
        r = self.random
        shots: list[dict[str, Any]] = []
        start = 0
        while start < duration:
            end = min(duration, start + r.randrange(1_000, 20_000))
            shots.append({"Type": "SHOT", "StartTimestampMillis": start, "EndTimestampMillis": end,
                          "StartTimecodeSMPTE": _smpte(start), "EndTimecodeSMPTE": _smpte(end),
                          "ShotSegment": {"Index": len(shots)}})  # fmt: skip
            start = end

        def moments() -> list[int]:
            return sorted(r.sample(range(0, duration, 1000), k=min(r.randint(1, 8), len(range(0, duration, 1000)))))

        labels = [
            {"Timestamp": ms, "Label": {"Name": name, "Confidence": self._confidence()}}
            for name in self._label_names(r.randint(4, 16))
            for ms in moments()
        ]
        text = [
            {"Timestamp": ms, "TextDetection": {"DetectedText": line, "Type": "LINE", "Confidence": self._confidence()}}
            for line in (self._line() for _ in range(r.choice((0, 0, 1, 2))))
            for ms in moments()
        ]
        faces = [{"Timestamp": ms, "Face": {"Confidence": 99.0}} for ms in moments() for _ in range(r.randint(0, 3))]
        flags = [
            {"Timestamp": ms, "ModerationLabel": {"Name": name, "ParentName": parent, "Confidence": self._confidence()}}
            for name, parent in r.sample(MODERATION, k=r.choice((0,) * 30 + (1,)))
            for ms in moments()
        ]
        items = {"labels": labels, "moderation": flags, "text": text, "faces": faces, "segments": shots}
        document["features"] = {name: self._summary(document, name, found) for name, found in items.items()}
        return items

    def _summary(self, document: dict[str, Any], feature: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """The bounded summary video_results writes into the document (job_results.py's, in short)."""
        location = f"s3://rekflow-local-resultsbucket/video-results/{document['assetId']}/{feature}.json"
        summary: dict[str, Any] = {"status": "SUCCEEDED", "jobId": "job", "resultsLocation": location,
                                   "count": len(items)}  # fmt: skip
        if feature in ("labels", "moderation"):
            key = "Label" if feature == "labels" else "ModerationLabel"
            best: dict[str, dict[str, Any]] = {}
            for item in items:
                found = item[key]
                entry = best.setdefault(found["Name"], {**found, "FirstSeenMillis": item["Timestamp"]})
                entry["Confidence"] = max(entry["Confidence"], found["Confidence"])
            summary["labels"] = sorted(best.values(), key=lambda e: -e["Confidence"])[:25]
        elif feature == "text":
            summary["lines"] = list(dict.fromkeys(i["TextDetection"]["DetectedText"] for i in items))[:25]
        elif feature == "faces":
            frames = sorted({i["Timestamp"] for i in items})
            summary.update(framesWithFaces=len(frames), firstSeenMillis=frames[0] if frames else None)
        else:
            summary.update(shotCount=len(items), technicalCueCount=0, technicalCues=[], shots=[
                {"Index": s["ShotSegment"]["Index"], "Start": s["StartTimecodeSMPTE"], "End": s["EndTimecodeSMPTE"],
                 "StartMillis": s["StartTimestampMillis"], "EndMillis": s["EndTimestampMillis"]} for s in items[:25]
            ])  # fmt: skip
        return summary


def with_review(document: dict[str, Any], state: str | None, decided: datetime) -> dict[str, Any]:
    """The document in a moderation review state (query.REVIEW_STATES, or None: none needed), as the review
    workflow leaves it: moderationReview.needed, and once decided the review section RecordReview writes."""
    document["moderationReview"]["needed"] = state is not None
    document.pop("review", None)
    if state in ("approved", "rejected"):
        document["review"] = {
            "decision": state.upper(),
            "reviewer": "arn:aws:iam::123456789012:user/editor",
            "decidedAt": decided.isoformat(timespec="milliseconds"),
            "labels": list(document["moderationReview"]["labels"]),
            "timedOut": False,
            "execution": f"arn:aws:states:us-east-1:123456789012:execution:review:{document['assetId'][:16]}",
        }
    return document


def _smpte(millis: int) -> str:
    seconds = millis // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:00"
